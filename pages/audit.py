"""Audit log & privacy (admins): search the log (paged on the server, formula-safe export), erase or export one
customer's data, and the retention settings."""

from __future__ import annotations

from datetime import datetime, timedelta

import streamlit as st

from cx import audit_view, privacy, retention
from cx.db import transaction
from cx.errors import CxError
from cx.export import to_csv_bytes, to_excel_bytes
from cx.types import utcnow
from ui.guard import page_context
from ui.i18n import t

ctx = page_context("audit")
principal = ctx.principal
st.title(t("nav.audit"))


def _show_error(exc: CxError) -> None:
    st.error(t("audit.error"), icon=":material/error:")
    st.text(str(exc))


tab_log, tab_privacy, tab_retention = st.tabs([t("audit.tab.log"), t("audit.tab.privacy"), t("audit.tab.retention")])

# ------------------------------------------------------------------------------------------------ the log
with tab_log:
    with transaction(ctx.engine) as session:
        actions = audit_view.audit_actions(session, principal)
    today = datetime.now(ctx.settings.tz).date()
    c1, c2, c3 = st.columns(3)
    action = c1.selectbox(
        t("audit.action"),
        [None, *actions],
        format_func=lambda a: t("audit.any") if a is None else a,
        key="audit_action",
    )
    outcome = c2.selectbox(
        t("audit.outcome"),
        [None, *audit_view.OUTCOMES],
        format_func=lambda o: t("audit.any") if o is None else t(f"audit.outcome.{o}"),
        key="audit_outcome",
    )
    period = c3.date_input(t("audit.period"), value=(today - timedelta(days=29), today), key="audit_period")
    c4, c5, c6 = st.columns([2, 2, 1])
    username = c4.text_input(t("audit.user"), key="audit_user")
    object_id = c5.text_input(t("audit.object"), key="audit_object")
    page_size = c6.selectbox(t("audit.page_size"), audit_view.PAGE_SIZES, index=1, key="audit_page_size")
    start, end = period if isinstance(period, tuple) and len(period) == 2 else (None, None)
    try:
        query = audit_view.AuditQuery(
            action=action,
            username=username,
            outcome=outcome,
            object_id=object_id,
            start=start,
            end=end,
            timezone=ctx.settings.timezone,
        )
        page_number = int(st.session_state.get("audit_page", 1))
        with transaction(ctx.engine) as session:
            result = audit_view.search_audit(session, principal, query, page=page_number, page_size=page_size)
    except CxError as exc:
        _show_error(exc)
        st.stop()
    if result.total == 0:
        st.info(t("audit.empty"), icon=":material/search_off:")
    else:
        st.caption(t("audit.count", total=result.total, page=result.page, pages=result.pages))
        st.dataframe(
            result.rows,
            hide_index=True,
            width="stretch",
            column_config={c: st.column_config.TextColumn(t(f"audit.col.{c}")) for c in audit_view.COLUMNS},
        )
        st.number_input(t("audit.page"), min_value=1, max_value=result.pages, step=1, key="audit_page")
        e1, e2 = st.columns(2)
        if e1.button(t("audit.prepare_export"), icon=":material/download:", key="audit_export"):
            with transaction(ctx.engine) as session:
                exported = audit_view.export_audit(session, principal, query)
            st.session_state["audit_export_data"] = (to_csv_bytes(exported), to_excel_bytes(exported))
        if "audit_export_data" in st.session_state:
            csv_bytes, xlsx_bytes = st.session_state["audit_export_data"]
            e1.download_button(t("audit.download_csv"), csv_bytes, "audit_log.csv", "text/csv", key="audit_csv")
            e2.download_button(
                t("audit.download_xlsx"),
                xlsx_bytes,
                "audit_log.xlsx",
                "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                key="audit_xlsx",
            )

# ------------------------------------------------------------------------------------------------ privacy requests
with tab_privacy:
    st.subheader(t("privacy.erase_title"))
    st.caption(t("privacy.erase_help"))
    identifier = st.text_input(t("privacy.identifier"), key="privacy_identifier")
    if st.button(t("privacy.find"), key="privacy_find", icon=":material/search:") and identifier.strip():
        try:
            with transaction(ctx.engine) as session:
                st.session_state["privacy_found"] = privacy.find_customer(
                    session, principal, identifier, region=ctx.settings.phone_region
                )
        except CxError as exc:
            _show_error(exc)
    found = st.session_state.get("privacy_found")
    if found is not None:
        if found == 0:
            st.info(t("privacy.none_found"), icon=":material/person_off:")
        else:
            st.warning(t("privacy.found", count=found), icon=":material/warning:")
            confirmed = st.checkbox(t("privacy.confirm", count=found), key="privacy_confirm")
            if st.button(
                t("privacy.erase"),
                type="primary",
                disabled=not confirmed,
                key="privacy_erase",
                icon=":material/delete:",
            ):
                try:
                    with transaction(ctx.engine) as session:
                        receipt = privacy.erase_customer(
                            session,
                            principal,
                            identifier=identifier,
                            region=ctx.settings.phone_region,
                            max_profiles=found,
                        )
                except CxError as exc:
                    _show_error(exc)
                else:
                    st.session_state.pop("privacy_found", None)
                    st.success(t("privacy.erased", total=receipt.total), icon=":material/check_circle:")
                    st.json(receipt.as_dict())
    st.divider()
    st.subheader(t("privacy.export_title"))
    profile_id = st.text_input(t("privacy.profile_id"), key="privacy_profile_id")
    if st.button(t("privacy.export"), key="privacy_export", icon=":material/download:") and profile_id.strip():
        try:
            with transaction(ctx.engine) as session:
                data = privacy.export_customer(session, principal, profile_id.strip(), region=ctx.settings.phone_region)
        except CxError as exc:
            _show_error(exc)
        else:
            st.download_button(
                t("privacy.download_json"),
                privacy.export_json(data),
                "customer_export.json",
                "application/json",
                key="privacy_download",
            )

# ------------------------------------------------------------------------------------------------ retention
with tab_retention:
    st.caption(t("retention.help"))
    with transaction(ctx.engine) as session:
        current = retention.retention_settings(session, principal)
    values = current.as_dict()
    with st.form("retention_form"):
        chosen: dict[str, int | None] = {}
        for category, days in values.items():
            left, right = st.columns([3, 1])
            keep = right.checkbox(t("retention.forever"), value=days is None, key=f"retention_forever_{category}")
            number = left.number_input(
                t(f"retention.{category}"),
                min_value=1,
                max_value=retention.MAX_DAYS,
                value=days or 365,
                step=1,
                key=f"retention_days_{category}",
            )
            chosen[category] = None if keep else int(number)
        save = st.form_submit_button(t("retention.save"), type="primary")
    if save:
        try:
            with transaction(ctx.engine) as session:
                retention.save_retention(session, principal, retention.RetentionConfig.from_dict(chosen))
        except CxError as exc:
            _show_error(exc)
        else:
            st.success(t("retention.saved"), icon=":material/check_circle:")
    if st.button(t("retention.run_now"), key="retention_run", icon=":material/auto_delete:"):
        try:
            with transaction(ctx.engine) as session:
                counts = retention.run_retention_now(session, principal, utcnow())
        except CxError as exc:
            _show_error(exc)
        else:
            st.success(t("retention.ran", total=sum(counts.values())), icon=":material/check_circle:")
            st.json(counts)
