"""KPI board: the tiles, trend, breakdowns, what moved and drill-down of the viewer's department or team.

The filter bar, tiles, exports and analysis form one fragment (the analysis a nested one), so changing a filter or
picking a KPI reruns that part only, not the shell, the sidebar or the header (docs/benchmarks.md, "Boards").
"""

from __future__ import annotations

from functools import partial

import polars as pl
import streamlit as st

from cx import board_queries as bq
from cx import boards
from cx.access import DEPARTMENTS
from cx.authz import record_denied
from cx.db import transaction
from cx.errors import ConflictError, CxError, PermissionDenied, ValidationError
from cx.export import to_csv_bytes, to_excel_bytes
from cx.filters import Filters
from cx.types import utcnow
from ui import board_data
from ui.board_widgets import (
    BAR_SELECTION,
    TREND_SELECTION,
    breakdown_data,
    breakdown_figure,
    breakdown_spec,
    dimension_label,
    export_table,
    generated_line,
    render_tile_style,
    render_tiles,
    slice_from_selection,
    snapshot_html,
    tiles_editor,
    trend_data,
    trend_figure,
    trend_spec,
    what_moved_text,
)
from ui.filters import filter_bar
from ui.freshness import stale_sources_banner
from ui.guard import page_context
from ui.i18n import current_language, t
from ui.safe import md_escape
from ui.session import current_principal

ctx = page_context("board")
principal, engine, url, language = ctx.principal, ctx.engine, ctx.settings.database_url, current_language()
DRILL = "board_drill"

# --- which board (decided on the server: a department head only ever gets their own department)
requested = st.query_params.get("department") or st.session_state.get("board_department")
if principal.can("board.view_any_department"):
    options = list(DEPARTMENTS)
    picked = st.sidebar.selectbox(
        t("board.department"),
        options,
        index=options.index(requested) if requested in options else options.index(boards.WHOLE_STORE_DEPARTMENT),
        format_func=lambda d: t("board.scope.all") if d == boards.WHOLE_STORE_DEPARTMENT else t(f"dept.{d}"),
        key="board_department",
    )
    requested = picked
    st.query_params["department"] = picked
try:
    scope = boards.board_scope(principal, requested)
except PermissionDenied:
    with transaction(engine) as session:
        record_denied(
            session, principal, "board.view_any_department", object_type="board", object_id=f"department:{requested}"
        )
    st.error(t("board.denied_department"), icon=":material/block:")
    st.stop()
except ValidationError as exc:
    st.error(str(exc))
    st.stop()

with transaction(engine) as session:
    board = boards.board_for(session, principal, scope)
    if st.session_state.get("board_viewed") != scope.scope_key:
        bq.record_board_event(session, principal, scope, "board.view")
        st.session_state["board_viewed"] = scope.scope_key

if scope.team:
    scope_name = t("board.scope.team", team=md_escape(scope.team))
elif scope.department:
    scope_name = t(f"dept.{scope.department}")
else:
    scope_name = t("board.scope.all")
board_title = t("board.title_scope", scope=scope_name)
header, export_csv, export_xlsx, print_button = st.columns([6, 1, 1, 1], vertical_alignment="bottom")
header.title(board_title)
header.caption(t(f"board.source.{board.source}", version=board.version))

labels = board_data.journey_labels(url, principal)
fact_segments = board_data.fact_segments(url, principal)
stale_sources_banner(engine, ctx.settings)
if not board_data.has_facts(url, principal, scope):
    st.info(t("board.no_facts"), icon=":material/info:")
    st.stop()

label_map = labels.labels(language)
dimensions = ("channel", "touchpoint", "stage", "team") + (("agent_id",) if scope.agent_level else ())
#: The figures on screen, for the export and print buttons (their files are built only when clicked).
snapshot: dict[str, object] = {}


#: Set while board_view runs: the nested analysis fragment then needs no second check of the viewer.
_viewer_checked: list[bool] = [False]


def _same_viewer() -> None:
    """A fragment rerun skips page_context: re-read the signed-in person and rerun the whole page (which checks it
    again and refuses if needed) when they are no longer the one this board was built for. Once per rerun."""
    if _viewer_checked[0]:
        return
    if current_principal(engine) != principal:
        st.rerun()


def _exports() -> None:
    """CSV, Excel and print buttons in the header, rendered with the page; each file is built from the figures on
    screen when clicked (the fragments below keep them in ``snapshot``), and each export is audited."""
    name = f"kpi-board-{scope.scope_key.replace(':', '-')}"

    def exported(kind: str, data: bytes) -> bytes:
        with transaction(engine) as session:
            bq.record_board_event(session, principal, scope, "board.export", format=kind)
        return data

    def table() -> pl.DataFrame:
        return export_table(snapshot["values"], snapshot["filters"], language)  # type: ignore[arg-type]

    def printable() -> bytes:
        filters: Filters = snapshot["filters"]  # type: ignore[assignment]
        key, tile, grain, tables = snapshot["key"], snapshot["tile"], snapshot["grain"], snapshot["tables"]
        figures = [trend_figure(snapshot["trend"], key, tile, grain, language)] + [  # type: ignore[arg-type]
            breakdown_figure(tables[d], key, d, tile, label_map, language)  # type: ignore[index]
            for d in ("channel", "touchpoint")
        ]
        title = t("board.snapshot_title", board=board_title, start=filters.start, end=filters.end)
        subtitle = generated_line(principal.display_name, utcnow().astimezone(ctx.settings.tz), language)
        page = snapshot_html(
            title=title, subtitle=subtitle, values=snapshot["values"], tiles=board.tiles, figures=figures,  # type: ignore[arg-type]
            language=language,
        )  # fmt: skip
        return exported("html", page)

    export_csv.download_button(
        t("board.export_csv"),
        data=lambda: exported("csv", to_csv_bytes(table())),
        file_name=f"{name}.csv",
        mime="text/csv",
        icon=":material/download:",
        key="board_export_csv",
        on_click="ignore",
    )
    export_xlsx.download_button(
        t("board.export_excel"),
        data=lambda: exported("xlsx", to_excel_bytes(table(), "KPI")),
        file_name=f"{name}.xlsx",
        mime="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        icon=":material/table:",
        key="board_export_xlsx",
        on_click="ignore",
    )
    print_button.download_button(
        t("board.print"),
        data=printable,
        file_name=f"{name}.html",
        mime="text/html",
        icon=":material/print:",
        help=t("board.print_help"),
        key="board_print",
        on_click="ignore",
    )


@st.fragment
def board_view() -> None:
    """Filter bar, exports, tiles and analysis: a filter change reruns this part of the page only."""
    _same_viewer()
    _viewer_checked[0] = True
    try:
        _board_view()
    finally:
        _viewer_checked[0] = False


def _board_view() -> None:
    filters = filter_bar(
        ctx.settings.timezone,
        stages=labels.stage_pairs(language),
        touchpoints=labels.touchpoint_pairs(language, scope.department),
        segments=fact_segments,
    )
    if filters.segments and not fact_segments:
        st.info(t("board.segment_unsupported"), icon=":material/info:")
    values = board_data.tiles(url, principal, scope, filters, board.tiles)
    snapshot.update(filters=filters, values=values)
    if all(v.value is None for v in values):
        st.info(t("board.no_facts_period"), icon=":material/info:")
    else:
        render_tiles(values, board.tiles)
    analysis(filters)


def _pick(chart_key: str, kpi: str, dimension: str | None) -> None:
    chosen = slice_from_selection(st.session_state.get(chart_key), kpi=kpi, dimension=dimension)
    if chosen is not None:
        st.session_state[DRILL] = chosen


@st.fragment
def analysis(filters: Filters) -> None:
    """Trend, breakdown, what moved and drill-down of one KPI: picking a KPI, a dimension or a bar reruns only this
    part. Both charts keep their spec while the data changes, so the browser swaps data instead of redrawing."""
    _same_viewer()
    kpi_names = {k: t(f"kpi.{k}") for k in board.kpis}
    selected = st.segmented_control(
        t("board.kpi_pick"), board.kpis, default=board.kpis[0], format_func=kpi_names.get, key="board_kpi"
    )
    key = selected or board.kpis[0]
    tile = board.tile(key)

    trend = board_data.trend(url, principal, scope, filters, key)
    grain = bq.spark_grain(filters)
    if trend.height:
        st.vega_lite_chart(
            trend_data(trend, key, tile, grain),
            trend_spec(key, tile),
            key="board_trend",
            on_select=partial(_pick, "board_trend", key, None),
            selection_mode=TREND_SELECTION,
            theme=None,
        )
    else:
        st.info(t("board.no_facts_period"), icon=":material/info:")

    dimension = st.segmented_control(
        t("board.breakdowns"),
        dimensions,
        default="channel",
        format_func=lambda d: t(f"board.dim.{d}"),
        key="board_dimension",
        help=t("board.click_hint"),
    )
    dimension = dimension or "channel"
    tables = board_data.breakdowns(url, principal, scope, filters, key, dimensions)
    if tables[dimension].height == 0:
        st.caption(t("board.no_facts_period"))
    else:
        st.vega_lite_chart(
            breakdown_data(tables[dimension], key, dimension, tile, label_map),
            breakdown_spec(key, tile),
            key="board_breakdown",
            on_select=partial(_pick, "board_breakdown", key, dimension),
            selection_mode=BAR_SELECTION,
            theme=None,
        )
    snapshot.update(key=key, tile=tile, trend=trend, grain=grain, tables=tables)
    st.markdown(what_moved_text(bq.moved(tables["touchpoint"], key, "touchpoint"), key, label_map))
    drill_down(filters)


def drill_down(filters: Filters) -> None:
    """The interactions behind the clicked element (masked for the viewer, audited)."""
    chosen = st.session_state.get(DRILL)
    if not isinstance(chosen, bq.Slice):
        return
    st.subheader(t("board.drill"))
    if chosen.dimension:
        value_label = md_escape(dimension_label(chosen.dimension, chosen.value, label_map))
        what = f"{t(f'board.dim.{chosen.dimension}')}: {value_label}"
    else:
        what = t("board.drill_day", start=chosen.start, end=chosen.end)
    st.caption(t("board.drill_slice", what=what, kpi=t(f"kpi.{chosen.kpi}") if chosen.kpi else ""))
    try:
        with transaction(engine) as session:
            rows = bq.drill_down(
                session,
                principal,
                scope,
                filters,
                chosen,
                timezone=ctx.settings.timezone,
                department_touchpoints=labels.touchpoints_of(scope.department) if scope.department else None,
            )
    except CxError as exc:
        st.error(str(exc))
    else:
        if rows.height == 0:
            st.info(t("board.drill_empty"))
        else:
            st.caption(t("board.drill_limit", count=rows.height))
            st.dataframe(
                rows,
                hide_index=True,
                width="stretch",
                column_config={c: t(f"board.col.{c}") for c in ("occurred_at", "kind", "case_id", "profile_id")}
                | {c: t(f"board.col.{c}") for c in ("name", "phone", "email", "text", "resolved", "abandoned")}
                | {c: t(f"board.dim.{c}") for c in ("channel", "stage", "touchpoint", "team", "agent_id")}
                | {"handle_s": t("board.col.handle_s"), "queue_wait_s": t("board.col.queue_wait_s")},
            )
    if st.button(t("board.drill_clear"), key="board_drill_clear", icon=":material/close:"):
        st.session_state.pop(DRILL, None)
        st.rerun(scope="fragment")


if principal.can("data.export"):
    _exports()
render_tile_style()
board_view()
board_data.settle_heap()

# --- department heads personalise their own board
may_personalise = principal.role.value == "department_head" and principal.can("board.personalise")
if may_personalise and st.toggle(t("board.personalise"), key="board_personalise"):
    st.caption(t("board.personalise_help"))
    edited = tiles_editor(board.tiles, key=f"board_personal_{board.version}_{board.source}")
    save, reset = st.columns(2)
    own = boards.personal_scope_key(principal)
    if save.button(t("board.save"), type="primary", key="board_personal_save"):
        try:
            with transaction(engine) as session:
                expected = board.version if board.source == "personal" else 0
                boards.save_board(session, principal, own, edited, expected_version=expected)
        except ValidationError as exc:
            st.error(t("board.invalid", problems="; ".join(exc.problems) or str(exc)))
        except ConflictError:
            st.warning(t("board.conflict"))
        else:
            board_data.clear()
            st.toast(t("board.saved"))
            st.rerun()
    if board.source == "personal" and reset.button(t("board.reset_personal"), key="board_personal_reset"):
        with transaction(engine) as session:
            boards.reset_board(session, principal, own)
        st.rerun()
