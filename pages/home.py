"""Home: the welcome page of an empty store (load the demo data or import files), else a short overview."""

from __future__ import annotations

import streamlit as st

from cx.access import Role
from cx.db import transaction
from cx.overview import store_overview
from ui.format import fmt_count
from ui.guard import page_context
from ui.i18n import t
from ui.navigation import PAGE_SPECS, PAGES_DIR, available_page_keys
from ui.safe import md_escape

context = page_context("home")
principal = context.principal
st.title(t("home.welcome", name=md_escape(principal.display_name)))

with transaction(context.engine) as session:
    overview = store_overview(session, principal)

if overview.interactions == 0:
    st.subheader(t("home.empty_title"))
    if principal.can("data.load_demo") and context.settings.demo_enabled:
        st.write(t("home.empty_body"))
        customers = st.number_input(t("home.demo_customers"), min_value=100, max_value=50_000, value=2_000, step=500)
        if st.button(t("home.load_demo"), type="primary", icon=":material/download:"):
            from ui.demo_loader import load_demo_with_progress

            load_demo_with_progress(context, int(customers))
        st.caption(t("home.import_hint"))
    else:
        st.info(t("home.empty_ask_admin"), icon=":material/info:")
else:
    cols = st.columns(4)
    cols[0].metric(t("home.stats.interactions"), fmt_count(overview.interactions))
    cols[1].metric(t("home.stats.profiles"), fmt_count(overview.profiles))
    cols[2].metric(t("home.stats.open_alerts"), fmt_count(overview.open_alerts))
    last = (
        overview.last_load_at.astimezone(context.settings.tz).strftime("%Y-%m-%d %H:%M")
        if overview.last_load_at
        else t("home.never")
    )
    cols[3].metric(t("home.stats.last_load"), last)

st.subheader(t("home.your_pages"))
for key in available_page_keys(principal):
    if key != "home":
        spec = PAGE_SPECS[key]
        st.page_link(str(PAGES_DIR / spec.file), label=t(spec.title_key), icon=spec.icon)
if principal.role == Role.ADMIN and context.settings.demo_enabled and overview.interactions:
    st.caption(t("home.import_hint"))
