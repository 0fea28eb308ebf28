"""Team workload: per-agent figures, heavy days and runs of consecutive heavy days, who may see which team."""

from __future__ import annotations

from datetime import date

import polars as pl
import pytest
from sqlalchemy import Engine, insert, select

from cx import workload
from cx.access import Principal, Role
from cx.db import transaction
from cx.errors import PermissionDenied
from cx.filters import Filters
from cx.models import AuditEntry, DailyFact

LEAD = Principal(1, "l", "l", Role.TEAM_LEAD, team="hotline_a")
ADMIN = Principal(2, "a", "a", Role.ADMIN)


def _fact(day: int, agent: str, handled: int, team: str = "hotline_a", after: int = 0) -> dict:
    return {
        "day": date(2026, 3, day),
        "channel": "phone",
        "team": team,
        "agent_id": agent,
        "interactions": handled,
        "inbound_contacts": handled,
        "handled": handled,
        "handle_s_sum": 300.0 * handled,
        "after_hours_contacts": after,
    }


def test_workload_heavy_days_and_streaks(engine: Engine) -> None:
    rows = [_fact(d, "a1", 10) for d in range(1, 32)]  # the team's usual day: 10 contacts (the median)
    rows += [_fact(d, "a2", 20 if d not in (4, 8) else 10, after=5) for d in range(1, 10)]  # heavy 1-3, 5-7, 9
    rows += [_fact(d, "a3", 30) for d in (1, 2, 5, 6, 7, 8)]  # heavy, but with a gap: runs of 2 and 4
    rows += [_fact(1, "b1", 99, team="hotline_b")]
    with transaction(engine) as session:
        session.execute(insert(DailyFact), rows)
        days = workload.agent_days(session, LEAD, "hotline_a", Filters(date(2026, 3, 1), date(2026, 3, 31)))
        assert workload.teams(session, ADMIN) == ["hotline_a", "hotline_b"]
        assert workload.teams(session, LEAD) == ["hotline_a"]
    result = workload.workload(days)
    by_agent = {r["agent_id"]: r for r in result.iter_rows(named=True)}
    assert set(by_agent) == {"a1", "a2", "a3"}
    assert (by_agent["a1"]["heavy_days"], by_agent["a1"]["longest_heavy_streak"]) == (0, 0)
    assert (by_agent["a2"]["heavy_days"], by_agent["a2"]["longest_heavy_streak"]) == (7, 3)
    assert (by_agent["a3"]["heavy_days"], by_agent["a3"]["longest_heavy_streak"]) == (6, 4)
    assert by_agent["a2"]["aht"] == 300.0
    assert by_agent["a2"]["after_hours_share"] == pytest.approx(100 * 45 / 160)
    assert by_agent["a1"]["contacts_per_day"] == 10.0
    assert result["agent_id"].to_list()[0] == "a3"  # the longest heavy run first
    agents, days_iso, matrix = workload.contacts_matrix(days)
    assert agents == ["a1", "a2", "a3"] and days_iso[0] == "2026-03-01" and matrix[2][2] is None


def test_empty_workload_has_the_columns() -> None:
    empty = workload.workload(pl.DataFrame(schema={"agent_id": pl.String, "day": pl.Date, "handled": pl.Float64}))
    assert empty.height == 0 and "longest_heavy_streak" in empty.columns


def test_who_sees_which_team() -> None:
    lead = Principal(1, "l", "l", Role.TEAM_LEAD, team="hotline_a")
    assert workload.team_for(lead, None) == "hotline_a"
    with pytest.raises(PermissionDenied):
        workload.team_for(lead, "hotline_b")
    assert workload.team_for(Principal(2, "a", "a", Role.ADMIN), "hotline_b") == "hotline_b"
    with pytest.raises(PermissionDenied):
        workload.team_for(Principal(3, "h", "h", Role.DEPARTMENT_HEAD, "service"), "hotline_a")


def test_team_lead_asking_for_another_team_is_refused_and_audited(engine: Engine) -> None:
    with transaction(engine) as session:
        session.execute(insert(DailyFact), [_fact(1, "a1", 10), _fact(1, "b1", 99, team="hotline_b")])
    march = Filters(date(2026, 3, 1), date(2026, 3, 31))
    head = Principal(3, "h", "h", Role.DEPARTMENT_HEAD, "service")
    agent = Principal(4, "g", "g", Role.AGENT, team="hotline_a")
    with transaction(engine) as session:
        with pytest.raises(PermissionDenied):
            workload.agent_days(session, LEAD, "hotline_b", march)
        for who in (head, agent):  # no team.view at all
            with pytest.raises(PermissionDenied):
                workload.agent_days(session, who, "hotline_a", march)
            with pytest.raises(PermissionDenied):
                workload.teams(session, who)
        assert workload.agent_days(session, ADMIN, "hotline_b", march)["agent_id"].to_list() == ["b1"]
    with transaction(engine) as session:
        denied = session.execute(
            select(AuditEntry.action, AuditEntry.object_id)
            .where(AuditEntry.outcome == "denied")
            .order_by(AuditEntry.id)
        ).all()
    assert [tuple(d) for d in denied] == [("team.view", "hotline_b")] + [
        ("team.view", "hotline_a"),
        ("team.view", None),
    ] * 2
