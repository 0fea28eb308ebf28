"""Board widgets without a browser: KPI formatting, chart selections to drill-down slices, export and snapshot."""

from __future__ import annotations

from datetime import date

import plotly.graph_objects as go
import polars as pl

from cx.board_queries import Slice, TileValue
from cx.boards import Tile
from cx.export import to_csv_bytes
from cx.filters import Filters
from ui.board_widgets import (
    TILE_STYLE,
    breakdown_data,
    breakdown_spec,
    bucket_end,
    change_status,
    export_table,
    fmt_change,
    fmt_kpi,
    slice_from_selection,
    snapshot_html,
    text_sparkline,
    tile_details,
    tile_label,
    tiles_html,
    trend_data,
    trend_spec,
    what_moved_text,
)


def test_kpi_values_and_changes_by_unit() -> None:
    assert fmt_kpi(31.25, "nps", "en") == "31.2" and fmt_kpi(-100.0, "nps", "en") == "-100.0"  # never a percentage
    assert fmt_kpi(72.44, "csat", "en") == "72.4 %"
    assert fmt_kpi(200.0, "aht", "en") == "3 min 20 s" and fmt_kpi(200.0, "aht", "zh") == "3 分 20 秒"
    assert fmt_kpi(12345.0, "contact_volume", "zh") == "1.2万"
    assert fmt_kpi(None, "csat", "en") == "–"
    assert fmt_change(3.14, "csat", "en") == "+3.1 pts" and fmt_change(-2.0, "nps", "en") == "-2.0"
    assert fmt_change(-40.0, "asa", "en") == "-40 s" and fmt_change(None, "asa", "en") == "–"


def test_chart_selections_become_slices() -> None:
    bar = {"selection": {"bar_pick": [{"raw": "phone"}]}}
    assert slice_from_selection(bar, kpi="aht", dimension="channel") == Slice("channel", "phone", kpi="aht")
    empty_value = {"selection": {"bar_pick": [{"raw": ""}]}}
    assert slice_from_selection(empty_value, kpi="aht", dimension="team") == Slice("team", None, kpi="aht")
    point = {"selection": {"trend_pick": [{"first_day": "2026-01-05", "last_day": "2026-01-11"}]}}
    assert slice_from_selection(point, kpi="nps") == Slice(start=date(2026, 1, 5), end=date(2026, 1, 11), kpi="nps")
    assert slice_from_selection({"selection": {"trend_pick": []}}, kpi="nps") is None
    assert slice_from_selection({"selection": {"bar_pick": {}}}, kpi="nps", dimension="channel") is None
    assert slice_from_selection(None, kpi="nps") is None
    assert bucket_end(date(2026, 2, 1), "1mo") == date(2026, 2, 28) and bucket_end(date(2025, 12, 1), "1mo") == date(
        2025, 12, 31
    )


def _tile(kpi: str, value: float | None) -> TileValue:
    return TileValue(kpi, value, 1.0, 2.0, None, 30.0, "bad", (), ())


def test_export_table_is_translated_and_formula_safe() -> None:
    table = export_table([_tile("nps", -12.5), _tile("csat", None)], Filters(date(2026, 1, 1), date(2026, 1, 31)), "zh")
    assert table.columns[:5] == ["指标", "单位", "数值", "目标", "状态"]
    assert table.columns[-2:] == ["起始日期", "结束日期"] and table["结束日期"].to_list() == [date(2026, 1, 31)] * 2
    assert table["指标"].to_list() == ["NPS 净推荐值", "CSAT 满意度"]
    assert table["数值"].to_list() == [-12.5, None]
    csv = to_csv_bytes(table).decode("utf-8-sig")
    assert "-12.5" in csv  # numbers stay numbers; only text cells are neutralised


def test_snapshot_escapes_text_and_embeds_charts() -> None:
    page = snapshot_html(
        title="<script>alert(1)</script>",
        subtitle="by <b>me</b>",
        values=[_tile("nps", 10.0)],
        tiles=[Tile("nps", 30.0, "higher", 10.0)],
        figures=[go.Figure(go.Bar(x=[1], y=[2]))],
        language="en",
    ).decode("utf-8")
    assert "<script>alert(1)</script>" not in page and "&lt;script&gt;" in page
    assert "by &lt;b&gt;me&lt;/b&gt;" in page
    assert "▼ Off target" in page and "plotly" in page.lower()


def test_text_sparkline_and_tile_caption() -> None:
    assert text_sparkline([1.0, 2.0, None, 4.0]) == "▁▃ █"
    assert text_sparkline([5.0, 5.0]) == "▄▄" and text_sparkline([3.0]) == "" and text_sparkline([]) == ""
    long = text_sparkline([float(i) for i in range(90)], width=30)
    assert len(long) == 30 and long[0] == "▁" and long[-1] == "█"
    value = TileValue("csat", 80.0, 78.0, 81.0, None, 85.0, "watch", (date(2026, 1, 1),), (79.0, 80.0))
    assert tile_label(value, "en") == "CSAT · ▲ Watch"
    details = tile_details(value, Tile("csat", 85.0, "higher", 5.0), "en")
    assert details == ["vs previous period", "Target 85.0 % · MoM -1.0 pts · YoY –", "▁█"]
    assert tile_details(value, Tile("csat"), "en")[1] == "MoM -1.0 pts · YoY –"


def test_change_colour_follows_the_kpis_direction() -> None:
    assert change_status(2.0, "higher") == "good" and change_status(-2.0, "higher") == "bad"
    assert change_status(2.0, "lower") == "bad" and change_status(-2.0, "lower") == "good"
    assert change_status(0.0, "lower") == "neutral" and change_status(None, "higher") == "neutral"


def test_tiles_html_shows_each_tile_and_escapes_every_text() -> None:
    values = [
        TileValue("csat", 80.0, 78.0, 81.0, None, 85.0, "watch", (date(2026, 1, 1),), (79.0, 80.0)),
        TileValue("aht", 420.0, 400.0, None, None, None, "bad", (), ()),
    ]
    tiles = [Tile("csat", 85.0, "higher", 5.0), Tile("aht", 300.0, "lower", 30.0)]
    page = tiles_html(values, tiles, "en")
    assert page.count('class="cx-tile"') == 2
    assert 'aria-label="CSAT · ▲ Watch"' in page and 'data-kpi="aht"' in page
    assert "80.0 %" in page and "Target 85.0 %" in page and "▁█" in page
    # CSAT rose (good, green); AHT rose by 20 s (bad for a lower-is-better KPI, red)
    assert 'style="color:#1a7f37">↑ +2.0 pts' in page and 'style="color:#cf222e">↑ +20 s' in page
    assert 'title="Share of 4 or 5 answers' in page  # the KPI's definition is the tooltip
    assert tiles_html([], [], "en") == '<div class="cx-tiles"></div>'
    # the style sheet is sent once per page run, not with every redraw of the tiles
    assert "<style" not in page and TILE_STYLE.startswith("<style>") and ".cx-tile{" in TILE_STYLE


def test_tiles_html_escapes_the_texts(monkeypatch) -> None:
    import ui.board_widgets as widgets

    monkeypatch.setattr(widgets, "t", lambda key, language=None, **_: '<img src=x onerror="alert(1)">')
    value = TileValue("nps", 10.0, 5.0, None, None, None, "good", (), ())
    page = widgets.tiles_html([value], [Tile("nps")], "en")
    assert "<img" not in page and "&lt;img src=x onerror=&quot;alert(1)&quot;&gt;" in page


def test_chart_specs_do_not_depend_on_the_data() -> None:
    """A new period or dimension must only swap the chart's data (the browser keeps the drawn chart)."""
    tile = Tile("nps", 30.0, "higher", 10.0)
    spec = trend_spec("nps", tile, "en")
    assert spec == trend_spec("nps", tile, "en") and "data" not in spec and "datasets" not in spec
    trend = pl.DataFrame(
        {"bucket": [date(2026, 1, 5), date(2026, 1, 12)], "value": [10.0, None], "year_ago": [None, -5.0]}
    )
    data = trend_data(trend, "nps", tile, "1w", "en")
    assert data.select("first_day", "last_day", "when").row(0) == (
        "2026-01-05",
        "2026-01-11",
        "2026-01-05 – 2026-01-11",
    )
    assert data["value_text"].to_list() == ["10.0", "–"] and data["target"].to_list() == [30.0, 30.0]
    assert breakdown_spec("nps", tile, "en") == breakdown_spec("nps", tile, "en")
    table = pl.DataFrame(
        {
            "channel": ["phone", ""],
            "value": [40.0, 10.0],
            "previous": [None, 20.0],
            "change": [None, -10.0],
            "volume": [9.0, 3.0],
        }
    )
    bars = breakdown_data(table, "nps", "channel", tile, {}, "en")
    assert bars["raw"].to_list() == ["phone", ""] and bars["text"].to_list() == ["● 40.0", "▼ 10.0"]
    assert bars["label"][1] == "(none)" and bars["change_text"].to_list() == ["–", "-10.0"]


def test_what_moved_is_one_block() -> None:
    moved = pl.DataFrame(
        {"touchpoint": ["repair", "x*y"], "value": [50.0, 70.0], "change": [-5.0, 2.0], "worse": [True, False]}
    )
    text = what_moved_text(moved, "csat", {"repair": "Repair"}, "en")
    assert text.splitlines()[0] == "#### What moved"
    assert "▼ Repair: 50.0 % (-5.0 pts, worse)" in text and "▲ x\\*y: 70.0 %" in text
    assert "widen" not in text and "previous period has no data" in what_moved_text(moved.head(0), "csat", {}, "en")
