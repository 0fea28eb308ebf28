"""The voice-of-the-customer page's data: cached aggregate loaders, display tables and charts.

Aggregates carry no personal data and are cached per store, filter and data stamp (a new analysis run shows at
once). Verbatims are masked per role in cx.voc and are never cached.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import plotly.express as px
import plotly.graph_objects as go
import polars as pl
import streamlit as st
from sqlalchemy import Engine

import ui.charts  # noqa: F401  (registers the "cx" Plotly template)
from cx import voc
from cx.access import Principal
from cx.db import transaction
from cx.filters import Filters
from cx.settings import get_settings
from ui.charts import STATUS_COLOURS
from ui.i18n import t
from ui.store import get_store

TTL_S = 300
#: Class -> colour (status palette where it means something: complaints bad, praise good).
LABEL_COLOURS = {
    "complaint": STATUS_COLOURS["bad"],
    "inquiry": "#1f6feb",
    "suggestion": STATUS_COLOURS["watch"],
    "praise": STATUS_COLOURS["good"],
    "other": STATUS_COLOURS["neutral"],
}
SENTIMENT_COLOURS = {
    "negative": STATUS_COLOURS["bad"],
    "neutral": STATUS_COLOURS["neutral"],
    "positive": STATUS_COLOURS["good"],
}
SENTIMENT_SYMBOL = {"negative": "▼", "neutral": "○", "positive": "▲"}


def _engine(database_url: str) -> Engine:
    settings = get_settings()
    return get_store(
        settings if settings.database_url == database_url else settings.with_overrides(database_url=database_url)
    )


# --------------------------------------------------------------------------------------------- labels


@dataclass(frozen=True)
class Labels:
    """Names of stages and touchpoints in the chosen language."""

    stages: tuple[tuple[str, str], ...]
    touchpoints: tuple[tuple[str, str], ...]

    def touchpoint(self, key: str | None) -> str:
        if not key:
            return t("voc.no_touchpoint")
        return dict(self.touchpoints).get(key, key)

    def stage(self, key: str | None) -> str:
        return dict(self.stages).get(key or "", key or "–")


@st.cache_data(ttl=TTL_S, show_spinner=False)
def labels(database_url: str, role: str, _principal: Principal, language: str) -> Labels:
    with transaction(_engine(database_url)) as session:
        names = voc.journey_names(session, _principal, language)
    return Labels(names.stages, names.touchpoints)


def label_name(label: str) -> str:
    return t(f"voc.label.{label}")


def topic_name(topic: str) -> str:
    name = t(f"voc.topic.{topic}")
    return topic if name == f"voc.topic.{topic}" else name


def channel_name(channel: str | None) -> str:
    return t(f"channel.{channel}") if channel else "–"


def sentiment_word(value: float | None) -> str:
    band = voc.sentiment_band(value)
    return f"{SENTIMENT_SYMBOL[band]} {t(f'voc.sentiment.{band}')}"


# --------------------------------------------------------------------------------------------- cached loaders
# Keyed by the role (never served to another role); ``_principal`` is checked by every cx.voc function.


@st.cache_data(ttl=60, show_spinner=False)
def stamp(database_url: str, role: str, _principal: Principal) -> str:
    with transaction(_engine(database_url)) as session:
        return voc.data_stamp(session, _principal)


@st.cache_data(ttl=TTL_S, show_spinner=False)
def has_insights(database_url: str, data_stamp: str, role: str, _principal: Principal) -> bool:
    with transaction(_engine(database_url)) as session:
        return voc.has_insights(session, _principal)


@st.cache_data(ttl=TTL_S, show_spinner=False)
def segments(database_url: str, data_stamp: str, role: str, _principal: Principal) -> list[str]:
    with transaction(_engine(database_url)) as session:
        return voc.segments(session, _principal)


@st.cache_data(ttl=TTL_S, show_spinner=False)
def summary(
    database_url: str, data_stamp: str, role: str, _principal: Principal, filters: Filters, timezone: str
) -> voc.VocSummary:
    with transaction(_engine(database_url)) as session:
        return voc.summary(session, _principal, filters, timezone)


@st.cache_data(ttl=TTL_S, show_spinner=False)
def top_terms(
    database_url: str,
    data_stamp: str,
    role: str,
    _principal: Principal,
    filters: Filters,
    timezone: str,
    term_type: str,
    label: str | None,
    limit: int,
) -> pl.DataFrame:
    with transaction(_engine(database_url)) as session:
        return voc.top_terms(session, _principal, filters, timezone, term_type=term_type, label=label, limit=limit)


@st.cache_data(ttl=TTL_S, show_spinner=False)
def label_mix(
    database_url: str, data_stamp: str, role: str, _principal: Principal, filters: Filters, timezone: str, by: str
) -> pl.DataFrame:
    with transaction(_engine(database_url)) as session:
        return voc.label_mix(session, _principal, filters, timezone, by=by)


@st.cache_data(ttl=TTL_S, show_spinner=False)
def term_trend(
    database_url: str,
    data_stamp: str,
    role: str,
    _principal: Principal,
    filters: Filters,
    timezone: str,
    terms: tuple[str, ...],
    term_type: str,
    label: str | None,
    grain: str,
) -> pl.DataFrame:
    with transaction(_engine(database_url)) as session:
        return voc.term_trend(
            session, _principal, filters, timezone, terms, term_type=term_type, label=label, grain=grain
        )


@st.cache_data(ttl=TTL_S, show_spinner=False)
def trending(
    database_url: str,
    data_stamp: str,
    role: str,
    _principal: Principal,
    filters: Filters,
    timezone: str,
    term_type: str,
    label: str | None,
) -> pl.DataFrame:
    with transaction(_engine(database_url)) as session:
        return voc.trending_terms(session, _principal, filters, timezone, term_type=term_type, label=label)


@st.cache_data(ttl=TTL_S, show_spinner=False)
def distinctive(
    database_url: str,
    data_stamp: str,
    role: str,
    _principal: Principal,
    filters: Filters,
    timezone: str,
    by: str,
    term_type: str,
    label: str | None,
) -> pl.DataFrame:
    with transaction(_engine(database_url)) as session:
        return voc.distinctive_terms(session, _principal, filters, timezone, by=by, term_type=term_type, label=label)


@st.cache_data(ttl=TTL_S, show_spinner=False)
def faq(
    database_url: str, data_stamp: str, role: str, _principal: Principal, filters: Filters, timezone: str
) -> pl.DataFrame:
    with transaction(_engine(database_url)) as session:
        return voc.faq_table(session, _principal, filters, timezone)


# --------------------------------------------------------------------------------------------- display tables


def terms_table(frame: pl.DataFrame, term_type: str) -> pl.DataFrame:
    """Top terms as shown: name, texts, share, sentiment (word), change vs previous, complaint share."""
    name = frame["term"].to_list()
    if term_type == "topic":
        name = [topic_name(x) for x in name]
    return frame.select(
        pl.Series(t("voc.col.term"), name, dtype=pl.String),
        pl.col("texts").alias(t("voc.col.texts")),
        pl.col("share").round(1).alias(t("voc.col.share")),
        pl.Series(t("voc.col.sentiment"), [sentiment_word(v) for v in frame["sentiment"].to_list()], dtype=pl.String),
        pl.col("change").alias(t("voc.col.change")),
        pl.col("complaint_share").round(1).alias(t("voc.col.complaint_share")),
    )


def trending_table(frame: pl.DataFrame, term_type: str) -> pl.DataFrame:
    symbols = {"new": "★", "rising": "↑", "falling": "↓", "steady": "→"}
    names = frame["term"].to_list()
    if term_type == "topic":
        names = [topic_name(x) for x in names]
    return pl.DataFrame(
        {
            t("voc.col.term"): names,
            t("voc.col.status"): [f"{symbols[s]} {t(f'voc.trend.{s}')}" for s in frame["status"].to_list()],
            t("voc.col.texts"): frame["texts"],
            t("voc.col.previous"): frame["previous"],
            t("voc.col.change"): frame["change"],
        }
    )


def distinctive_table(frame: pl.DataFrame, by: str, names: Labels, term_type: str) -> pl.DataFrame:
    """One row per group: the group's name and its TF-IDF terms, best first."""
    grouped = frame.group_by("group", maintain_order=True).agg(pl.col("term"), pl.col("texts").sum())
    groups = grouped["group"].to_list()
    if by == "touchpoint":
        shown = [names.touchpoint(g) for g in groups]
    elif by == "channel":
        shown = [channel_name(g) for g in groups]
    elif by == "stage":
        shown = [names.stage(g) for g in groups]
    else:
        shown = [str(g) for g in groups]
    terms = [" · ".join(topic_name(x) if term_type == "topic" else x for x in row) for row in grouped["term"].to_list()]
    return pl.DataFrame({t(f"voc.by.{by}"): shown, t("voc.col.distinctive"): terms})


def faq_display(frame: pl.DataFrame, names: Labels) -> pl.DataFrame:
    return pl.DataFrame(
        {
            t("voc.col.question"): frame["title"],
            t("voc.col.asked"): frame["texts"],
            t("voc.col.previous"): frame["previous"],
            t("voc.col.change"): [
                f"{'↑' if c > 0 else '↓' if c < 0 else '→'} {c:+d}" for c in frame["change"].to_list()
            ],
            t("voc.col.touchpoints"): [
                ", ".join(names.touchpoint(x) for x in row) for row in frame["touchpoints"].to_list()
            ],
            t("voc.col.channels"): [", ".join(channel_name(x) for x in row) for row in frame["channels"].to_list()],
            t("voc.col.keywords"): frame["keywords"],
        }
    )


def verbatim_display(frame: pl.DataFrame, names: Labels, timezone: str) -> pl.DataFrame:
    return pl.DataFrame(
        {
            t("voc.col.when"): frame["occurred_at"].dt.convert_time_zone(timezone).dt.strftime("%Y-%m-%d %H:%M"),
            t("voc.col.channel"): [channel_name(x) for x in frame["channel"].to_list()],
            t("voc.col.touchpoint"): [names.touchpoint(x) for x in frame["touchpoint"].to_list()],
            t("voc.col.label"): [label_name(x) for x in frame["label"].to_list()],
            t("voc.col.confidence"): (frame["confidence"] * 100).round(0),
            t("voc.col.sentiment"): [sentiment_word(v) for v in frame["sentiment"].to_list()],
            t("voc.col.customer"): frame["customer"],
            t("voc.col.text"): frame["text"],
            t("voc.col.topics"): [", ".join(topic_name(x) for x in row) for row in frame["topics"].to_list()],
        }
    )


def export_frame(frame: pl.DataFrame, names: Labels, timezone: str) -> pl.DataFrame:
    """The verbatims as exported: the displayed (already masked) columns plus the interaction id."""
    return verbatim_display(frame, names, timezone).with_columns(frame["interaction_id"].alias("interaction_id"))


def summary_metrics(current: voc.VocSummary) -> list[tuple[str, str, str | None, str]]:
    """(label, value, change vs previous period, delta colour) for the metric row: texts, complaint / inquiry /
    suggestion shares, mean sentiment. More complaints read as worse, higher sentiment as better."""
    from ui.format import fmt_count, fmt_pct, fmt_points

    rows: list[tuple[str, str, str | None, str]] = []
    previous = current.previous_texts
    change = f"{current.texts - previous:+,d}" if previous else None
    rows.append((t("voc.metric.texts"), fmt_count(current.texts), change, "off"))
    for label, key, colour in (
        ("complaint", "voc.metric.complaints", "inverse"),
        ("inquiry", "voc.metric.inquiries", "off"),
        ("suggestion", "voc.metric.suggestions", "off"),
    ):
        now, before = current.share(label), current.share(label, previous=True)
        delta = fmt_points(now - before) if now is not None and before is not None else None
        rows.append((t(key), fmt_pct(now), delta, colour))
    now_s, before_s = current.sentiment, current.previous_sentiment
    rows.append(
        (
            t("voc.metric.sentiment"),
            "–" if now_s is None else f"{now_s:+.2f}",
            f"{now_s - before_s:+.2f}" if now_s is not None and before_s is not None else None,
            "normal",
        )
    )
    return rows


# --------------------------------------------------------------------------------------------- charts


def terms_chart(frame: pl.DataFrame, term_type: str) -> go.Figure:
    """Horizontal bars of the top terms, coloured by sentiment band (named in the legend and the hover)."""
    names = [topic_name(x) if term_type == "topic" else x for x in frame["term"].to_list()]
    bands = [t(f"voc.sentiment.{voc.sentiment_band(v)}") for v in frame["sentiment"].to_list()]
    data = pl.DataFrame({"term": names, "texts": frame["texts"], "band": bands})
    colours = {t(f"voc.sentiment.{k}"): v for k, v in SENTIMENT_COLOURS.items()}
    figure = px.bar(
        data,
        x="texts",
        y="term",
        orientation="h",
        color="band",
        color_discrete_map=colours,
        labels={"texts": t("voc.col.texts"), "term": "", "band": t("voc.col.sentiment")},
    )
    figure.update_layout(
        yaxis={"categoryorder": "total ascending"}, height=max(320, 24 * len(names) + 80), hovermode="closest"
    )
    return figure


def mix_chart(frame: pl.DataFrame, by: str, names: Labels | None = None) -> go.Figure:
    """Stacked bars of texts per class for each key of ``by``: periods (vertical) or touchpoints, channels and
    stages (horizontal)."""
    keys = frame["key"].to_list()
    if by == "touchpoint" and names is not None:
        shown = [names.touchpoint(k) for k in keys]
    elif by == "stage" and names is not None:
        shown = [names.stage(k) for k in keys]
    elif by == "channel":
        shown = [channel_name(k) for k in keys]
    else:
        shown = [str(k) for k in keys]
    data = pl.DataFrame(
        {"key": shown, "label": [label_name(x) for x in frame["label"].to_list()], "texts": frame["texts"]}
    )
    colours = {label_name(k): v for k, v in LABEL_COLOURS.items()}
    horizontal = by not in voc.GRAINS
    figure = px.bar(
        data,
        x="texts" if horizontal else "key",
        y="key" if horizontal else "texts",
        color="label",
        color_discrete_map=colours,
        category_orders={"label": [label_name(k) for k in voc.LABELS]},
        orientation="h" if horizontal else "v",
        labels={"texts": t("voc.col.texts"), "key": "", "label": t("voc.col.label")},
    )
    figure.update_layout(barmode="stack")
    if horizontal:
        figure.update_layout(
            yaxis={"categoryorder": "total ascending"}, height=max(320, 26 * len(set(shown)) + 80), hovermode="closest"
        )
    return figure


def trend_chart(frame: pl.DataFrame, term_type: str) -> go.Figure:
    data = frame.with_columns(
        pl.Series("term", [topic_name(x) if term_type == "topic" else x for x in frame["term"].to_list()])
    )
    return px.line(
        data,
        x="period",
        y="texts",
        color="term",
        markers=True,
        labels={"period": "", "texts": t("voc.col.texts"), "term": t("voc.col.term")},
    )


def option_names(values: Sequence[str], term_type: str) -> dict[str, str]:
    return {v: topic_name(v) if term_type == "topic" else v for v in values}
