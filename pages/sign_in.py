"""Sign-in page: user name and password, one message for every failure, demo accounts listed in demo mode."""

from __future__ import annotations

import streamlit as st
from sqlalchemy import select

from cx.auth import DEMO_PASSWORD
from cx.db import transaction
from cx.errors import AccountLockedError, AuthError
from cx.models import User
from ui import shell
from ui.i18n import t
from ui.session import sign_in

context = shell.start()
_, middle, _ = st.columns([1, 2, 1])
with middle:
    st.title(t("app.name"))
    st.caption(t("app.tagline"))
    shell.language_switch(key="cx_language_switch_signin")
    with st.form("sign_in", border=True):
        st.subheader(t("signin.title"))
        username = st.text_input(t("signin.username"), key="signin_username", autocomplete="username")
        password = st.text_input(t("signin.password"), type="password", key="signin_password")
        submitted = st.form_submit_button(t("signin.submit"), type="primary", width="stretch")
    if submitted:
        if not username.strip() or not password:
            st.warning(t("signin.missing"))
        else:
            try:
                sign_in(context.engine, context.settings, username, password)
            except AccountLockedError:
                st.error(t("signin.locked", minutes=context.settings.lockout_minutes), icon=":material/lock:")
            except AuthError:
                st.error(t("signin.failed"), icon=":material/error:")
            else:
                st.rerun()
    if context.settings.demo_enabled:
        with transaction(context.engine) as session:
            demo_names = list(session.scalars(select(User.username).where(User.is_demo).order_by(User.id)))
        if demo_names:
            st.info(t("signin.demo_hint", password=DEMO_PASSWORD, accounts=", ".join(f"`{n}`" for n in demo_names)))
        else:
            st.caption(t("signin.first_admin"))
