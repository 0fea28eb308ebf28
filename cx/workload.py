"""A team's workload and burnout signals per agent, from the daily facts: contacts per day, AHT, after-hours share,
heavy days and the longest run of consecutive heavy days."""

from __future__ import annotations

from typing import Final

import polars as pl
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from cx import kpi
from cx.access import Principal, Role
from cx.authz import record_denied, require_audited
from cx.errors import PermissionDenied, ValidationError
from cx.filters import Filters
from cx.models import DailyFact

FACTS = DailyFact.__table__
#: A day is "heavy" for an agent when they handled more than this multiple of the team's median agent-day.
HEAVY_FACTOR: Final = 1.5


def team_for(principal: Principal, requested: str | None) -> str:
    """The team a principal may look at: a team lead's own; admins any team they name."""
    if principal.role == Role.TEAM_LEAD:
        if not principal.team:
            raise PermissionDenied("Your account has no team; ask an admin to set it.")
        if requested not in (None, "", principal.team):
            raise PermissionDenied("Team leads see their own team only.")
        return principal.team
    if principal.role == Role.ADMIN:
        if not requested:
            raise ValidationError("Choose a team.")
        return requested
    raise PermissionDenied(f"Your role ({principal.role.value}) may not see team workload.")


def authorize_team(session: Session, principal: Principal | None, team: str | None) -> str:
    """The team ``principal`` may see workload of (team.view; a team lead only their own team, admins any); a
    refusal is audited (``team.view``, ``denied``, object ``team:<name>``) and raised as PermissionDenied."""
    require_audited(session, principal, "team.view", object_type="team", object_id=team or None)
    assert principal is not None
    try:
        return team_for(principal, team)
    except PermissionDenied:
        record_denied(session, principal, "team.view", object_type="team", object_id=team or None)
        raise


def agent_days(session: Session, principal: Principal, team: str, filters: Filters) -> pl.DataFrame:
    """One row per agent and day with contacts, handled contacts, handle time and after-hours contacts, for a team
    ``principal`` may see (:func:`authorize_team`)."""
    team = authorize_team(session, principal, team)
    columns = ("interactions", "inbound_contacts", "handled", "handle_s_sum", "after_hours_contacts")
    query = (
        select(FACTS.c.agent_id, FACTS.c.day, *(func.sum(FACTS.c[c]).label(c) for c in columns))
        .where(
            FACTS.c.team == team,
            FACTS.c.agent_id != "",
            FACTS.c.day >= filters.start,
            FACTS.c.day <= filters.end,
            *([FACTS.c.channel.in_(filters.channels)] if filters.channels else []),
        )
        .group_by(FACTS.c.agent_id, FACTS.c.day)
    )
    rows = [tuple(r) for r in session.execute(query)]
    schema = {"agent_id": pl.String, "day": pl.Date} | {c: pl.Float64 for c in columns}
    return pl.DataFrame(rows, schema=schema, orient="row").sort("agent_id", "day")


def workload(days: pl.DataFrame, *, heavy_factor: float = HEAVY_FACTOR) -> pl.DataFrame:
    """Per agent: active days, contacts per day, AHT, after-hours share, heavy days and the longest heavy streak.

    ``days`` is :func:`agent_days`. A heavy day has more handled contacts than ``heavy_factor`` x the median
    agent-day of the whole team in the period.
    """
    if days.height == 0:
        return pl.DataFrame(
            schema={
                "agent_id": pl.String,
                "active_days": pl.Int64,
                "contacts": pl.Float64,
                "contacts_per_day": pl.Float64,
                "aht": pl.Float64,
                "after_hours_share": pl.Float64,
                "heavy_days": pl.Int64,
                "longest_heavy_streak": pl.Int64,
            }
        )
    threshold = heavy_factor * float(days["handled"].median() or 0.0)
    flagged = days.with_columns((pl.col("handled") > threshold).alias("heavy")).with_columns(
        (
            (pl.col("day") - pl.col("day").shift(1)).over("agent_id").dt.total_days().ne(1).fill_null(True)
            | ~pl.col("heavy").shift(1).over("agent_id").fill_null(False)
        )
        .cum_sum()
        .over("agent_id")
        .alias("_run")
    )
    streaks = (
        flagged.filter(pl.col("heavy"))
        .group_by("agent_id", "_run")
        .agg(pl.len().alias("length"))
        .group_by("agent_id")
        .agg(pl.col("length").max().alias("longest_heavy_streak"))
    )
    summary = flagged.group_by("agent_id").agg(
        pl.len().cast(pl.Int64).alias("active_days"),
        pl.col("interactions").sum().alias("contacts"),
        pl.col("handled").sum().alias("_handled"),
        pl.col("handle_s_sum").sum().alias("_handle_s"),
        pl.col("after_hours_contacts").sum().alias("_after"),
        pl.col("inbound_contacts").sum().alias("_inbound"),
        pl.col("heavy").sum().cast(pl.Int64).alias("heavy_days"),
    )
    return (
        summary.join(streaks, on="agent_id", how="left")
        .with_columns(
            (pl.col("contacts") / pl.col("active_days")).alias("contacts_per_day"),
            kpi.aht(pl.col("_handled"), pl.col("_handle_s")).alias("aht"),
            kpi.share(pl.col("_after"), pl.col("_inbound")).alias("after_hours_share"),
            pl.col("longest_heavy_streak").fill_null(0).cast(pl.Int64),
        )
        .select(
            "agent_id",
            "active_days",
            "contacts",
            "contacts_per_day",
            "aht",
            "after_hours_share",
            "heavy_days",
            "longest_heavy_streak",
        )
        .sort(["longest_heavy_streak", "contacts_per_day", "agent_id"], descending=[True, True, False])
    )


def teams(session: Session, principal: Principal) -> list[str]:
    """Teams present in the daily facts that ``principal`` may see (team.view): every team for admins, their own
    for a team lead (for the team selector)."""
    require_audited(session, principal, "team.view", object_type="team")
    present = session.scalars(select(FACTS.c.team).distinct().where(FACTS.c.team != "").order_by(FACTS.c.team))
    if principal.role == Role.ADMIN:
        return list(present)
    return [t for t in present if t == principal.team]


def contacts_matrix(days: pl.DataFrame) -> tuple[list[str], list[str], list[list[float | None]]]:
    """(agents, ISO days, contacts[agent][day]) for a heatmap; days without contacts are None."""
    if days.height == 0:
        return [], [], []
    pivot = days.pivot(on="day", index="agent_id", values="interactions", sort_columns=True).sort("agent_id")
    return pivot["agent_id"].to_list(), [str(c) for c in pivot.columns[1:]], pivot.drop("agent_id").rows()
