"""Loading the bundled demo dataset from the welcome page, with a progress bar and a summary."""

from __future__ import annotations

import streamlit as st

from cx import audit
from cx.auth import DEMO_PASSWORD, ensure_demo_users
from cx.db import transaction
from cx.errors import CxError
from ui.guard import PageContext
from ui.i18n import t

DEMO_SEED = 7


def load_demo_with_progress(context: PageContext, customers: int) -> None:
    """Generate the demo exports, run the full ETL on them, create the demo accounts; report the outcome."""
    from etl.pipeline import load_demo

    bar = st.progress(0.0, text=t("home.loading_demo"))
    try:
        summary = load_demo(
            context.engine,
            context.settings,
            customers=customers,
            seed=DEMO_SEED,
            progress=lambda fraction, message: bar.progress(min(max(fraction, 0.0), 1.0), text=message),
        )
    except CxError as exc:
        bar.empty()
        st.error(str(exc), icon=":material/error:")
        return
    with transaction(context.engine) as session:
        created = ensure_demo_users(session, context.settings)
        audit.record(session, context.principal, "data.load_demo", detail={"customers": customers})
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
    st.button(t("nav.home"), on_click=st.rerun)
