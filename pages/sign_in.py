"""Sign-in page: user name and password (one message for every failure), SSO buttons when [auth] is configured,
demo accounts listed in demo mode."""

from __future__ import annotations

import streamlit as st
from sqlalchemy import select

from cx.auth import DEMO_PASSWORD
from cx.db import transaction
from cx.errors import AccountLockedError, AuthError
from cx.models import User
from ui import shell
from ui.i18n import t
from ui.session import SSO_ERROR_KEY, sign_in, sso_login, sso_logout, sso_providers

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
    providers = sso_providers()
    if providers:
        st.caption(t("sso.or"))
        for name, label in providers.items():
            if st.button(t("sso.button", provider=label), key=f"sso_{name}", icon=":material/key:", width="stretch"):
                sso_login(name)
        if st.session_state.get(SSO_ERROR_KEY):
            st.error(t("sso.not_linked"), icon=":material/person_off:")
            st.text(st.session_state[SSO_ERROR_KEY])
            if st.button(t("sso.leave"), key="sso_leave"):
                sso_logout()
    if context.settings.demo_enabled:
        with transaction(context.engine) as session:
            demo_names = list(session.scalars(select(User.username).where(User.is_demo).order_by(User.id)))
        if demo_names:
            st.info(t("signin.demo_hint", password=DEMO_PASSWORD, accounts=", ".join(f"`{n}`" for n in demo_names)))
        else:
            st.caption(t("signin.first_admin"))
