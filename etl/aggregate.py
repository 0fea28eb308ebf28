"""Daily facts: interactions summed per day x channel x stage x touchpoint x department x team x agent x segment.

``daily_facts`` is a pure step (``LazyFrame -> LazyFrame``, vectorised polars) producing exactly the columns of
``cx.models.DailyFact`` (without ``id``); every KPI in ``cx.kpi`` is a function of those sums. ``write_daily_facts``
is the I/O edge that replaces the stored rows.

What each measure counts (one interaction = one row of the canonical schema, cx.schema):

- ``interactions``: every row. ``customers``: distinct ``profile_id`` in the row (NOT additive across rows).
- ``inbound_contacts``: customer-initiated contacts: ``direction`` is not "outbound", ``kind`` is not visit /
  purchase / survey, and the channel is not "survey". ``digital_contacts``: those on ``cx.kpi.DIGITAL_CHANNELS``.
  ``after_hours_contacts``: those outside ``business_hours`` (local time) or on a Saturday/Sunday.
- ``complaints``: customer-initiated contacts (as above) of kind "complaint".
- ``nps_*``: answered 0–10 scores; promoters 9–10, detractors 0–6. ``csat_*``: answered 1–5; satisfied 4–5.
  ``ces_*``: answered 1–7; agree 5–7. Blanks are not responses.
- ``first_responses`` / ``first_response_s_sum``: rows with a first-response time.
- ``handled`` / ``handle_s_sum``: rows with a handle time (talk + hold + wrap-up) that were not abandoned.
- queue: ``offered`` = not outbound and a queue wait or an abandoned flag is recorded; ``abandoned`` = offered and
  abandoned; ``abandoned_short`` = abandoned after waiting less than ``abandon_short_s``; ``answered`` = offered and
  not abandoned; ``answered_waits`` / ``answered_wait_s_sum`` = answered with a known wait;
  ``answered_within_sl`` = answered within ``service_level_s``.
- ``repeat_contacts``: a contact (inbound, not abandoned) that follows an earlier such contact within
  ``repeat_window_days`` on the same ``case_id``, or from the same customer (``profile_id``) on the same touchpoint
  (the "reason", used for contacts without ``case_id`` and also across cases).
- ``fcr_cases`` / ``fcr_resolved``: one per case, on its first contact's day and dimensions. A case is a
  ``case_id``; contacts without one form "reason cases": same customer + same touchpoint, a new one starting after
  a gap of more than ``repeat_window_days`` (without customer or touchpoint, a contact is its own case). Only cases
  whose first contact has a known ``resolved`` flag count. Resolved on first contact = that first contact was
  resolved AND no further contact followed within ``repeat_window_days`` on the same case or reason.
- ``cases_opened`` / ``cases_resolved`` (backlog), ``sla_measured`` / ``sla_breached``: explicit cases (``case_id``)
  only, all counted with the dimensions of the case's first row. Opened on the first row's day; resolved on the day
  of the last row with a known ``resolved`` flag when that flag is true. SLA: resolved within ``case_sla_hours`` of
  opening; judged once resolved or once the deadline passed by ``as_of``; breached when resolved late or still open
  after the deadline (counted on the opening day).
- ``customers_gained`` / ``customers_lost`` (retention): a customer is "current" from a contact until
  ``active_window_days`` days after their latest contact (outbound rows do not count). Gained on the first day of
  each such spell (with that row's dimensions); lost on the day the spell runs out, if that day is on or before
  ``as_of`` (with the spell's first row's dimensions, so per-dimension stocks never go negative).

Department of a row: the owner department of the interaction's touchpoint (``touchpoint_departments``, built from
the journey map's ``owner_department``, e.g. cx/data/default_journey.yaml); '' when the touchpoint is unknown.
Segment: the interaction frame's optional ``segment`` column (the caller joins ``profiles.segment`` on
``profile_id``); '' when absent, so segment filters work on tiles.

Incremental callers: to refresh the days from ``D`` on, pass every interaction with local day >= ``D −
lookback_days(...)`` (see :func:`lookback_days`; it covers the repeat window, the case SLA and the retention window)
and keep only the result rows with ``day >= D`` (``write_daily_facts(..., since=D)`` does that). Totals are exact;
the dimensions of a case or spell that began before the lookback are those of its first row inside the lookback,
so a full rebuild (pass everything, ``since=None``) now and then makes per-dimension history exact again.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import date, datetime
from typing import Final

import polars as pl
from sqlalchemy import Connection, delete, insert

from cx.kpi import DIGITAL_CHANNELS
from cx.models import DailyFact

DIMENSIONS: Final = ("channel", "stage", "touchpoint", "department", "team", "agent_id", "segment")
KEY: Final = ("day", *DIMENSIONS)
_TABLE = DailyFact.__table__
#: Every column of daily_facts except the id, in table order: what daily_facts() returns.
COLUMNS: Final = tuple(c.name for c in _TABLE.columns if c.name != "id")
MEASURES: Final = tuple(c for c in COLUMNS if c not in KEY)
FLOAT_MEASURES: Final = tuple(c.name for c in _TABLE.columns if c.name in MEASURES and c.type.python_type is float)

NON_CONTACT_KINDS: Final = ("visit", "purchase", "survey")
REPEAT_WINDOW_DAYS: Final = 7
ABANDON_SHORT_S: Final = 5.0
SERVICE_LEVEL_S: Final = 20.0
CASE_SLA_HOURS: Final = 72.0
ACTIVE_WINDOW_DAYS: Final = 180
BUSINESS_HOURS: Final = (8, 20)


def lookback_days(
    repeat_window_days: int = REPEAT_WINDOW_DAYS,
    case_sla_hours: float = CASE_SLA_HOURS,
    active_window_days: int = ACTIVE_WINDOW_DAYS,
) -> int:
    """Days of history an incremental run must pass before the first day it refreshes."""
    return max(repeat_window_days, math.ceil(case_sla_hours / 24), active_window_days) + 1


def _optional(schema: pl.Schema, name: str, dtype: pl.DataType | type[pl.DataType]) -> pl.Expr:
    return pl.col(name).cast(dtype) if name in schema else pl.lit(None, dtype=dtype).alias(name)


def _prepare(
    interactions: pl.LazyFrame,
    timezone: str,
    touchpoint_departments: Mapping[str, str],
    business_hours: tuple[int, int],
) -> pl.LazyFrame:
    """Canonical rows -> local day, dimension columns ('' for missing), typed optional fields, a stable order."""
    schema = interactions.collect_schema()
    order_id = "interaction_id" if "interaction_id" in schema else "record_id"
    utc = pl.col("occurred_at").dt.replace_time_zone("UTC") if schema["occurred_at"].time_zone is None else None
    occurred = (utc if utc is not None else pl.col("occurred_at").dt.convert_time_zone("UTC")).alias("occurred_at")
    text_fields = ("channel", "stage", "touchpoint", "team", "agent_id", "direction", "kind", "case_id", "profile_id")
    frame = interactions.select(
        occurred,
        pl.col(order_id).cast(pl.String).alias("_order_id"),
        *(_optional(schema, name, pl.String) for name in (*text_fields, "segment")),
        *(_optional(schema, name, pl.Float64) for name in ("queue_wait_s", "first_response_s", "handle_s")),
        *(_optional(schema, name, pl.Boolean) for name in ("abandoned", "resolved")),
        *(_optional(schema, name, pl.Int64) for name in ("nps", "csat", "ces")),
    )
    # the local wall-clock time, converted once (time-zone conversions are the costly part of this step)
    local = pl.col("occurred_at").dt.convert_time_zone(timezone).dt.replace_time_zone(None).alias("_local")
    hour = pl.col("_local").dt.hour()
    start_hour, end_hour = business_hours
    return (
        frame.with_columns(local)
        .with_columns(
            pl.col("_local").dt.date().alias("day"),
            ((hour < start_hour) | (hour >= end_hour) | (pl.col("_local").dt.weekday() >= 6)).alias("_after_hours"),
            pl.col("touchpoint")
            .replace_strict(dict(touchpoint_departments), default="", return_dtype=pl.String)
            .fill_null("")
            .alias("department"),
        )
        .with_columns(pl.col(d).fill_null("") for d in DIMENSIONS if d != "department")
        .drop("_local")
        .sort("occurred_at", "_order_id")
    )


def _neighbours(frame: pl.LazyFrame, key: str, prev: str, nxt: str) -> pl.LazyFrame:
    """``prev`` / ``nxt``: the time of the previous / next row with the same non-null ``key`` (null otherwise).

    ``frame`` is in time order; the rows with a key are stably sorted by it (time order within each key kept),
    so each neighbour is the adjacent row — one sort instead of a window function over many small groups.
    """
    same_prev = pl.col(key) == pl.col(key).shift(1)
    same_next = pl.col(key) == pl.col(key).shift(-1)
    keyed = (
        frame.filter(pl.col(key).is_not_null())
        .select("_row", key, "occurred_at")
        .sort(key, maintain_order=True)
        .select(
            "_row",
            pl.when(same_prev).then(pl.col("occurred_at").shift(1)).alias(prev),
            pl.when(same_next).then(pl.col("occurred_at").shift(-1)).alias(nxt),
        )
    )
    return frame.join(keyed, on="_row", how="left", maintain_order="left")


def _row_flags(
    frame: pl.LazyFrame, *, repeat_window_days: int, abandon_short_s: float, service_level_s: float
) -> pl.LazyFrame:
    """Per-row 0/1 flags and sums for every row-level measure, plus the repeat / first-contact-resolution flags."""
    window = pl.duration(days=repeat_window_days)
    outbound = pl.col("direction").fill_null("") == "outbound"
    contact = ~outbound & ~pl.col("kind").fill_null("").is_in(NON_CONTACT_KINDS) & (pl.col("channel") != "survey")
    abandoned = pl.col("abandoned").fill_null(False)
    offered = ~outbound & (pl.col("queue_wait_s").is_not_null() | pl.col("abandoned").is_not_null())
    answered = offered & ~abandoned
    wait = pl.col("queue_wait_s")
    has_case = pl.col("case_id").is_not_null() & (pl.col("case_id") != "")
    has_reason = pl.col("profile_id").is_not_null() & (pl.col("touchpoint") != "")
    flagged = frame.with_columns(
        pl.col("profile_id").cast(pl.Categorical).to_physical().alias("_pid"),
        contact.alias("_contact"),
        (contact & ~abandoned).alias("_eligible"),
        offered.alias("_offered"),
        answered.alias("_answered"),
        abandoned.alias("_abandoned"),
        has_case.alias("_has_case"),
        has_reason.alias("_has_reason"),
    )
    # Neighbouring eligible contacts on the same case and on the same reason (customer + touchpoint): the keys
    # are set on eligible rows only.
    # (integer codes of the strings: sorting by them is much cheaper)
    case_key = pl.when(pl.col("_has_case") & pl.col("_eligible")).then(
        pl.col("case_id").cast(pl.Categorical).to_physical()
    )
    reason_key = pl.when(pl.col("_has_reason") & pl.col("_eligible")).then(
        pl.col("_pid").cast(pl.UInt64) * (1 << 32) + pl.col("touchpoint").cast(pl.Categorical).to_physical()
    )
    flagged = (
        flagged.with_columns(case_key.alias("_case_key"), reason_key.alias("_reason_key"))
        .with_row_index("_row")
        .cache()
    )
    flagged = _neighbours(flagged, "_case_key", "_prev_case_t", "_next_case_t").cache()
    flagged = _neighbours(flagged, "_reason_key", "_prev_reason_t", "_next_reason_t").drop("_row")
    t = pl.col("occurred_at")
    repeat_case = pl.col("_case_key").is_not_null() & ((t - pl.col("_prev_case_t")) <= window).fill_null(False)
    repeat_reason = pl.col("_reason_key").is_not_null() & ((t - pl.col("_prev_reason_t")) <= window).fill_null(False)
    case_first = pl.col("_case_key").is_not_null() & pl.col("_prev_case_t").is_null()
    reason_first = (
        pl.col("_eligible") & ~pl.col("_has_case") & ~repeat_reason
    )  # covers contacts without customer or touchpoint: each is its own case
    followed = ((pl.col("_next_case_t") - t) <= window).fill_null(False) | (
        (pl.col("_next_reason_t") - t) <= window
    ).fill_null(False)
    fcr_case = (case_first | reason_first) & pl.col("resolved").is_not_null()

    def n(flag: pl.Expr) -> pl.Expr:
        return flag.cast(pl.Int64)

    return flagged.with_columns(
        pl.lit(1, pl.Int64).alias("interactions"),
        n(pl.col("_contact")).alias("inbound_contacts"),
        n(pl.col("_contact") & pl.col("channel").is_in(DIGITAL_CHANNELS)).alias("digital_contacts"),
        n(pl.col("_contact") & pl.col("_after_hours")).alias("after_hours_contacts"),
        n(pl.col("_contact") & (pl.col("kind") == "complaint")).fill_null(0).alias("complaints"),
        n(pl.col("_eligible") & (repeat_case | repeat_reason)).alias("repeat_contacts"),
        n(pl.col("nps").is_not_null()).alias("nps_responses"),
        n(pl.col("nps") >= 9).fill_null(0).alias("nps_promoters"),
        n(pl.col("nps") <= 6).fill_null(0).alias("nps_detractors"),
        n(pl.col("csat").is_not_null()).alias("csat_responses"),
        n(pl.col("csat") >= 4).fill_null(0).alias("csat_satisfied"),
        pl.col("csat").fill_null(0).alias("csat_sum"),
        n(pl.col("ces").is_not_null()).alias("ces_responses"),
        n(pl.col("ces") >= 5).fill_null(0).alias("ces_agree"),
        pl.col("ces").fill_null(0).alias("ces_sum"),
        n(fcr_case).alias("fcr_cases"),
        n(fcr_case & pl.col("resolved").fill_null(False) & ~followed).alias("fcr_resolved"),
        n(pl.col("first_response_s").is_not_null()).alias("first_responses"),
        pl.col("first_response_s").fill_null(0.0).alias("first_response_s_sum"),
        n(pl.col("handle_s").is_not_null() & ~pl.col("_abandoned")).alias("handled"),
        pl.when(~pl.col("_abandoned")).then(pl.col("handle_s")).fill_null(0.0).alias("handle_s_sum"),
        n(pl.col("_offered")).alias("offered"),
        n(pl.col("_answered")).alias("answered"),
        n(pl.col("_answered") & wait.is_not_null()).alias("answered_waits"),
        pl.when(pl.col("_answered")).then(wait).fill_null(0.0).alias("answered_wait_s_sum"),
        n(pl.col("_answered") & (wait <= service_level_s).fill_null(False)).alias("answered_within_sl"),
        n(pl.col("_offered") & pl.col("_abandoned")).alias("abandoned"),
        n(pl.col("_offered") & pl.col("_abandoned") & (wait < abandon_short_s).fill_null(False)).alias(
            "abandoned_short"
        ),
    )


def _case_rows(frame: pl.LazyFrame, *, case_sla_hours: float, timezone: str) -> pl.LazyFrame:
    """Backlog and SLA counts of explicit cases (case_id), keyed by the opening row's dimensions."""
    has_resolution = pl.col("resolved").is_not_null()
    cases = (
        frame.filter(pl.col("_has_case"))
        .group_by("case_id")
        .agg(
            pl.col("occurred_at").first().alias("opened_at"),
            *(pl.col(d).first() for d in (*KEY,)),
            pl.col("resolved").filter(has_resolution).last().alias("_last_resolved"),
            pl.col("occurred_at").filter(has_resolution).last().alias("_last_resolution_at"),
            pl.col("_as_of").first(),
        )
    )
    resolved = pl.col("_last_resolved").fill_null(False)
    deadline = pl.col("opened_at") + pl.duration(seconds=case_sla_hours * 3600)
    judged = resolved | (pl.col("_as_of") >= deadline)
    breached = (resolved & (pl.col("_last_resolution_at") > deadline)) | (~resolved & (pl.col("_as_of") >= deadline))
    opened_rows = cases.select(
        *KEY,
        pl.lit(1, pl.Int64).alias("cases_opened"),
        judged.cast(pl.Int64).alias("sla_measured"),
        (judged & breached).cast(pl.Int64).alias("sla_breached"),
    )
    resolved_rows = cases.filter(resolved).select(
        pl.col("_last_resolution_at").dt.convert_time_zone(timezone).dt.date().alias("day"),
        *DIMENSIONS,
        pl.lit(1, pl.Int64).alias("cases_resolved"),
    )
    return pl.concat([opened_rows, resolved_rows], how="diagonal")


def _customer_rows(frame: pl.LazyFrame, *, active_window_days: int, timezone: str) -> pl.LazyFrame:
    """Customers gained (start of an active spell) and lost (spell ran out by ``as_of``), keyed by spell start."""
    active = frame.filter(pl.col("profile_id").is_not_null() & (pl.col("direction").fill_null("") != "outbound"))
    # rows of each customer in time order (stable sort of the time-ordered frame); a spell starts at a customer's
    # first row and after every gap of active_window_days or more
    by_customer = active.select("_pid", *KEY, "_as_of").sort("_pid", maintain_order=True)
    first_of_customer = (pl.col("_pid") != pl.col("_pid").shift(1)).fill_null(True)
    gap = (pl.col("day") - pl.col("day").shift(1)).dt.total_days()
    new_spell = first_of_customer | (gap >= active_window_days)
    last_of_spell = new_spell.shift(-1).fill_null(True)
    flagged = by_customer.with_columns(new_spell.alias("_start"), last_of_spell.alias("_end"))
    # the i-th start row and the i-th end row belong to the same spell (both are in spell order)
    starts = flagged.filter(pl.col("_start")).select(*KEY, "_as_of")
    ends = flagged.filter(pl.col("_end")).select(pl.col("day").alias("_last_day"))
    grouped = pl.concat([starts, ends], how="horizontal").with_columns(
        pl.col("_as_of").first().dt.convert_time_zone(timezone).dt.date().alias("_as_of_day"),
        (pl.col("_last_day") + pl.duration(days=active_window_days)).alias("_lost_day"),
    )
    gained = grouped.select(*KEY, pl.lit(1, pl.Int64).alias("customers_gained"))
    lost = grouped.filter(pl.col("_lost_day") <= pl.col("_as_of_day")).select(
        pl.col("_lost_day").alias("day"), *DIMENSIONS, pl.lit(1, pl.Int64).alias("customers_lost")
    )
    return pl.concat([gained, lost], how="diagonal")


def daily_facts(
    interactions: pl.LazyFrame,
    *,
    timezone: str,
    touchpoint_departments: Mapping[str, str],
    repeat_window_days: int = REPEAT_WINDOW_DAYS,
    abandon_short_s: float = ABANDON_SHORT_S,
    service_level_s: float = SERVICE_LEVEL_S,
    case_sla_hours: float = CASE_SLA_HOURS,
    active_window_days: int = ACTIVE_WINDOW_DAYS,
    business_hours: tuple[int, int] = BUSINESS_HOURS,
    as_of: datetime | None = None,
) -> pl.LazyFrame:
    """Interactions (canonical columns + ``profile_id`` and optional ``segment``) -> daily_facts rows.

    ``timezone``: days are local dates there. ``touchpoint_departments``: touchpoint key -> owner department.
    ``repeat_window_days`` (7): repeat-contact and FCR window. ``abandon_short_s`` (5 s): abandons shorter than this
    are "short" (adjusted abandonment). ``service_level_s`` (20 s): service-level answer threshold.
    ``case_sla_hours`` (72 h): case resolution SLA. ``active_window_days`` (180): a customer stays current this long
    after their latest contact (retention). ``business_hours`` ((8, 20)): local [start, end) hours, Monday–Friday.
    ``as_of`` (default: the latest ``occurred_at`` given): the moment SLA deadlines and lapsed customers are judged.
    The module docstring defines every measure and what an incremental caller must pass.
    """
    if not 0 <= business_hours[0] < business_hours[1] <= 24:
        raise ValueError(f"business_hours {business_hours} must be (start, end) hours with 0 <= start < end <= 24")
    if as_of is None:
        as_of_expr = pl.col("occurred_at").max()
    elif as_of.tzinfo is None:
        as_of_expr = pl.lit(as_of).dt.replace_time_zone("UTC")
    else:
        as_of_expr = pl.lit(as_of).dt.convert_time_zone("UTC")
    prepared = _prepare(interactions, timezone, touchpoint_departments, business_hours)
    flags = _row_flags(
        prepared.with_columns(as_of_expr.alias("_as_of")),
        repeat_window_days=repeat_window_days,
        abandon_short_s=abandon_short_s,
        service_level_s=service_level_s,
    ).cache()  # three consumers below: computed once
    row_measures = [m for m in MEASURES if m in _ROW_MEASURES]
    per_row = flags.group_by(list(KEY)).agg(
        *(pl.col(m).sum() for m in row_measures),
        pl.col("profile_id").drop_nulls().n_unique().cast(pl.Int64).alias("customers"),
    )
    cases = _case_rows(flags, case_sla_hours=case_sla_hours, timezone=timezone)
    customers = _customer_rows(flags, active_window_days=active_window_days, timezone=timezone)
    combined = (
        pl.concat([per_row, cases, customers], how="diagonal")
        .group_by(list(KEY))
        .agg(pl.col(m).sum() for m in MEASURES)
    )
    return combined.select(
        pl.col("day").cast(pl.Date),
        *(pl.col(d).cast(pl.String) for d in DIMENSIONS),
        *(pl.col(m).fill_null(0).cast(pl.Float64 if m in FLOAT_MEASURES else pl.Int64) for m in MEASURES),
    ).sort(list(KEY))


#: Measures computed per row by _row_flags (the rest come from cases and customer spells, or are distinct counts).
_ROW_MEASURES: Final = frozenset(MEASURES) - {
    "customers",
    "cases_opened",
    "cases_resolved",
    "sla_measured",
    "sla_breached",
    "customers_gained",
    "customers_lost",
}


def write_daily_facts(connection: Connection, facts: pl.DataFrame, *, since: date | None = None) -> int:
    """Replace the stored daily facts (all of them, or the days >= ``since``) with ``facts``; returns rows written.

    Runs inside the caller's transaction: a failure leaves the old rows in place.
    """
    table = DailyFact.__table__
    if since is None:
        connection.execute(delete(table))
    else:
        facts = facts.filter(pl.col("day") >= since)
        connection.execute(delete(table).where(table.c.day >= since))
    rows = facts.select(COLUMNS).to_dicts()
    for offset in range(0, len(rows), 20_000):
        connection.execute(insert(table), rows[offset : offset + 20_000])
    return len(rows)
