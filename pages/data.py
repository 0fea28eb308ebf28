"""Data sources (admins): recent ETL runs, quarantined rows with their reasons (filter, download), freshness."""

from __future__ import annotations

import math

import streamlit as st

from cx import audit
from cx.db import transaction
from cx.errors import CxError
from cx.export import to_csv_bytes, to_excel_bytes
from etl import runs
from ui.format import fmt_count
from ui.guard import page_context
from ui.i18n import t

ctx = page_context("data")
principal = ctx.principal
st.title(t("data.title"))
tab_runs, tab_quarantine, tab_sources = st.tabs([t("data.tab.runs"), t("data.tab.quarantine"), t("data.tab.sources")])


def _when(value: object) -> str:
    return value.astimezone(ctx.settings.tz).strftime("%Y-%m-%d %H:%M") if value else "–"  # type: ignore[attr-defined]


# ------------------------------------------------------------------------------------------------ runs
with tab_runs:
    try:
        with transaction(ctx.engine) as session:
            recent = runs.recent_runs(session, principal, limit=50)
    except CxError as exc:
        st.error(t("data.error"), icon=":material/error:")
        st.text(str(exc))
        st.stop()
    if not recent:
        st.info(t("data.runs.empty"), icon=":material/info:")
    else:
        table = [
            {
                "id": r.id,
                "started_at": _when(r.started_at),
                "status": t(f"data.status.{r.status}"),
                "trigger": r.trigger,
                "rows_read": r.rows_read,
                "rows_loaded": r.rows_loaded,
                "rows_quarantined": r.rows_quarantined,
                "profiles_created": r.profiles_created,
                "profiles_merged": r.profiles_merged,
                "duration_s": r.duration_s,
                "message": r.message or "",
            }
            for r in recent
        ]
        st.dataframe(
            table,
            hide_index=True,
            width="stretch",
            column_config={
                key: (
                    st.column_config.NumberColumn(t(f"data.col.{key}"), format="localized")
                    if key.startswith(("rows", "profiles"))
                    else st.column_config.NumberColumn(t(f"data.col.{key}"), format="%.1f")
                    if key == "duration_s"
                    else st.column_config.TextColumn(t(f"data.col.{key}"))
                )
                for key in table[0]
            },
        )
        chosen = st.selectbox(t("data.run.pick"), [r.id for r in recent], key="data_run")
        run = next(r for r in recent if r.id == chosen)
        with st.expander(t("data.run.details", id=run.id), expanded=False):
            stats = run.stats or {}
            per_source = stats.get("sources") or {}
            if per_source:
                st.caption(t("data.run.per_source"))
                st.dataframe(
                    [{"source": name, **values} for name, values in sorted(per_source.items())],
                    hide_index=True,
                    width="stretch",
                )
            if stats.get("timings"):
                st.caption(t("data.run.timings"))
                st.dataframe([stats["timings"]], hide_index=True, width="stretch")
            if run.message:
                st.text(run.message)

# ------------------------------------------------------------------------------------------------ quarantine
with tab_quarantine:
    with transaction(ctx.engine) as session:
        options = runs.quarantine_options(session, principal)
    c1, c2, c3, c4 = st.columns([2, 2, 1, 1])
    source = c1.selectbox(
        t("data.q.source"), [None, *options["source"]], format_func=lambda s: s or t("data.q.any"), key="data_q_source"
    )
    rule = c2.selectbox(
        t("data.q.rule"),
        [None, *options["rule"]],
        format_func=lambda r: t(f"data.rule.{r}") if r else t("data.q.any"),
        key="data_q_rule",
    )
    batch = c3.selectbox(
        t("data.q.batch"),
        [None, *options["batch_id"]],
        format_func=lambda b: str(b) if b is not None else t("data.q.any"),
        key="data_q_batch",
    )
    page_size = c4.selectbox(t("data.q.page_size"), runs.PAGE_SIZES, index=1, key="data_q_page_size")
    filters = runs.QuarantineFilter(source=source, rule=rule, batch_id=batch)
    page_number = int(st.session_state.get("data_q_page", 1))
    with transaction(ctx.engine) as session:
        rows, total = runs.quarantine_page(session, principal, filters, page=page_number - 1, page_size=page_size)
    if total == 0:
        st.info(t("data.q.empty"), icon=":material/task_alt:")
    else:
        pages = max(1, math.ceil(total / page_size))
        st.caption(t("data.q.count", total=fmt_count(total), page=min(page_number, pages), pages=pages))
        st.dataframe(
            rows,
            hide_index=True,
            width="stretch",
            column_config={c: st.column_config.TextColumn(t(f"data.qcol.{c}")) for c in rows.columns},
        )
        st.number_input(t("data.q.page"), min_value=1, max_value=pages, step=1, key="data_q_page")
        if st.button(t("data.q.prepare"), icon=":material/download:", key="data_q_prepare"):
            with transaction(ctx.engine) as session:
                export = runs.quarantine_export(session, principal, filters)
                audit.record(
                    session,
                    principal,
                    "data.export",
                    object_type="quarantine",
                    detail={"rows": export.height, "source": source, "rule": rule, "batch_id": batch},
                )
            st.session_state["data_q_export"] = (to_csv_bytes(export), to_excel_bytes(export, "quarantine"))
        prepared = st.session_state.get("data_q_export")
        if prepared:
            d1, d2 = st.columns(2)
            d1.download_button(t("data.q.csv"), prepared[0], "quarantine.csv", "text/csv", key="data_q_csv")
            d2.download_button(
                t("data.q.excel"),
                prepared[1],
                "quarantine.xlsx",
                "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                key="data_q_xlsx",
            )
            st.caption(t("data.q.limit", limit=fmt_count(runs.EXPORT_LIMIT)))

# ------------------------------------------------------------------------------------------------ freshness
with tab_sources:
    with transaction(ctx.engine) as session:
        fresh = runs.source_freshness(session, principal, ctx.settings)
    if not fresh:
        st.info(t("data.src.empty"), icon=":material/info:")
    else:
        st.dataframe(
            [
                {
                    "source": f.source,
                    "state": t("data.src.stale") if f.stale else t("data.src.fresh"),
                    "last_loaded_at": _when(f.last_loaded_at),
                    "data_until": _when(f.data_until),
                    "files": f.files,
                    "rows": f.rows,
                    "quarantined": f.quarantined,
                }
                for f in fresh
            ],
            hide_index=True,
            width="stretch",
            column_config={
                key: st.column_config.TextColumn(t(f"data.src.{key}"))
                for key in ("source", "state", "last_loaded_at", "data_until")
            }
            | {
                key: st.column_config.NumberColumn(t(f"data.src.{key}"), format="localized")
                for key in ("files", "rows", "quarantined")
            },
        )
        st.caption(t("data.src.threshold", hours=f"{fresh[0].threshold_hours:g}"))
