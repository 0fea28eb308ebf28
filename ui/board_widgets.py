"""KPI board widgets: formatted KPI values, tiles (value, status, target, MoM / YoY and a sparkline), the trend and
breakdown charts, chart selections turned into drill-down slices, the export table and the printable snapshot.

Built for cheap reruns in the browser (docs/benchmarks.md, "Boards"): all tiles are one element and a sparkline a line
of block characters (a chart per tile costs a Vega view each, re-created on every change); the on-screen charts
are Vega-Lite specs that do not depend on the data, so a new period or dimension only swaps the data of the chart
already drawn (a Plotly chart is re-created from scratch whenever its figure changes). The printable snapshot keeps
Plotly figures (one self-contained HTML file with plotly.js, built only when asked for).
"""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from datetime import date, datetime, timedelta
from typing import Any

import plotly.graph_objects as go
import polars as pl
import streamlit as st

from cx.board_queries import Slice, TileValue, tiles_table
from cx.boards import Tile, status
from cx.filters import Filters
from cx.kpi import KPIS
from ui.charts import FONT_FAMILY, SERIES_COLOURS, STATUS_COLOURS, STATUS_SYMBOL, status_label
from ui.format import fmt_count, fmt_duration, fmt_pct, fmt_points, fmt_score
from ui.i18n import Language, current_language, t
from ui.safe import md_escape

#: Width of a tile in pixels: four to a row on a wide screen, wrapping on narrower ones.
TILE_WIDTH = 300
SPARK_WIDTH = 31
_SPARK_BLOCKS = "▁▂▃▄▅▆▇█"
TREND_SELECTION = "trend_pick"
#: Draw board charts as SVG (a few dozen marks): each bar and point is an element the browser, assistive
#: technology and the browser tests can address, where the default canvas is one opaque bitmap.
SVG_RENDERER = {"embedOptions": {"renderer": "svg"}}
BAR_SELECTION = "bar_pick"
#: About this many ticks on a chart's value and time axes: a 90-day range would otherwise get a tick (and a hidden
#: label) per two days, and every one of them is an SVG element the browser replaces when the period changes.
AXIS_TICKS = 6


# --------------------------------------------------------------------------------------------- numbers


def fmt_kpi(value: float | None, key: str, language: Language | None = None) -> str:
    """A KPI value as people read it: 72.4 %, NPS 31.3 (never a percentage), 3 min 20 s, 1.2万."""
    unit = KPIS[key].unit
    if unit == "percent":
        return fmt_pct(value)
    if unit == "seconds":
        return fmt_duration(value, language)
    if unit == "count":
        return fmt_count(value, language)
    return fmt_score(value)


def fmt_change(change: float | None, key: str, language: Language | None = None) -> str:
    """A change in the KPI's unit: +3.1 pts (percentages), +3.1 (scores), −40 s, +1.2k."""
    if change is None:
        return "–"
    unit = KPIS[key].unit
    if unit == "percent":
        return fmt_points(change, language=language)
    sign = "+" if change >= 0 else "-"
    if unit == "seconds":
        return sign + fmt_duration(abs(change), language)
    if unit == "count":
        return sign + fmt_count(abs(change), language)
    return f"{change:+.1f}"


def dimension_label(
    dimension: str, value: str | None, labels: Mapping[str, str], language: Language | None = None
) -> str:
    """A dimension value for display: channel names and touchpoint / stage names translated."""
    if not value:
        return t("board.dim.none", language)
    if dimension == "channel":
        return t(f"channel.{value}", language)
    return labels.get(value, value)


# --------------------------------------------------------------------------------------------- tiles


def text_sparkline(values: Sequence[float | None], width: int = SPARK_WIDTH) -> str:
    """A word-sized sparkline of block characters, lowest value ``▁`` to highest ``█`` (a gap for a bucket without
    data); more than ``width`` buckets are averaged down to ``width``. Empty when fewer than two values exist."""
    if sum(v is not None for v in values) < 2:
        return ""
    if len(values) > width:
        bins: list[list[float]] = [[] for _ in range(width)]
        for index, value in enumerate(values):
            if value is not None:
                bins[index * width // len(values)].append(value)
        values = [sum(b) / len(b) if b else None for b in bins]
    present = [v for v in values if v is not None]
    low, high = min(present), max(present)
    top = len(_SPARK_BLOCKS) - 1
    if high == low:
        return "".join(" " if v is None else _SPARK_BLOCKS[top // 2] for v in values)
    return "".join(" " if v is None else _SPARK_BLOCKS[round((v - low) / (high - low) * top)] for v in values)


def tile_label(value: TileValue, language: Language | None = None) -> str:
    """The tile's label as plain text: the KPI's name and its status against the target (symbol + word)."""
    return f"{t(KPIS[value.kpi].name_key, language)} · {status_label(value.status, language)}"


def tile_details(value: TileValue, tile: Tile, language: Language | None = None) -> list[str]:
    """The lines under the change: what it compares with, the target, MoM and YoY, then the sparkline."""
    figures = []
    if tile.target is not None:
        figures.append(t("board.target", language, target=fmt_kpi(tile.target, value.kpi, language)))
    figures += [
        t("board.mom", language, change=fmt_change(value.mom_change, value.kpi, language)),
        t("board.yoy", language, change=fmt_change(value.yoy_change, value.kpi, language)),
    ]
    lines = [t("board.vs_previous", language), " · ".join(figures)]
    spark = text_sparkline(value.spark_values)
    if spark:
        lines.append(spark)
    return lines


def change_status(change: float | None, direction: str) -> str:
    """Whether a change is good, bad or neutral for a KPI where ``direction`` ("higher" / "lower") is better."""
    if change is None or change == 0:
        return "neutral"
    return "good" if (change > 0) == (direction == "higher") else "bad"


#: The tiles' look: a wrapping row of bordered cards (the colours read on the light and the dark theme alike). Sent
#: once per page run (:func:`render_tile_style`), not with every redraw of the tiles: a new style sheet makes the
#: browser restyle the whole page.
TILE_STYLE = (
    "<style>"
    ".cx-tiles{display:flex;flex-wrap:wrap;gap:.5rem}"
    f".cx-tile{{width:{TILE_WIDTH}px;box-sizing:border-box;border:1px solid rgba(128,128,128,.35);"
    "border-radius:.5rem;padding:.75rem 1rem;cursor:help}"
    ".cx-tile-label{font-size:.875rem}"
    ".cx-tile-value{font-size:2.25rem;line-height:1.25}"
    ".cx-tile-change{font-size:.875rem;font-weight:600}"
    ".cx-tile-details{font-size:.8rem;opacity:.75;margin-top:.25rem}"
    "</style>"
)


def tiles_html(values: Sequence[TileValue], tiles: Sequence[Tile], language: Language | None = None) -> str:
    """The tiles as one block of HTML, every text escaped (KPI names and help from the catalogue, formatted numbers;
    nothing a user typed): per tile the name and status (symbol, word and colour), the value, the change vs the previous
    period (arrow, coloured by whether it is good for this KPI) and :func:`tile_details`; the KPI's definition is the
    tile's tooltip. One element instead of a st.metric per tile: a period switch redraws one block of text, where eight
    metrics cost the browser about a third of the board's rerun (docs/benchmarks.md, "Boards")."""
    by_kpi = {tile.kpi: tile for tile in tiles}
    cards = []
    for value in values:
        tile = by_kpi[value.kpi]
        name = t(KPIS[value.kpi].name_key, language)
        word = status_label(value.status, language)
        if value.change is None:
            change = ""
        else:
            moved = change_status(value.change, tile.direction)
            arrow = "↑" if value.change > 0 else "↓" if value.change < 0 else "→"
            change = (
                f'<div class="cx-tile-change" style="color:{STATUS_COLOURS[moved]}">'
                f"{arrow} {html.escape(fmt_change(value.change, value.kpi, language))}</div>"
            )
        details = "<br>".join(html.escape(line) for line in tile_details(value, tile, language))
        cards.append(
            f'<div class="cx-tile" role="group" aria-label="{html.escape(tile_label(value, language))}" '
            f'data-kpi="{html.escape(value.kpi)}" '
            f'title="{html.escape(t(KPIS[value.kpi].help_key, language))}">'
            f'<div class="cx-tile-label">{html.escape(name)} · '
            f'<span style="color:{STATUS_COLOURS[value.status]}">{html.escape(word)}</span></div>'
            f'<div class="cx-tile-value">{html.escape(fmt_kpi(value.value, value.kpi, language))}</div>'
            f'{change}<div class="cx-tile-details">{details}</div></div>'
        )
    return f'<div class="cx-tiles">{"".join(cards)}</div>'


def render_tile_style() -> None:
    """The tiles' style sheet (:data:`TILE_STYLE`, a constant), once per page run, outside the fragment that redraws
    the tiles."""
    st.html(TILE_STYLE)


def render_tiles(values: Sequence[TileValue], tiles: Sequence[Tile]) -> None:
    """The tiles (:func:`tiles_html`) as one element; the page calls :func:`render_tile_style` once."""
    st.html(tiles_html(values, tiles))


# --------------------------------------------------------------------------------------------- charts


def _axis_title(key: str, language: Language | None = None) -> str:
    unit = t(f"board.unit.{KPIS[key].unit}", language)
    return f"{t(KPIS[key].name_key, language)} ({unit})"


def trend_figure(
    trend: pl.DataFrame, key: str, tile: Tile | None, grain: str, language: Language | None = None
) -> go.Figure:
    """The KPI per bucket, the same bucket a year earlier (dashed) and the target line; points carry their
    bucket's first and last day for the drill-down."""
    figure = go.Figure()
    buckets = trend["bucket"].to_list()
    ends = [bucket_end(b, grain) for b in buckets]
    custom = [[b.isoformat(), e.isoformat()] for b, e in zip(buckets, ends, strict=True)]
    figure.add_trace(
        go.Scatter(
            x=buckets,
            y=trend["value"].to_list(),
            mode="lines+markers",
            name=t("board.series.value", language),
            customdata=custom,
            line={"width": 2.5},
        )
    )
    if trend["year_ago"].drop_nulls().len():
        figure.add_trace(
            go.Scatter(
                x=buckets,
                y=trend["year_ago"].to_list(),
                mode="lines",
                name=t("board.series.year_ago", language),
                line={"dash": "dot", "color": STATUS_COLOURS["neutral"]},
                customdata=custom,
            )
        )
    if tile is not None and tile.target is not None:
        figure.add_hline(
            y=tile.target,
            line={"dash": "dash", "color": STATUS_COLOURS["good"]},
            annotation_text=f"{t('board.series.target', language)} {fmt_kpi(tile.target, key, language)}",
            annotation_position="top left",
        )
    figure.update_layout(
        title=t("board.trend_of", language, kpi=t(KPIS[key].name_key, language)),
        yaxis_title=_axis_title(key, language),
        height=340,
    )
    return figure


def breakdown_figure(
    table: pl.DataFrame,
    key: str,
    dimension: str,
    tile: Tile | None,
    labels: Mapping[str, str],
    language: Language | None = None,
) -> go.Figure:
    """Horizontal bars per dimension value, coloured by status against the tile's target (with the status symbol
    in the bar label, so colour is never the only signal); each bar carries its raw value for the drill-down."""
    values = table["value"].to_list()
    raw = table[dimension].to_list()
    statuses = [status(v, tile) if tile is not None else "neutral" for v in values]
    figure = go.Figure(
        go.Bar(
            x=values,
            y=[dimension_label(dimension, r, labels, language) for r in raw],
            orientation="h",
            marker={"color": [STATUS_COLOURS[s] for s in statuses]},
            text=[f"{STATUS_SYMBOL[s]} {fmt_kpi(v, key, language)}" for s, v in zip(statuses, values, strict=True)],
            textposition="auto",
            customdata=[[r or ""] for r in raw],
            hovertemplate="%{y}: %{text}<extra></extra>",
        )
    )
    if tile is not None and tile.target is not None:
        figure.add_vline(x=tile.target, line={"dash": "dash", "color": STATUS_COLOURS["good"]})
    figure.update_layout(
        height=max(220, 36 * len(values) + 80),
        yaxis={"autorange": "reversed"},
        xaxis_title=_axis_title(key, language),
        hovermode="closest",
        margin={"l": 10, "r": 10, "t": 20, "b": 10},
    )
    return figure


def what_moved_text(moved: pl.DataFrame, key: str, labels: Mapping[str, str], language: Language | None = None) -> str:
    """ "What moved" as one Markdown block: a heading, then per touchpoint its value and change with an arrow and a
    word (worse / better), or what to do when there is nothing to compare."""
    lines = [f"#### {t('board.what_moved', language)}"]
    if moved.height == 0:
        lines.append(t("board.what_moved_empty", language))
    for row in moved.iter_rows(named=True):
        word = t("board.moved.worse", language) if row["worse"] else t("board.moved.better", language)
        name = md_escape(dimension_label("touchpoint", row["touchpoint"], labels, language))
        line = t(
            "board.moved.line",
            language,
            name=name,
            value=fmt_kpi(row["value"], key, language),
            change=fmt_change(row["change"], key, language),
            word=word,
        )
        lines.append(("▼ " if row["worse"] else "▲ ") + line)
    return lines[0] + "\n\n" + "  \n".join(lines[1:])


def bucket_end(bucket: date, grain: str) -> date:
    """The last day of a trend bucket."""
    if grain == "1w":
        return bucket + timedelta(days=6)
    if grain == "1mo":
        following = date(bucket.year + bucket.month // 12, bucket.month % 12 + 1, 1)
        return following - timedelta(days=1)
    return bucket


# --------------------------------------------------------------------------------------------- on-screen charts


def _vega_config() -> dict[str, Any]:
    """The look of ui/charts.py's Plotly template ("cx") for Vega-Lite: fonts that render Chinese, light grid."""
    return {
        "font": FONT_FAMILY,
        "view": {"stroke": None},
        "axis": {"labelFontSize": 12, "titleFontSize": 12, "gridColor": "#eaeef2", "domainColor": "#d0d7de"},
        "axisX": {"grid": False},
        "legend": {"orient": "top", "labelFontSize": 12, "title": None},
        "background": "white",
    }


def trend_spec(key: str, tile: Tile | None, language: Language | None = None) -> dict[str, Any]:
    """The trend chart (Vega-Lite; data from :func:`trend_data`): the KPI per bucket with points, the same bucket a
    year earlier (dotted) and the target line; clicking a point selects its bucket (``first_day``, ``last_day``).

    The spec depends only on the KPI, its target and the language, so a new period swaps the data in place."""
    value, year_ago, target = (t(f"board.series.{s}", language) for s in ("value", "year_ago", "target"))
    has_target = tile is not None and tile.target is not None
    domain = [value, year_ago] + ([target] if has_target else [])
    palette = [SERIES_COLOURS[0], STATUS_COLOURS["neutral"], STATUS_COLOURS["good"]]
    colours = {"domain": domain, "range": palette[: len(domain)]}
    x = {
        "field": "first_day",
        "type": "temporal",
        "timeUnit": "utcyearmonthdate",
        "title": None,
        "axis": {"format": "%Y-%m-%d", "labelOverlap": "greedy", "tickCount": AXIS_TICKS},
    }
    tooltip = [
        {"field": "when", "title": t("board.col.period", language)},
        {"field": "value_text", "title": t(KPIS[key].name_key, language)},
        {"field": "year_ago_text", "title": year_ago},
    ]
    layers: list[dict[str, Any]] = [
        {
            "mark": {"type": "line", "strokeWidth": 2.5, "point": {"filled": True, "size": 45}, "cursor": "pointer"},
            "encoding": {
                "x": x,
                "y": {"field": "value", "type": "quantitative", "title": _axis_title(key, language)},
                "color": {"datum": value, "scale": colours},
                "tooltip": tooltip,
            },
            "params": [
                {
                    "name": TREND_SELECTION,
                    "select": {"type": "point", "fields": ["first_day", "last_day"], "on": "click"},
                }
            ],
        },
        {
            "mark": {"type": "line", "strokeDash": [2, 3], "strokeWidth": 1.5},
            "encoding": {"x": x, "y": {"field": "year_ago", "type": "quantitative"}, "color": {"datum": year_ago}},
        },
    ]
    if has_target:
        layers.append(
            {
                "mark": {"type": "rule", "strokeDash": [6, 4], "strokeWidth": 1.5},
                "encoding": {
                    "y": {"field": "target", "type": "quantitative", "aggregate": "max"},
                    "color": {"datum": target},
                },
            }
        )
    return {
        "title": {"text": t("board.trend_of", language, kpi=t(KPIS[key].name_key, language)), "anchor": "start"},
        "height": 300,
        "layer": layers,
        "config": _vega_config(),
        "usermeta": SVG_RENDERER,
    }


def trend_data(
    trend: pl.DataFrame, key: str, tile: Tile | None, grain: str, language: Language | None = None
) -> pl.DataFrame:
    """The rows of :func:`trend_spec`: bucket's first and last day (ISO), the values, their text and the target."""
    firsts = trend["bucket"].to_list()
    lasts = [bucket_end(b, grain) for b in firsts]
    values, year_ago = trend["value"].to_list(), trend["year_ago"].to_list()
    return pl.DataFrame(
        {
            "first_day": [d.isoformat() for d in firsts],
            "last_day": [d.isoformat() for d in lasts],
            "when": [
                f"{a:%Y-%m-%d}" if a == b else f"{a:%Y-%m-%d} – {b:%Y-%m-%d}"
                for a, b in zip(firsts, lasts, strict=True)
            ],
            "value": values,
            "year_ago": year_ago,
            "value_text": [fmt_kpi(v, key, language) for v in values],
            "year_ago_text": [fmt_kpi(v, key, language) for v in year_ago],
            "target": [tile.target if tile is not None else None] * len(firsts),
        },
        schema_overrides={"value": pl.Float64, "year_ago": pl.Float64, "target": pl.Float64},
    )


def breakdown_spec(key: str, tile: Tile | None, language: Language | None = None) -> dict[str, Any]:
    """The breakdown chart (Vega-Lite; data from :func:`breakdown_data`): one horizontal bar per value, coloured by
    status with the status symbol in its label, and the target line; clicking a bar selects its raw value
    (``raw``). Independent of the dimension and the data, so switching either swaps the data in place."""
    y = {"field": "label", "type": "nominal", "sort": None, "title": None, "axis": {"labelLimit": 220}}
    x = {
        "field": "value",
        "type": "quantitative",
        "title": _axis_title(key, language),
        "axis": {"tickCount": AXIS_TICKS},
    }
    tooltip = [
        {"field": "label", "title": t("board.col.value", language)},
        {"field": "text", "title": t(KPIS[key].name_key, language)},
        {"field": "change_text", "title": t("board.col.change", language)},
        {"field": "volume", "title": t("board.col.volume", language), "format": ",.0f"},
    ]
    layers: list[dict[str, Any]] = [
        {
            "mark": {"type": "bar", "cursor": "pointer"},
            "encoding": {
                "y": y,
                "x": x,
                "color": {"field": "colour", "type": "nominal", "scale": None, "legend": None},
                "tooltip": tooltip,
            },
            "params": [{"name": BAR_SELECTION, "select": {"type": "point", "fields": ["raw"], "on": "click"}}],
        },
        {
            "mark": {"type": "text", "align": "left", "baseline": "middle", "dx": 4, "fontSize": 12},
            "encoding": {"y": y, "x": x, "text": {"field": "text"}},
        },
    ]
    if tile is not None and tile.target is not None:
        layers.append(
            {
                "mark": {"type": "rule", "strokeDash": [6, 4], "color": STATUS_COLOURS["good"]},
                "encoding": {"x": {"field": "target", "type": "quantitative", "aggregate": "max"}},
            }
        )
    return {"height": {"step": 30}, "layer": layers, "config": _vega_config(), "usermeta": SVG_RENDERER}


def breakdown_data(
    table: pl.DataFrame,
    key: str,
    dimension: str,
    tile: Tile | None,
    labels: Mapping[str, str],
    language: Language | None = None,
) -> pl.DataFrame:
    """The rows of :func:`breakdown_spec`: label, raw value, KPI value and its text (status symbol first), colour by
    status against the tile's target, change vs the previous period, volume and the target."""
    values, raw = table["value"].to_list(), table[dimension].to_list()
    statuses = [status(v, tile) if tile is not None else "neutral" for v in values]
    return pl.DataFrame(
        {
            "label": [dimension_label(dimension, r, labels, language) for r in raw],
            "raw": [r or "" for r in raw],
            "value": values,
            "text": [f"{STATUS_SYMBOL[s]} {fmt_kpi(v, key, language)}" for s, v in zip(statuses, values, strict=True)],
            "colour": [STATUS_COLOURS[s] for s in statuses],
            "change_text": [fmt_change(c, key, language) for c in table["change"].to_list()],
            "volume": table["volume"].to_list(),
            "target": [tile.target if tile is not None else None] * table.height,
        },
        schema_overrides={"value": pl.Float64, "volume": pl.Float64, "target": pl.Float64},
    )


def slice_from_selection(event: Any, *, kpi: str, dimension: str | None = None) -> Slice | None:
    """The drill-down slice of a chart selection (st.vega_lite_chart state: a clicked bar or trend point), or None
    when nothing is selected."""
    selection = (event or {}).get("selection") or {}
    points = selection.get(BAR_SELECTION if dimension is not None else TREND_SELECTION) or []
    if not points or not isinstance(points, list) or not isinstance(points[0], Mapping):
        return None
    point = points[0]
    if dimension is not None:
        value = point.get("raw")
        return Slice(dimension=dimension, value=str(value) if value else None, kpi=kpi)
    first, last = point.get("first_day"), point.get("last_day")
    if not first:
        return None
    start = date.fromisoformat(str(first)[:10])
    return Slice(start=start, end=date.fromisoformat(str(last)[:10]) if last else start, kpi=kpi)


# --------------------------------------------------------------------------------------------- export and print


def export_table(values: Sequence[TileValue], period: Filters, language: Language | None = None) -> pl.DataFrame:
    """The board's table with translated headers and KPI names and the period it covers (first and last day);
    numbers stay numbers (formula-safe export)."""
    language = language or current_language()
    table = tiles_table(values).with_columns(
        pl.lit(period.start).alias("period_start"), pl.lit(period.end).alias("period_end")
    )
    return table.with_columns(
        pl.col("kpi").replace_strict({k: t(KPIS[k].name_key, language) for k in table["kpi"]}, default=None),
        pl.col("unit").replace_strict({u: t(f"board.unit.{u}", language) for u in table["unit"]}, default=None),
        pl.col("status").replace_strict({s: t(f"status.{s}", language) for s in table["status"]}, default=None),
    ).rename(
        {
            "kpi": t("board.col.kpi", language),
            "unit": t("board.col.unit", language),
            "value": t("board.col.value", language),
            "target": t("board.col.target", language),
            "status": t("board.col.status", language),
            "previous_period": t("board.col.previous", language),
            "change": t("board.col.change", language),
            "month_ago": t("board.col.month_ago", language),
            "mom_change": t("board.col.mom", language),
            "year_ago": t("board.col.year_ago", language),
            "yoy_change": t("board.col.yoy", language),
            "period_start": t("board.col.period_start", language),
            "period_end": t("board.col.period_end", language),
        }
    )


def snapshot_html(
    *,
    title: str,
    subtitle: str,
    values: Sequence[TileValue],
    tiles: Sequence[Tile],
    figures: Sequence[go.Figure],
    language: Language,
) -> bytes:
    """A self-contained, print-friendly HTML page (every text escaped; charts embedded with plotly.js, so it works
    offline): open it in a browser and print or save as PDF."""
    by_kpi = {tile.kpi: tile for tile in tiles}
    headers = [t(k, language) for k in ("board.col.kpi", "board.col.value", "board.col.target", "board.col.status")] + [
        t(k, language) for k in ("board.col.change", "board.col.mom", "board.col.yoy")
    ]
    rows = []
    for value in values:
        tile = by_kpi[value.kpi]
        cells = [
            t(KPIS[value.kpi].name_key, language),
            fmt_kpi(value.value, value.kpi, language),
            fmt_kpi(tile.target, value.kpi, language) if tile.target is not None else "–",
            status_label(value.status, language),
            fmt_change(value.change, value.kpi, language),
            fmt_change(value.mom_change, value.kpi, language),
            fmt_change(value.yoy_change, value.kpi, language),
        ]
        colour = STATUS_COLOURS[value.status]
        rows.append(
            "<tr>"
            + "".join(
                f'<td style="color:{colour}">{html.escape(c)}</td>' if i == 3 else f"<td>{html.escape(c)}</td>"
                for i, c in enumerate(cells)
            )
            + "</tr>"
        )
    charts = [
        f.to_html(full_html=False, include_plotlyjs=(i == 0), config={"staticPlot": True})
        for i, f in enumerate(figures)
    ]
    page = f"""<!DOCTYPE html>
<html lang="{"zh-CN" if language == "zh" else "en"}"><head><meta charset="utf-8"><title>{html.escape(title)}</title>
<style>
body {{ font-family: "Noto Sans CJK SC", "PingFang SC", "Microsoft YaHei", sans-serif; margin: 24px; color: #1f2328; }}
table {{ border-collapse: collapse; width: 100%; margin: 16px 0; }}
th, td {{ border: 1px solid #d0d7de; padding: 6px 10px; text-align: left; }}
th {{ background: #f6f8fa; }}
.chart {{ page-break-inside: avoid; margin: 12px 0; }}
@media print {{ body {{ margin: 0; }} }}
</style></head><body>
<h1>{html.escape(title)}</h1><p>{html.escape(subtitle)}</p>
<table><thead><tr>{"".join(f"<th>{html.escape(h)}</th>" for h in headers)}</tr></thead>
<tbody>{"".join(rows)}</tbody></table>
{"".join(f'<div class="chart">{c}</div>' for c in charts)}
</body></html>"""
    return page.encode("utf-8")


def generated_line(user: str, at: datetime, language: Language) -> str:
    return t("board.snapshot_generated", language, at=at.strftime("%Y-%m-%d %H:%M"), user=user)


# --------------------------------------------------------------------------------------------- tile editor


def tiles_editor(tiles: Sequence[Tile], key: str) -> list[dict[str, Any]]:
    """An editable table of tiles (order = row order; add or delete rows); returns plain dicts for
    cx.boards.parse_tiles, which validates them on save."""
    names = {k: t(d.name_key) for k, d in KPIS.items()}
    rows = [
        {
            "kpi": names[tile.kpi],
            "target": tile.target,
            "direction": t(f"board.direction.{tile.direction}"),
            "warning_band": tile.warning_band,
        }
        for tile in tiles
    ]
    directions = {t("board.direction.higher"): "higher", t("board.direction.lower"): "lower"}
    edited = st.data_editor(
        rows,
        key=key,
        num_rows="dynamic",
        width="stretch",
        column_config={
            "kpi": st.column_config.SelectboxColumn(t("board.field.kpi"), options=list(names.values()), required=True),
            "target": st.column_config.NumberColumn(t("board.field.target")),
            "direction": st.column_config.SelectboxColumn(t("board.field.direction"), options=list(directions)),
            "warning_band": st.column_config.NumberColumn(t("board.field.warning_band"), min_value=0.0),
        },
    )
    by_name = {name: k for k, name in names.items()}
    return [
        {
            "kpi": by_name.get(row.get("kpi"), row.get("kpi")),
            "target": row.get("target"),
            "direction": directions.get(row.get("direction")),
            "warning_band": row.get("warning_band") or 0.0,
        }
        for row in edited
        if row.get("kpi")
    ]
