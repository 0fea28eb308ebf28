"""Loading the bundled demo dataset from the welcome page, with a progress bar and a summary."""

from __future__ import annotations

import streamlit as st

from alerts.rulebook import install_default_rules
from cx.auth import DEMO_PASSWORD
from cx.db import transaction
from cx.errors import CxError
from ui.guard import PageContext
from ui.i18n import t
from ui.safe import md_escape

DEMO_SEED = 7


def load_demo_with_progress(context: PageContext, customers: int) -> None:
    """Generate the demo exports, run the full ETL on them, create the demo accounts; report the outcome."""
    from etl.admin import load_demo_as

    bar = st.progress(0.0, text=t("home.loading_demo"))
    try:
        loaded = load_demo_as(
            context.engine,
            context.principal,
            context.settings,
            customers=customers,
            seed=DEMO_SEED,
            progress=lambda fraction, message: bar.progress(min(max(fraction, 0.0), 1.0), text=md_escape(message)),
        )
    except CxError as exc:
        bar.empty()
        st.error(md_escape(exc), icon=":material/error:")
        return
    summary, created = loaded.summary, loaded.accounts_created
    with transaction(context.engine) as session:
        install_default_rules(session, context.principal)
    bar.progress(
        1.0,
        text=t(
            "home.demo_loaded",
            rows=summary.rows_loaded,
            profiles=summary.profiles_total,
            quarantined=summary.rows_quarantined,
        ),
    )
    st.success(
        t(
            "home.demo_loaded",
            rows=summary.rows_loaded,
            profiles=summary.profiles_total,
            quarantined=summary.rows_quarantined,
        ),
        icon=":material/check_circle:",
    )
    if created:
        st.info(t("home.demo_accounts_created", password=DEMO_PASSWORD, accounts=", ".join(created)))
    st.button(t("home.continue"), type="primary")  # any click reruns: the home page then shows the overview
