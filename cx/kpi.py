"""KPI formulas as pure functions over aggregated counts and sums (the one definition boards, alerts and benches use).

Every function takes counts/sums and works on plain numbers *or* polars expressions (the same arithmetic, with
"no denominator" giving ``None`` / null instead of a division by zero). ``KPIS`` registers each KPI with its unit,
direction, the ``daily_facts`` columns it needs and an ``expr()`` over the summed columns, so a board tile, an alert
condition and a benchmark all compute a number the same way::

    sums = facts.group_by("channel").agg(kpi.sum_exprs(["nps", "aht"]))
    sums.with_columns(KPIS["nps"].expr(), KPIS["aht"].expr())

Percentages are 0..100. NPS is a score from −100 to 100, never a percentage. Durations are seconds.

Cumulative KPIs (``backlog``, ``retention``) are stocks: they also need the same columns summed over *every day before
the period* (named ``prior_<column>``); :func:`summarise` computes both from the facts of all days up to the period end.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any, Final, Literal

import polars as pl

from cx.errors import ValidationError

Unit = Literal["score", "percent", "seconds", "count"]
Direction = Literal["higher", "lower"]
Number = int | float

PRIOR_PREFIX: Final = "prior_"
#: Channels counted as digital for the channel-mix share (everything but the hotline, stores and surveys).
DIGITAL_CHANNELS: Final = ("chat", "email", "social", "wechat", "app", "web", "sms")


# --------------------------------------------------------------------------------------------- arithmetic


def _any_expr(*values: object) -> bool:
    return any(isinstance(v, pl.Expr) for v in values)


def _as_expr(value: Number | pl.Expr) -> pl.Expr:
    return value if isinstance(value, pl.Expr) else pl.lit(value)


def ratio(numerator: Any, denominator: Any, scale: float = 1.0) -> Any:
    """``scale * numerator / denominator``; ``None`` (null for expressions) when the denominator is not positive."""
    if _any_expr(numerator, denominator):
        den = _as_expr(denominator).cast(pl.Float64)
        return pl.when(den > 0).then(_as_expr(numerator).cast(pl.Float64) * scale / den).otherwise(None)
    if denominator is None or numerator is None or denominator <= 0:
        return None
    return scale * float(numerator) / float(denominator)


# --------------------------------------------------------------------------------------------- survey scores


def nps(responses: Any, promoters: Any, detractors: Any) -> Any:
    """Net Promoter Score: % promoters (9–10) − % detractors (0–6) of the answered 0–10 question.

    Variant: blanks (no answer) are excluded from ``responses``; passives (7–8) count in the denominator only.
    A score from −100 to 100 (not a percentage); ``None`` without responses.
    """
    return ratio(promoters - detractors, responses, 100.0)


def csat(responses: Any, satisfied: Any) -> Any:
    """Customer satisfaction: share (%) of answers of 4 or 5 on the 1–5 scale ("top-two-box").

    Variant: top-two-box percentage, not the mean score; blanks excluded. ``None`` without responses.
    """
    return ratio(satisfied, responses, 100.0)


def ces_mean(responses: Any, score_sum: Any) -> Any:
    """Customer effort score, mean: average answer on the 7-point agreement scale ("the company made it easy").

    Variant: CES 2.0 (1 = strongly disagree … 7 = strongly agree), so higher is better; 1..7; blanks excluded.
    """
    return ratio(score_sum, responses)


def ces_agree(responses: Any, agree: Any) -> Any:
    """Customer effort score, agreement: share (%) of answers 5, 6 or 7 on the 7-point agreement scale."""
    return ratio(agree, responses, 100.0)


# --------------------------------------------------------------------------------------------- service operations


def fcr(cases: Any, resolved_first: Any) -> Any:
    """First-contact resolution: share (%) of cases resolved on their first contact.

    Variant: per case, not per contact. A case counts as resolved on first contact when its first contact was marked
    resolved AND no repeat contact followed within 7 days on the same case (same ``case_id``) or for the same reason
    (same customer and touchpoint). How cases and repeats are found: etl.aggregate.daily_facts.
    """
    return ratio(resolved_first, cases, 100.0)


def frt(first_responses: Any, first_response_s_sum: Any) -> Any:
    """First response time: mean seconds from the customer's message to the first agent reply.

    Variant: mean (not median) over contacts with a recorded first response; contacts never answered are excluded.
    """
    return ratio(first_response_s_sum, first_responses)


def aht(handled: Any, handle_s_sum: Any) -> Any:
    """Average handle time: mean seconds of talk + hold + after-contact work per handled contact.

    Variant: ``handle_s`` of the canonical record is the whole handle time (sources map talk, hold and wrap-up into
    it); contacts without a handle time are excluded from both sums, so missing times never count as 0 s.
    """
    return ratio(handle_s_sum, handled)


def asa(answered_waits: Any, answered_wait_s_sum: Any) -> Any:
    """Average speed of answer: mean queue wait (seconds) of answered contacts (abandoned ones excluded).

    Variant: answered contacts whose wait is unknown are excluded (they are not counted as 0 s).
    """
    return ratio(answered_wait_s_sum, answered_waits)


def abandonment_rate(offered: Any, abandoned: Any) -> Any:
    """Abandonment rate: abandoned ÷ offered queued contacts (%), every abandon counted (the plain variant)."""
    return ratio(abandoned, offered, 100.0)


def abandonment_rate_adjusted(offered: Any, abandoned: Any, abandoned_short: Any) -> Any:
    """Adjusted abandonment rate: (abandoned − short abandons) ÷ (offered − short abandons), in %.

    Variant: abandons that waited less than the short threshold (etl.aggregate, default 5 s) are taken out of
    both numerator and denominator, as most contact-centre platforms report it.
    """
    return ratio(abandoned - abandoned_short, offered - abandoned_short, 100.0)


def service_level(offered: Any, answered_within: Any) -> Any:
    """Service level: share (%) of offered queued contacts answered within the threshold (default 20 s).

    Variant: strict — every offered contact is in the denominator, abandons included (short ones too).
    """
    return ratio(answered_within, offered, 100.0)


def share(part: Any, whole: Any) -> Any:
    """``part`` as a percentage of ``whole``; ``None`` when ``whole`` is zero."""
    return ratio(part, whole, 100.0)


def digital_share(inbound_contacts: Any, digital_contacts: Any) -> Any:
    """Channel mix as one number: share (%) of customer-initiated contacts on digital channels (DIGITAL_CHANNELS).

    The full mix (share per channel) is :func:`channel_mix`, shown as the channel breakdown.
    """
    return ratio(digital_contacts, inbound_contacts, 100.0)


def channel_mix(counts: Mapping[str, Number]) -> dict[str, float]:
    """Share (%) of each channel in ``counts`` (channel -> contacts); empty when there are no contacts."""
    total = sum(counts.values())
    return {} if total <= 0 else {channel: 100.0 * count / total for channel, count in counts.items()}


def complaint_rate(inbound_contacts: Any, complaints: Any) -> Any:
    """Complaint rate: complaints ÷ customer-initiated contacts, in %.

    Variant: per contact (not per customer or per 1,000 orders); a complaint is a customer contact of kind
    "complaint", so the rate never exceeds 100 %.
    """
    return ratio(complaints, inbound_contacts, 100.0)


def repeat_contact_rate(inbound_contacts: Any, repeat_contacts: Any) -> Any:
    """Repeat-contact rate: contacts that repeat an earlier one within 7 days (same case, or same customer and
    touchpoint) ÷ customer-initiated contacts, in %."""
    return ratio(repeat_contacts, inbound_contacts, 100.0)


def contact_volume(inbound_contacts: Any) -> Any:
    """Contact volume: contacts customers started (not outbound, not a visit, order or survey answer)."""
    return inbound_contacts


def complaint_volume(complaints: Any) -> Any:
    """Complaint volume: customer contacts of kind "complaint"."""
    return complaints


def backlog(opened_before: Any, resolved_before: Any, opened: Any, resolved: Any) -> Any:
    """Backlog: cases still open at the end of the period = every case opened so far − every case resolved so far.

    A stock, not a flow: ``*_before`` are the sums over all days before the period. Counted on explicit cases
    (``case_id``); a case is resolved when its latest contact is marked resolved.
    """
    return opened_before - resolved_before + opened - resolved


def sla_breach_rate(measured: Any, breached: Any) -> Any:
    """SLA breach rate: cases that missed the resolution SLA ÷ cases whose SLA could be judged, in %.

    A case is judged once resolved or once its deadline passed (default 72 h after opening, etl.aggregate); it is
    breached when resolved late or still open after the deadline. Counted on the day the case was opened.
    """
    return ratio(breached, measured, 100.0)


def customer_retention(start_customers: Any, end_customers: Any, new_customers: Any) -> Any:
    """Customer retention rate ((E − N) / S) in %: E customers at the end, N new in the period, S at the start.

    Variant: a customer is "current" while they were in contact within the active window (etl.aggregate, default
    180 days); a returning lapsed customer counts as new again. ``None`` when there were no customers at the start.
    """
    return ratio(end_customers - new_customers, start_customers, 100.0)


def retention_from_flows(gained_before: Any, lost_before: Any, gained: Any, lost: Any) -> Any:
    """:func:`customer_retention` from the daily flows: S = gained − lost before the period, E = S + gained − lost."""
    start = gained_before - lost_before
    return customer_retention(start, start + gained - lost, gained)


# --------------------------------------------------------------------------------------------- the registry


@dataclass(frozen=True)
class KpiDefinition:
    """One KPI: how it is computed from summed daily facts, its unit and which direction is better."""

    key: str
    unit: Unit
    direction: Direction
    function: Callable[..., Any]
    #: Argument names of ``function``, in order: daily_facts columns, or ``prior_<column>`` for cumulative KPIs.
    arguments: tuple[str, ...]
    #: Inclusive range of possible values (None = unbounded), checked by the property tests.
    bounds: tuple[float | None, float | None] = (None, None)

    @property
    def columns(self) -> tuple[str, ...]:
        """The daily_facts columns this KPI needs (summed over the period, and before it when cumulative)."""
        return tuple(dict.fromkeys(a.removeprefix(PRIOR_PREFIX) for a in self.arguments))

    @property
    def cumulative(self) -> bool:
        """True for stocks (backlog, retention) that also need the sums of every day before the period."""
        return any(a.startswith(PRIOR_PREFIX) for a in self.arguments)

    @property
    def name_key(self) -> str:
        """i18n key of the KPI's display name (ui/i18n/catalog_kpi.py)."""
        return f"kpi.{self.key}"

    @property
    def help_key(self) -> str:
        """i18n key of the one-line definition shown next to the tile."""
        return f"kpi.{self.key}.help"

    @property
    def definition(self) -> str:
        """The formula's docstring: definition and chosen variant."""
        return (self.function.__doc__ or "").strip()

    def expr(self) -> pl.Expr:
        """The KPI as a polars expression over the summed columns (named as in ``arguments``), aliased ``key``."""
        return self.function(*(pl.col(a) for a in self.arguments)).cast(pl.Float64).alias(self.key)

    def value(self, sums: Mapping[str, Number | None]) -> float | None:
        """The KPI from a mapping of summed columns (missing sums count as 0)."""
        result = self.function(*((sums.get(a) or 0) for a in self.arguments))
        return None if result is None else float(result)


def _define(
    key: str,
    unit: Unit,
    direction: Direction,
    function: Callable[..., Any],
    arguments: Sequence[str],
    bounds: tuple[float | None, float | None] | None = None,
) -> KpiDefinition:
    default_bounds = {"percent": (0.0, 100.0), "count": (0.0, None), "seconds": (0.0, None)}.get(unit, (None, None))
    return KpiDefinition(key, unit, direction, function, tuple(arguments), bounds or default_bounds)


#: Every KPI of the product by key, in the order they are offered on boards.
KPIS: Final[dict[str, KpiDefinition]] = {
    d.key: d
    for d in (
        _define("nps", "score", "higher", nps, ("nps_responses", "nps_promoters", "nps_detractors"), (-100.0, 100.0)),
        _define("csat", "percent", "higher", csat, ("csat_responses", "csat_satisfied")),
        _define("ces", "score", "higher", ces_mean, ("ces_responses", "ces_sum"), (1.0, 7.0)),
        _define("ces_agree_rate", "percent", "higher", ces_agree, ("ces_responses", "ces_agree")),
        _define("fcr", "percent", "higher", fcr, ("fcr_cases", "fcr_resolved")),
        _define("frt", "seconds", "lower", frt, ("first_responses", "first_response_s_sum")),
        _define("aht", "seconds", "lower", aht, ("handled", "handle_s_sum")),
        _define("asa", "seconds", "lower", asa, ("answered_waits", "answered_wait_s_sum")),
        _define("abandonment", "percent", "lower", abandonment_rate, ("offered", "abandoned")),
        _define(
            "abandonment_adjusted",
            "percent",
            "lower",
            abandonment_rate_adjusted,
            ("offered", "abandoned", "abandoned_short"),
        ),
        _define("service_level", "percent", "higher", service_level, ("offered", "answered_within_sl")),
        _define("digital_share", "percent", "higher", digital_share, ("inbound_contacts", "digital_contacts")),
        _define("complaint_rate", "percent", "lower", complaint_rate, ("inbound_contacts", "complaints")),
        _define("repeat_rate", "percent", "lower", repeat_contact_rate, ("inbound_contacts", "repeat_contacts")),
        _define(
            "backlog",
            "count",
            "lower",
            backlog,
            ("prior_cases_opened", "prior_cases_resolved", "cases_opened", "cases_resolved"),
        ),
        _define("sla_breach_rate", "percent", "lower", sla_breach_rate, ("sla_measured", "sla_breached")),
        _define(
            "retention",
            "percent",
            "higher",
            retention_from_flows,
            ("prior_customers_gained", "prior_customers_lost", "customers_gained", "customers_lost"),
            (None, 100.0),
        ),
        _define("contact_volume", "count", "lower", contact_volume, ("inbound_contacts",)),
        _define("complaint_volume", "count", "lower", complaint_volume, ("complaints",)),
    )
}


def get(key: str) -> KpiDefinition:
    """The KPI ``key``; a clear error naming the known keys otherwise."""
    try:
        return KPIS[key]
    except KeyError:
        raise ValidationError(f"Unknown KPI {key!r}; use one of {', '.join(KPIS)}") from None


def needed_columns(keys: Iterable[str]) -> list[str]:
    """The daily_facts columns the KPIs ``keys`` need, each once, in registry order."""
    return list(dict.fromkeys(c for k in keys for c in get(k).columns))


def sum_exprs(keys: Iterable[str], *, day: str = "day", start: date | None = None) -> list[pl.Expr]:
    """Aggregations for ``group_by().agg()``: each needed column summed, plus ``prior_<column>`` sums for
    cumulative KPIs. With ``start`` the period sums cover ``day >= start`` and the prior sums ``day < start``
    (the frame must then already be limited to days up to the period's end); without it, all rows are the period.
    """
    keys = list(keys)
    exprs: list[pl.Expr] = []
    prior: dict[str, None] = {}
    for column in needed_columns(keys):
        source = pl.col(column) if start is None else pl.col(column).filter(pl.col(day) >= start)
        exprs.append(source.sum().alias(column))
    for key in keys:
        for argument in get(key).arguments:
            if argument.startswith(PRIOR_PREFIX):
                prior[argument] = None
    for argument in prior:
        column = argument.removeprefix(PRIOR_PREFIX)
        if start is None:
            exprs.append(pl.lit(0).alias(argument))
        else:
            exprs.append(pl.col(column).filter(pl.col(day) < start).sum().alias(argument))
    return exprs


def summarise(
    facts: pl.LazyFrame,
    keys: Iterable[str],
    start: date,
    end: date,
    by: Sequence[str] = (),
    *,
    day: str = "day",
) -> pl.LazyFrame:
    """One row per ``by`` group with the summed columns and the value of each KPI in ``keys`` for [start, end].

    ``facts`` are daily_facts rows; for cumulative KPIs they must include every day before ``start`` as well
    (rows after ``end`` are ignored). Groups with no row in the period still appear when they have prior rows.
    """
    keys = list(keys)
    limited = facts.filter(pl.col(day) <= end)
    if not any(get(k).cumulative for k in keys):
        limited = limited.filter(pl.col(day) >= start)
    aggregations = sum_exprs(keys, day=day, start=start)
    summed = limited.group_by(list(by)).agg(aggregations) if by else limited.select(aggregations)
    return summed.with_columns(get(k).expr() for k in keys)


def series(
    facts: pl.LazyFrame,
    keys: Iterable[str],
    start: date,
    end: date,
    *,
    every: str = "1d",
    by: Sequence[str] = (),
    day: str = "day",
) -> pl.LazyFrame:
    """Each KPI per time bucket (``every``: "1d", "1w", "1mo") over [start, end], one row per bucket (and group).

    Buckets start on ``day.dt.truncate(every)`` (weeks on Mondays). Cumulative KPIs carry the stock forward: each
    bucket's ``prior_*`` sums are everything before it, so ``facts`` must then include the days before ``start``.
    Only buckets with at least one fact row appear.
    """
    keys = list(keys)
    columns = needed_columns(keys)
    cumulative = [c for k in keys for c in get(k).columns if get(k).cumulative]
    cumulative = list(dict.fromkeys(cumulative))
    limited = facts.filter(pl.col(day) <= end)
    before = limited.filter(pl.col(day) < start)
    in_period = limited.filter(pl.col(day) >= start)
    bucket = pl.col(day).dt.truncate(every).alias("bucket")
    grouped = in_period.group_by([*by, bucket]).agg(pl.col(c).sum() for c in columns).sort([*by, "bucket"])
    if cumulative:
        opening = (
            before.group_by(list(by)).agg(pl.col(c).sum().alias(f"_open_{c}") for c in cumulative)
            if by
            else (before.select(pl.col(c).sum().alias(f"_open_{c}") for c in cumulative))
        )
        joined = grouped.join(opening, on=list(by), how="left") if by else grouped.join(opening, how="cross")
        grouped = joined.sort([*by, "bucket"])
        over = list(by) or None
        grouped = grouped.with_columns(
            (
                pl.col(f"_open_{c}").fill_null(0)
                + (pl.col(c).cum_sum().over(over) if over else pl.col(c).cum_sum())
                - pl.col(c)
            ).alias(f"{PRIOR_PREFIX}{c}")
            for c in cumulative
        ).drop(f"_open_{c}" for c in cumulative)
    return grouped.with_columns(get(k).expr() for k in keys).sort([*by, "bucket"])
