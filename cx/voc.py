"""Voice of the customer, read side: keywords, topics, trends, FAQ candidates and verbatims (masked per role).

Everything here reads what etl.text stored (``text_insights``, ``voc_keywords``, ``faq_candidates``). Counts are
*texts*: a text mentioning a term twice counts once. With a segment filter the figures are computed from the
per-text rows (slower) because ``voc_keywords`` has no segment dimension.

For alert rules and profiles: :func:`keyword_hits` (texts per touchpoint/channel/... mentioning terms or topics in
any UTC window), :func:`topics_for_profile` (what one customer talks about) and :func:`interaction_insights`
(label, sentiment, topics of given interactions).

TF-IDF (:func:`distinctive_terms`): each group of the breakdown (a touchpoint, a channel or a week) is one
document; ``tf = texts of the group mentioning the term / texts of the group``,
``idf = ln((1 + groups) / (1 + groups mentioning the term)) + 1``; the score is ``tf x idf``.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, Final
from zoneinfo import ZoneInfo

import polars as pl
from sqlalchemy import Select, case, delete, func, literal, or_, select, update
from sqlalchemy.orm import Session

from cx import audit
from cx.access import (
    Principal,
    Role,
    mask_email,
    mask_name,
    mask_phone,
    mask_text,
    mask_value,
    require,
    sees_unmasked,
)
from cx.errors import ValidationError
from cx.filters import Filters
from cx.models import FaqCandidate, Interaction, Profile, TextInsight, VocKeyword

LABELS: Final = ("inquiry", "complaint", "suggestion", "praise", "other")
TERM_TYPES: Final = ("word", "topic")
FACT_DIMENSIONS: Final = ("day", "channel", "stage", "touchpoint", "label")
BREAKDOWNS: Final = ("touchpoint", "channel", "stage", "week", "month")
GRAINS: Final = ("day", "week", "month")
MAX_VERBATIMS: Final = 500

# --------------------------------------------------------------------------------------------- stored forms


def pack_terms(terms: Iterable[str]) -> str:
    """Terms as stored in text_insights: ``|a|b|`` ('' when there are none)."""
    values = [t for t in terms if t]
    return "|" + "|".join(values) + "|" if values else ""


def unpack_terms(value: str | None) -> list[str]:
    return [t for t in (value or "").split("|") if t]


def keyword_facts(rows: pl.LazyFrame, timezone: str) -> pl.LazyFrame:
    """Rows of ``voc_keywords`` from per-text rows.

    ``rows``: occurred_at (UTC), channel, stage, touchpoint, label, sentiment, terms and topics (``|a|b|``).
    Result: day (local), channel, stage, touchpoint (missing = ''), label, term_type (word | topic | total),
    term ('' for total), texts, sentiment_sum.
    """
    dims = list(FACT_DIMENSIONS)
    # identical texts of one day and cell are counted once and weighted (feedback repeats a lot)
    base = (
        rows.select(
            pl.col("occurred_at").dt.convert_time_zone(timezone).dt.date().alias("day"),
            *(pl.col(c).fill_null("").alias(c) for c in ("channel", "stage", "touchpoint")),
            pl.col("label").fill_null("other"),
            pl.col("sentiment").fill_null(0.0),
            pl.col("terms").fill_null(""),
            pl.col("topics").fill_null(""),
        )
        .group_by(*dims, "terms", "topics")
        .agg(pl.len().cast(pl.Int64).alias("texts"), pl.col("sentiment").sum().alias("sentiment_sum"))
    )
    exploded = [
        base.select(
            *dims,
            "texts",
            "sentiment_sum",
            pl.lit(term_type).alias("term_type"),
            pl.col(column).str.split("|").alias("term"),
        )
        .explode("term")
        .filter(pl.col("term") != "")
        for term_type, column in (("word", "terms"), ("topic", "topics"))
    ]
    total = base.select(*dims, "texts", "sentiment_sum", pl.lit("total").alias("term_type"), pl.lit("").alias("term"))
    return (
        pl.concat([total, *exploded])
        .with_columns(pl.col("term").str.slice(0, 100))
        .group_by(*dims, "term_type", "term")
        .agg(pl.col("texts").sum(), pl.col("sentiment_sum").sum())
    )


# --------------------------------------------------------------------------------------------- reading facts


def utc_bounds(start: date, end: date, timezone: str) -> tuple[datetime, datetime]:
    """[start 00:00, end+1 00:00) in the store's time zone, as UTC datetimes."""
    zone = ZoneInfo(timezone)
    return (
        datetime.combine(start, time.min, zone).astimezone(UTC),
        datetime.combine(end + timedelta(days=1), time.min, zone).astimezone(UTC),
    )


def _frame(session: Session, statement: Select[Any], schema: dict[str, Any]) -> pl.DataFrame:
    return pl.DataFrame(session.execute(statement).all(), schema=schema, orient="row")


def keyword_rows(session: Session, *conditions: Any) -> pl.DataFrame:
    """The per-text rows :func:`keyword_facts` reads (occurred_at, channel, stage, touchpoint, label, sentiment,
    terms, topics) of the analysed interactions that meet ``conditions`` (SQL conditions on the two tables)."""
    return _frame(
        session,
        select(
            Interaction.occurred_at,
            Interaction.channel,
            Interaction.stage,
            Interaction.touchpoint,
            TextInsight.label,
            TextInsight.sentiment,
            TextInsight.terms,
            TextInsight.topics,
        )
        .join(TextInsight, TextInsight.interaction_id == Interaction.interaction_id)
        .where(*conditions),
        {
            "occurred_at": pl.Datetime("us", "UTC"),
            "channel": pl.String,
            "stage": pl.String,
            "touchpoint": pl.String,
            "label": pl.String,
            "sentiment": pl.Float64,
            "terms": pl.String,
            "topics": pl.String,
        },
    )


def _interaction_conditions(filters: Filters, timezone: str) -> list[Any]:
    low, high = utc_bounds(filters.start, filters.end, timezone)
    conditions: list[Any] = [Interaction.occurred_at >= low, Interaction.occurred_at < high]
    for column, values in (
        (Interaction.channel, filters.channels),
        (Interaction.stage, filters.stages),
        (Interaction.touchpoint, filters.touchpoints),
    ):
        if values:
            conditions.append(column.in_(values))
    if filters.segments:
        conditions.append(
            Interaction.profile_id.in_(select(Profile.profile_id).where(Profile.segment.in_(filters.segments)))
        )
    return conditions


_FACT_SCHEMA: Final[dict[str, Any]] = {
    "day": pl.Date,
    "channel": pl.String,
    "stage": pl.String,
    "touchpoint": pl.String,
    "label": pl.String,
}


def keyword_facts_query(
    filters: Filters,
    *,
    dims: Sequence[str],
    term_type: str,
    labels: Sequence[str] | None = None,
    terms: Sequence[str] | None = None,
) -> Select[Any]:
    """Texts and sentiment sums per ``dims`` x term from ``voc_keywords`` (no segment filter).

    With ``terms`` given, their rows are found through the ``(term, day)`` index: the term type is then compared
    through an expression no index covers, because SQLite (no statistics are gathered) would otherwise pick the
    ``(term_type, day)`` index and read every term of the period — 0.44–0.49 s instead of 0.05 s for two terms
    over 450 days on the 200,000-customer demo (bench/voc_bench.py).
    """
    columns = [getattr(VocKeyword, d) for d in dims]
    term_type_column = func.coalesce(VocKeyword.term_type, "") if terms else VocKeyword.term_type
    query = (
        select(*columns, VocKeyword.term, func.sum(VocKeyword.texts), func.sum(VocKeyword.sentiment_sum))
        .where(
            term_type_column == term_type,
            VocKeyword.day >= filters.start,
            VocKeyword.day <= filters.end,
        )
        .group_by(*columns, VocKeyword.term)
    )
    for column, values in (
        (VocKeyword.channel, filters.channels),
        (VocKeyword.stage, filters.stages),
        (VocKeyword.touchpoint, filters.touchpoints),
        (VocKeyword.label, labels),
        (VocKeyword.term, terms),
    ):
        if values:
            query = query.where(column.in_(list(values)))
    return query


def _facts(
    session: Session,
    filters: Filters,
    timezone: str,
    *,
    dims: Sequence[str],
    term_type: str,
    labels: Sequence[str] | None = None,
    terms: Sequence[str] | None = None,
) -> pl.DataFrame:
    """Texts and sentiment sums per ``dims`` x term (voc_keywords, or per-text rows with a segment filter)."""
    dims = list(dims)
    schema = {**{d: _FACT_SCHEMA[d] for d in dims}, "term": pl.String, "texts": pl.Int64, "sentiment_sum": pl.Float64}
    if not filters.segments:
        query = keyword_facts_query(filters, dims=dims, term_type=term_type, labels=labels, terms=terms)
        frame = _frame(session, query, schema)
        return frame.with_columns(pl.col("texts").cast(pl.Int64), pl.col("sentiment_sum").cast(pl.Float64))
    rows = keyword_rows(session, *_interaction_conditions(filters, timezone))
    facts = keyword_facts(rows.lazy(), timezone).filter(pl.col("term_type") == term_type)
    if labels:
        facts = facts.filter(pl.col("label").is_in(list(labels)))
    if terms:
        facts = facts.filter(pl.col("term").is_in(list(terms)))
    return (
        facts.group_by(*dims, "term")
        .agg(pl.col("texts").sum(), pl.col("sentiment_sum").sum())
        .select(list(schema))
        .collect()
        .cast(schema)  # type: ignore[arg-type]
    )


def _labels(label: str | None) -> list[str] | None:
    if label is None:
        return None
    if label not in LABELS:
        raise ValidationError(f"Unknown text class {label!r}; use one of {', '.join(LABELS)}")
    return [label]


def _check_term_type(term_type: str) -> None:
    if term_type not in TERM_TYPES:
        raise ValidationError(f"Unknown term type {term_type!r}; use word or topic")


@dataclass(frozen=True)
class JourneyNames:
    """Stage and touchpoint keys with their names in one language, in journey order."""

    stages: tuple[tuple[str, str], ...]
    touchpoints: tuple[tuple[str, str], ...]


def journey_names(session: Session, principal: Principal, language: str) -> JourneyNames:
    """The current journey's stage and touchpoint names (for the filter bar and labels)."""
    from cx.journey_store import load_journey

    require(principal, "voc.view")
    journey = load_journey(session)
    return JourneyNames(
        tuple((s.key, s.name(language)) for s in journey.stages),
        tuple((tp.key, tp.name(language)) for tp in journey.touchpoints),
    )


def has_insights(session: Session, principal: Principal) -> bool:
    """True once any text has been analysed."""
    require(principal, "voc.view")
    return session.scalar(select(TextInsight.interaction_id).limit(1)) is not None


def data_stamp(session: Session, principal: Principal) -> str:
    """Changes whenever an analysis run stored results (part of the page's cache keys)."""
    require(principal, "voc.view")
    count, latest = session.execute(select(func.count(), func.max(TextInsight.analysed_at))).one()
    return f"{count}:{latest.isoformat() if latest else ''}"


def segments(session: Session, principal: Principal) -> list[str]:
    """Customer segments present on profiles (for the filter bar)."""
    require(principal, "voc.view")
    query = select(Profile.segment).where(Profile.segment.is_not(None), Profile.segment != "").distinct()
    return sorted(session.scalars(query))


# --------------------------------------------------------------------------------------------- summary and mix


@dataclass(frozen=True)
class VocSummary:
    """Texts in the period and the one before it, by class, with the mean sentiment."""

    texts: int
    by_label: dict[str, int]
    sentiment: float | None
    previous_texts: int
    previous_by_label: dict[str, int]
    previous_sentiment: float | None

    def share(self, label: str, *, previous: bool = False) -> float | None:
        """Percentage of texts in ``label`` (None without texts)."""
        total = self.previous_texts if previous else self.texts
        counts = self.previous_by_label if previous else self.by_label
        return 100.0 * counts.get(label, 0) / total if total else None


def summary(session: Session, principal: Principal, filters: Filters, timezone: str) -> VocSummary:
    require(principal, "voc.view")

    def read(f: Filters) -> tuple[int, dict[str, int], float | None]:
        frame = _facts(session, f, timezone, dims=["label"], term_type="total")
        texts = int(frame["texts"].sum())
        by_label = {row["label"]: int(row["texts"]) for row in frame.iter_rows(named=True)}
        sentiment = float(frame["sentiment_sum"].sum()) / texts if texts else None
        return texts, by_label, sentiment

    now = read(filters)
    before = read(filters.previous_period())
    return VocSummary(now[0], now[1], now[2], before[0], before[1], before[2])


def _period(grain: str) -> pl.Expr:
    if grain == "day":
        return pl.col("day")
    if grain == "week":
        return pl.col("day").dt.truncate("1w")
    if grain == "month":
        return pl.col("day").dt.truncate("1mo")
    raise ValidationError(f"Unknown grain {grain!r}; use day, week or month")


def label_mix(
    session: Session, principal: Principal, filters: Filters, timezone: str, *, by: str = "touchpoint"
) -> pl.DataFrame:
    """Texts per ``by`` (touchpoint | channel | stage | day | week | month) and class: key, label, texts, share (%)."""
    require(principal, "voc.view")
    if by in GRAINS:
        frame = _facts(session, filters, timezone, dims=["day", "label"], term_type="total")
        frame = frame.with_columns(_period(by).cast(pl.String).alias("key"))
    elif by in ("touchpoint", "channel", "stage"):
        frame = _facts(session, filters, timezone, dims=[by, "label"], term_type="total").rename({by: "key"})
    else:
        raise ValidationError(f"Unknown breakdown {by!r}; use touchpoint, channel, stage, day, week or month")
    return (
        frame.group_by("key", "label")
        .agg(pl.col("texts").sum())
        .with_columns((100.0 * pl.col("texts") / pl.col("texts").sum().over("key")).alias("share"))
        .sort("key", "label")
    )


# --------------------------------------------------------------------------------------------- keywords and topics


def top_terms(
    session: Session,
    principal: Principal,
    filters: Filters,
    timezone: str,
    *,
    term_type: str = "word",
    label: str | None = None,
    limit: int = 20,
) -> pl.DataFrame:
    """The most mentioned terms (or topics): term, texts, share (% of texts), sentiment, previous, change,
    complaint_share (% of the term's texts that are complaints; all classes counted even when ``label`` is set).
    """
    require(principal, "voc.view")
    _check_term_type(term_type)
    labels = _labels(label)
    now = _facts(session, filters, timezone, dims=["label"], term_type=term_type)
    before = _facts(session, filters.previous_period(), timezone, dims=["label"], term_type=term_type, labels=labels)
    totals = _facts(session, filters, timezone, dims=["label"], term_type="total", labels=labels)
    total_texts = int(totals["texts"].sum())
    chosen = now.filter(pl.col("label").is_in(labels)) if labels else now
    complaint = now.group_by("term").agg(
        (100.0 * pl.col("texts").filter(pl.col("label") == "complaint").sum() / pl.col("texts").sum()).alias(
            "complaint_share"
        )
    )
    previous = before.group_by("term").agg(pl.col("texts").sum().alias("previous"))
    return (
        chosen.group_by("term")
        .agg(pl.col("texts").sum(), pl.col("sentiment_sum").sum())
        .join(previous, on="term", how="left")
        .join(complaint, on="term", how="left")
        .with_columns(pl.col("previous").fill_null(0))
        .select(
            "term",
            "texts",
            (100.0 * pl.col("texts") / max(total_texts, 1)).alias("share"),
            (pl.col("sentiment_sum") / pl.col("texts")).alias("sentiment"),
            "previous",
            (pl.col("texts") - pl.col("previous")).alias("change"),
            "complaint_share",
        )
        .sort(["texts", "term"], descending=[True, False])
        .head(limit)
    )


def term_trend(
    session: Session,
    principal: Principal,
    filters: Filters,
    timezone: str,
    terms: Sequence[str],
    *,
    term_type: str = "word",
    label: str | None = None,
    grain: str = "day",
) -> pl.DataFrame:
    """Texts per period and term (period, term, texts), zeros filled for periods without mentions."""
    require(principal, "voc.view")
    _check_term_type(term_type)
    if not terms:
        return pl.DataFrame(schema={"period": pl.Date, "term": pl.String, "texts": pl.Int64})
    frame = _facts(session, filters, timezone, dims=["day"], term_type=term_type, labels=_labels(label), terms=terms)
    counts = frame.group_by(_period(grain).alias("period"), "term").agg(pl.col("texts").sum())
    periods = (
        pl.DataFrame({"day": pl.date_range(filters.start, filters.end, "1d", eager=True)})
        .select(_period(grain).alias("period"))
        .unique()
    )
    grid = periods.join(pl.DataFrame({"term": list(dict.fromkeys(terms))}), how="cross")
    return (
        grid.join(counts, on=["period", "term"], how="left")
        .with_columns(pl.col("texts").fill_null(0).cast(pl.Int64))
        .sort("term", "period")
    )


def trending_terms(
    session: Session,
    principal: Principal,
    filters: Filters,
    timezone: str,
    *,
    term_type: str = "word",
    label: str | None = None,
    limit: int = 15,
    min_texts: int = 3,
) -> pl.DataFrame:
    """Terms that rose (or fell) most against the previous period of the same length, volume-adjusted.

    ``expected = previous x (texts now / texts before)``; ``score = (texts - expected) / sqrt(expected + 1)``;
    status: ``new`` (not mentioned before), ``rising`` (score >= 2), ``falling`` (score <= -2), else ``steady``.
    Returns term, texts, previous, change, score, status; the highest absolute scores first.
    """
    require(principal, "voc.view")
    _check_term_type(term_type)
    labels = _labels(label)
    before_filters = filters.previous_period()
    now = _facts(session, filters, timezone, dims=[], term_type=term_type, labels=labels)
    before = _facts(session, before_filters, timezone, dims=[], term_type=term_type, labels=labels)
    total_now = int(_facts(session, filters, timezone, dims=[], term_type="total", labels=labels)["texts"].sum())
    total_before = int(
        _facts(session, before_filters, timezone, dims=[], term_type="total", labels=labels)["texts"].sum()
    )
    scale = total_now / total_before if total_before else 1.0
    frame = (
        now.select("term", "texts")
        .join(before.select("term", pl.col("texts").alias("previous")), on="term", how="full", coalesce=True)
        .with_columns(pl.col("texts").fill_null(0), pl.col("previous").fill_null(0))
        .filter(pl.max_horizontal("texts", "previous") >= min_texts)
    )
    expected = pl.col("previous") * scale
    score = (pl.col("texts") - expected) / (expected + 1).sqrt()
    return (
        frame.with_columns((pl.col("texts") - pl.col("previous")).alias("change"), score.round(2).alias("score"))
        .with_columns(
            pl.when((pl.col("previous") == 0) & (pl.col("texts") > 0))
            .then(pl.lit("new"))
            .when(pl.col("score") >= 2)
            .then(pl.lit("rising"))
            .when(pl.col("score") <= -2)
            .then(pl.lit("falling"))
            .otherwise(pl.lit("steady"))
            .alias("status")
        )
        .sort([pl.col("score").abs(), pl.col("term")], descending=[True, False])
        .head(limit)
    )


def distinctive_terms(
    session: Session,
    principal: Principal,
    filters: Filters,
    timezone: str,
    *,
    by: str = "touchpoint",
    term_type: str = "word",
    label: str | None = None,
    per_group: int = 5,
) -> pl.DataFrame:
    """TF-IDF keywords of each group of ``by`` (touchpoint | channel | stage | week | month): group, term, texts,
    tfidf (see the module docstring); the top ``per_group`` per group, best first."""
    require(principal, "voc.view")
    _check_term_type(term_type)
    if by not in BREAKDOWNS:
        raise ValidationError(f"Unknown breakdown {by!r}; use {', '.join(BREAKDOWNS)}")
    labels = _labels(label)
    dims = ["day"] if by in GRAINS else [by]
    terms = _facts(session, filters, timezone, dims=dims, term_type=term_type, labels=labels)
    totals = _facts(session, filters, timezone, dims=dims, term_type="total", labels=labels)
    group = _period(by).cast(pl.String) if by in GRAINS else pl.col(by)
    terms = terms.group_by(group.alias("group"), "term").agg(pl.col("texts").sum())
    totals = totals.group_by(group.alias("group")).agg(pl.col("texts").sum().alias("group_texts"))
    groups = totals.height
    document_frequency = terms.group_by("term").agg(pl.len().alias("df"))
    return (
        terms.join(totals, on="group")
        .join(document_frequency, on="term")
        .with_columns(
            (pl.col("texts") / pl.col("group_texts") * (((1 + groups) / (1 + pl.col("df"))).log() + 1)).alias("tfidf")
        )
        .sort(["group", "tfidf", "term"], descending=[False, True, False])
        .group_by("group", maintain_order=True)
        .head(per_group)
        .select("group", "term", "texts", pl.col("tfidf").round(4))
    )


# --------------------------------------------------------------------------------------------- FAQ candidates


def faq_table(
    session: Session, principal: Principal, filters: Filters, timezone: str, *, min_texts: int = 2, limit: int = 50
) -> pl.DataFrame:
    """FAQ candidates asked in the period: faq_id, title, lang, keywords, texts, previous, change, touchpoints
    (up to three, most frequent first), channels, last_at, example_interaction_id; most asked first."""
    require(principal, "voc.view")

    def members(f: Filters) -> pl.DataFrame:
        return _frame(
            session,
            select(
                TextInsight.faq_id,
                Interaction.touchpoint,
                Interaction.channel,
                func.count(),
                func.max(Interaction.occurred_at),
            )
            .join(Interaction, Interaction.interaction_id == TextInsight.interaction_id)
            .where(TextInsight.faq_id.is_not(None), *_interaction_conditions(f, timezone))
            .group_by(TextInsight.faq_id, Interaction.touchpoint, Interaction.channel),
            {
                "faq_id": pl.Int64,
                "touchpoint": pl.String,
                "channel": pl.String,
                "texts": pl.Int64,
                "last_at": pl.Datetime("us", "UTC"),
            },
        )

    now = members(filters)
    if now.is_empty():
        return pl.DataFrame(
            schema={
                "faq_id": pl.Int64,
                "title": pl.String,
                "lang": pl.String,
                "keywords": pl.String,
                "texts": pl.Int64,
                "previous": pl.Int64,
                "change": pl.Int64,
                "touchpoints": pl.List(pl.String),
                "channels": pl.List(pl.String),
                "last_at": pl.Datetime("us", "UTC"),
                "example_interaction_id": pl.String,
            }
        )
    before = members(filters.previous_period()).group_by("faq_id").agg(pl.col("texts").sum().alias("previous"))

    by_touchpoint = now.group_by("faq_id", "touchpoint").agg(pl.col("texts").sum())
    by_channel = now.group_by("faq_id", "channel").agg(pl.col("texts").sum())
    grouped = (
        now.group_by("faq_id")
        .agg(pl.col("texts").sum(), pl.col("last_at").max())
        .filter(pl.col("texts") >= min_texts)
        .join(
            by_touchpoint.sort("texts", "touchpoint", descending=[True, False])
            .group_by("faq_id", maintain_order=True)
            .agg(pl.col("touchpoint").fill_null("").head(3).alias("touchpoints")),
            on="faq_id",
        )
        .join(
            by_channel.sort("texts", "channel", descending=[True, False])
            .group_by("faq_id", maintain_order=True)
            .agg(pl.col("channel").head(3).alias("channels")),
            on="faq_id",
        )
        .join(before, on="faq_id", how="left")
        .with_columns(pl.col("previous").fill_null(0))
        .sort(["texts", "faq_id"], descending=[True, False])
        .head(limit)
    )
    ids = grouped["faq_id"].to_list()
    meta = _frame(
        session,
        select(
            FaqCandidate.id,
            FaqCandidate.title,
            FaqCandidate.lang,
            FaqCandidate.keywords,
            FaqCandidate.example_interaction_id,
        ).where(FaqCandidate.id.in_(ids)),
        {
            "faq_id": pl.Int64,
            "title": pl.String,
            "lang": pl.String,
            "keywords": pl.String,
            "example_interaction_id": pl.String,
        },
    )
    return (
        grouped.join(meta, on="faq_id")
        .with_columns((pl.col("texts") - pl.col("previous")).alias("change"))
        .sort(["texts", "faq_id"], descending=[True, False])
        .select(
            "faq_id",
            "title",
            "lang",
            pl.col("keywords").str.strip_chars("|").str.replace_all("|", " ", literal=True),
            "texts",
            "previous",
            "change",
            "touchpoints",
            "channels",
            "last_at",
            "example_interaction_id",
        )
    )


# --------------------------------------------------------------------------------------------- verbatims

_PHONE_IN_TEXT: Final = re.compile(
    r"(?<!\d)(?:\+?86[ -]?)?1[3-9]\d(?:[ -]?\d){8}(?!\d)|(?<![\w\d])\+\d(?:[ -]?\d){7,14}(?!\d)"
)
_EMAIL_IN_TEXT: Final = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
_HANDLE_IN_TEXT: Final = re.compile(r"(?<![\w.*+-])@[\w\u4e00-\u9fff.-]{2,}")


def mask_free_text(text: str | None, role: Role, names: Sequence[str] = ()) -> str | None:
    """Free text as ``role`` may read it: phone numbers, e-mail addresses, @handles and the given customer names
    masked with the same rules as the fields (cx.access) unless the role sees that field unmasked."""
    if text is None:
        return None
    value = text
    if not sees_unmasked(role, "email"):
        value = _EMAIL_IN_TEXT.sub(lambda m: mask_email(m.group(0)), value)
    if not sees_unmasked(role, "phone"):
        value = _PHONE_IN_TEXT.sub(lambda m: mask_phone(m.group(0)), value)
    if not sees_unmasked(role, "social_handle"):
        value = _HANDLE_IN_TEXT.sub(lambda m: "@" + mask_text(m.group(0)[1:]), value)
    if not sees_unmasked(role, "name"):
        for name in sorted({n.strip() for n in names if n and len(n.strip()) >= 2}, key=len, reverse=True):
            value = value.replace(name, mask_name(name))
    return value


@dataclass(frozen=True)
class Selection:
    """What the verbatims are drawn from, within the page's filters (every part optional)."""

    label: str | None = None
    term: str | None = None
    topic: str | None = None
    faq_id: int | None = None
    touchpoint: str | None = None
    channel: str | None = None
    day: date | None = None
    sentiment_below: float | None = None

    def __post_init__(self) -> None:
        if self.label is not None and self.label not in LABELS:
            raise ValidationError(f"Unknown text class {self.label!r}; use one of {', '.join(LABELS)}")
        for name in ("term", "topic"):
            value = getattr(self, name)
            if value is not None and ("|" in value or not value.strip()):
                raise ValidationError(f"The {name} {value!r} cannot be searched; pick one from the list")

    def audit_detail(self) -> dict[str, Any]:
        return {k: (v.isoformat() if isinstance(v, date) else v) for k, v in self.__dict__.items() if v is not None}


@dataclass(frozen=True)
class Verbatims:
    rows: pl.DataFrame
    total: int


def _verbatim_query(filters: Filters, timezone: str, selection: Selection) -> Select[Any]:
    query = (
        select(Interaction.interaction_id)
        .join(TextInsight, TextInsight.interaction_id == Interaction.interaction_id)
        .where(*_interaction_conditions(filters, timezone))
    )
    if selection.label:
        query = query.where(TextInsight.label == selection.label)
    if selection.term:
        query = query.where(TextInsight.terms.contains(f"|{selection.term}|", autoescape=True))
    if selection.topic:
        query = query.where(TextInsight.topics.contains(f"|{selection.topic}|", autoescape=True))
    if selection.faq_id is not None:
        query = query.where(TextInsight.faq_id == selection.faq_id)
    if selection.touchpoint is not None:
        column = Interaction.touchpoint
        query = query.where(
            column == selection.touchpoint if selection.touchpoint else or_(column.is_(None), column == "")
        )
    if selection.channel:
        query = query.where(Interaction.channel == selection.channel)
    if selection.day:
        low, high = utc_bounds(selection.day, selection.day, timezone)
        query = query.where(Interaction.occurred_at >= low, Interaction.occurred_at < high)
    if selection.sentiment_below is not None:
        query = query.where(TextInsight.sentiment < selection.sentiment_below)
    return query


def verbatims(
    session: Session,
    principal: Principal,
    filters: Filters,
    timezone: str,
    selection: Selection = Selection(),
    *,
    limit: int = 100,
    offset: int = 0,
) -> Verbatims:
    """The texts behind a selection, newest first, masked for the principal's role: occurred_at, channel,
    touchpoint, label, confidence, sentiment, customer (masked name), text (masked), topics, interaction_id; plus
    the total count."""
    require(principal, "voc.view")
    role = principal.role
    limit = max(1, min(limit, MAX_VERBATIMS))
    ids_query = _verbatim_query(filters, timezone, selection)
    total = session.scalar(select(func.count()).select_from(ids_query.subquery())) or 0
    query = (
        select(
            Interaction.occurred_at,
            Interaction.channel,
            Interaction.touchpoint,
            TextInsight.label,
            TextInsight.confidence,
            TextInsight.sentiment,
            Interaction.name,
            Interaction.text,
            TextInsight.topics,
            Interaction.interaction_id,
        )
        .join(TextInsight, TextInsight.interaction_id == Interaction.interaction_id)
        .where(Interaction.interaction_id.in_(ids_query))
        .order_by(Interaction.occurred_at.desc(), Interaction.interaction_id)
        .limit(limit)
        .offset(max(offset, 0))
    )
    rows = []
    for (
        occurred,
        channel,
        touchpoint,
        label,
        confidence,
        sentiment,
        name,
        text,
        topics,
        interaction_id,
    ) in session.execute(query):
        rows.append(
            (
                occurred,
                channel,
                touchpoint,
                label,
                confidence,
                sentiment,
                mask_value("name", name, role),
                mask_free_text(text, role, [name] if name else []),
                unpack_terms(topics),
                interaction_id,
            )
        )
    frame = pl.DataFrame(
        rows,
        schema={
            "occurred_at": pl.Datetime("us", "UTC"),
            "channel": pl.String,
            "touchpoint": pl.String,
            "label": pl.String,
            "confidence": pl.Float64,
            "sentiment": pl.Float64,
            "customer": pl.String,
            "text": pl.String,
            "topics": pl.List(pl.String),
            "interaction_id": pl.String,
        },
        orient="row",
    )
    return Verbatims(frame, int(total))


def example_texts(session: Session, principal: Principal, interaction_ids: Sequence[str]) -> dict[str, str]:
    """interaction_id -> its text masked for the principal's role (FAQ examples)."""
    require(principal, "voc.view")
    role = principal.role
    found: dict[str, str] = {}
    ids = [i for i in interaction_ids if i]
    for start in range(0, len(ids), 500):
        query = select(Interaction.interaction_id, Interaction.name, Interaction.text).where(
            Interaction.interaction_id.in_(ids[start : start + 500])
        )
        for interaction_id, name, text in session.execute(query):
            found[interaction_id] = mask_free_text(text, role, [name] if name else []) or ""
    return found


def record_view(
    session: Session, principal: Principal, action: str, filters: Filters, selection: Selection, rows: int
) -> None:
    """Audit a view (``voc.view_verbatims``, needs voc.view) or export (``voc.export``, needs data.export) of
    verbatims: the filter and selection, never the texts."""
    require(principal, "data.export" if action == "voc.export" else "voc.view")
    audit.record(
        session,
        principal,
        action,
        object_type="voc",
        detail={
            "start": filters.start.isoformat(),
            "end": filters.end.isoformat(),
            "channels": list(filters.channels),
            "touchpoints": list(filters.touchpoints),
            "stages": list(filters.stages),
            "segments": list(filters.segments),
            **selection.audit_detail(),
            "rows": rows,
        },
    )


# --------------------------------------------------------------------------------------------- for alerts and profiles


@dataclass(frozen=True)
class TopicMention:
    """How often one customer's texts mention a topic."""

    topic: str
    texts: int
    complaints: int
    sentiment: float
    last_at: datetime


def topics_for_profile(session: Session, profile_id: str, *, since: datetime | None = None) -> list[TopicMention]:
    """The topics a customer's texts mention (most mentioned first), with complaint counts and mean sentiment."""
    query = (
        select(TextInsight.topics, TextInsight.label, TextInsight.sentiment, Interaction.occurred_at)
        .join(Interaction, Interaction.interaction_id == TextInsight.interaction_id)
        .where(Interaction.profile_id == profile_id, TextInsight.topics != "")
    )
    if since is not None:
        query = query.where(Interaction.occurred_at >= since)
    frame = _frame(
        session,
        query,
        {"topics": pl.String, "label": pl.String, "sentiment": pl.Float64, "occurred_at": pl.Datetime("us", "UTC")},
    )
    if frame.is_empty():
        return []
    grouped = (
        frame.with_columns(pl.col("topics").str.split("|").alias("topic"))
        .explode("topic")
        .filter(pl.col("topic") != "")
        .group_by("topic")
        .agg(
            pl.len().alias("texts"),
            (pl.col("label") == "complaint").sum().alias("complaints"),
            pl.col("sentiment").mean().alias("sentiment"),
            pl.col("occurred_at").max().alias("last_at"),
        )
        .sort(["texts", "last_at", "topic"], descending=[True, True, False])
    )
    return [
        TopicMention(r["topic"], int(r["texts"]), int(r["complaints"]), round(float(r["sentiment"]), 3), r["last_at"])
        for r in grouped.iter_rows(named=True)
    ]


def keyword_hits(
    session: Session,
    start: datetime,
    end: datetime,
    *,
    terms: Sequence[str] = (),
    topics: Sequence[str] = (),
    labels: Sequence[str] | None = None,
    by: Sequence[str] = ("touchpoint",),
) -> pl.DataFrame:
    """Texts in ``[start, end)`` (UTC) mentioning each term / topic, per ``by`` (touchpoint, channel, stage, team,
    agent_id, source): columns ``*by``, term_type, term, texts, complaints, sentiment (mean). For alert rules
    such as "more than 20 complaints mentioning 漏水 per touchpoint in 24 hours"."""
    allowed = ("touchpoint", "channel", "stage", "team", "agent_id", "source")
    unknown = [b for b in by if b not in allowed]
    if unknown:
        raise ValidationError(f"keyword_hits cannot group by {unknown}; use {', '.join(allowed)}")
    for label in labels or ():
        _labels(label)
    wanted = [("word", TextInsight.terms, t) for t in terms] + [("topic", TextInsight.topics, t) for t in topics]
    columns = [getattr(Interaction, b) for b in by]
    schema: dict[str, Any] = {
        **{b: pl.String for b in by},
        "term_type": pl.String,
        "term": pl.String,
        "texts": pl.Int64,
        "complaints": pl.Int64,
        "sentiment": pl.Float64,
    }
    frames = []
    for term_type, column, term in wanted:
        if "|" in term:
            raise ValidationError(f"The term {term!r} cannot contain '|'")
        query = (
            select(
                *columns,
                literal(term_type),
                literal(term),
                func.count(),
                func.sum(case((TextInsight.label == "complaint", 1), else_=0)),
                func.avg(TextInsight.sentiment),
            )
            .join(TextInsight, TextInsight.interaction_id == Interaction.interaction_id)
            .where(
                Interaction.occurred_at >= start,
                Interaction.occurred_at < end,
                column.contains(f"|{term}|", autoescape=True),
            )
            .group_by(*columns)
        )
        if labels:
            query = query.where(TextInsight.label.in_(list(labels)))
        frames.append(_frame(session, query, schema))
    if not frames:
        return pl.DataFrame(schema=schema)
    return pl.concat(frames).with_columns(pl.col("complaints").fill_null(0)).sort("term", *by, "texts")


@dataclass(frozen=True)
class Insight:
    label: str
    confidence: float
    sentiment: float
    topics: tuple[str, ...]
    terms: tuple[str, ...]
    faq_id: int | None


def interaction_insights(session: Session, interaction_ids: Sequence[str]) -> dict[str, Insight]:
    """interaction_id -> what its text says (interactions without analysed text are absent)."""
    found: dict[str, Insight] = {}
    ids = list(dict.fromkeys(interaction_ids))
    for start in range(0, len(ids), 500):
        query = select(
            TextInsight.interaction_id,
            TextInsight.label,
            TextInsight.confidence,
            TextInsight.sentiment,
            TextInsight.topics,
            TextInsight.terms,
            TextInsight.faq_id,
        ).where(TextInsight.interaction_id.in_(ids[start : start + 500]))
        for interaction_id, label, confidence, sentiment, topics, terms, faq_id in session.execute(query):
            found[interaction_id] = Insight(
                label, confidence, sentiment, tuple(unpack_terms(topics)), tuple(unpack_terms(terms)), faq_id
            )
    return found


def forget_interactions(session: Session, interaction_ids: Sequence[str]) -> int:
    """Delete the text insights of erased interactions (privacy erasure); keyword counts are rebuilt by the next
    ETL run of those days. Returns the rows deleted."""
    deleted = 0
    ids = list(interaction_ids)
    for start in range(0, len(ids), 500):
        part = ids[start : start + 500]
        deleted += session.execute(delete(TextInsight).where(TextInsight.interaction_id.in_(part))).rowcount or 0
        session.execute(
            update(FaqCandidate)
            .where(FaqCandidate.example_interaction_id.in_(part))
            .values(example_interaction_id=None)
        )
    return deleted


def sentiment_band(value: float | None) -> str:
    """negative (< -0.2), neutral, positive (> 0.2): the words shown next to a sentiment score."""
    if value is None or math.isnan(value):
        return "neutral"
    return "negative" if value < -0.2 else "positive" if value > 0.2 else "neutral"


__all__ = [
    "LABELS",
    "Insight",
    "Selection",
    "TopicMention",
    "VocSummary",
    "Verbatims",
    "distinctive_terms",
    "example_texts",
    "faq_table",
    "forget_interactions",
    "data_stamp",
    "has_insights",
    "journey_names",
    "segments",
    "interaction_insights",
    "keyword_facts",
    "keyword_facts_query",
    "keyword_hits",
    "keyword_rows",
    "label_mix",
    "mask_free_text",
    "pack_terms",
    "record_view",
    "summary",
    "term_trend",
    "top_terms",
    "topics_for_profile",
    "trending_terms",
    "unpack_terms",
    "utc_bounds",
    "verbatims",
]
