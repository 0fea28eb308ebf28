"""Who is signed in to this browser: the signed session cookie, sign-in and sign-out."""

from __future__ import annotations

import streamlit as st
from sqlalchemy import Engine

from cx import auth
from cx.access import Principal
from cx.db import transaction
from cx.settings import Settings

TOKEN_KEY = "cx_token"
_CLEAR_COOKIE_KEY = "cx_clear_cookie"

# Writes (or clears) the session cookie in the browser. The value is a server-signed token, never user input.
_COOKIE_JS = """
export default function(component) {
  const data = component.data;
  if (!data || !data.name) { return; }
  const parts = [data.name + "=" + (data.value || ""), "path=/", "SameSite=Strict"];
  parts.push("max-age=" + data.max_age);
  if (window.location.protocol === "https:") { parts.push("Secure"); }
  document.cookie = parts.join("; ");
}
"""
_cookie_writer = st.components.v2.component("cx_session_cookie", js=_COOKIE_JS)


def _browser_token() -> str | None:
    token = st.session_state.get(TOKEN_KEY)
    if token:
        return token
    if st.session_state.get(_CLEAR_COOKIE_KEY):
        return None
    try:
        return st.context.cookies.get(auth.SESSION_COOKIE)
    except (AttributeError, RuntimeError):
        return None


def current_principal(engine: Engine) -> Principal | None:
    """The signed-in principal, re-read from the store on every rerun (role changes apply at once)."""
    token = _browser_token()
    if not token:
        return None
    with transaction(engine) as session:
        principal = auth.resolve_session(session, token)
    if principal is None:
        st.session_state.pop(TOKEN_KEY, None)
    else:
        st.session_state[TOKEN_KEY] = token
    return principal


def sign_in(engine: Engine, settings: Settings, username: str, password: str) -> Principal:
    """Check the credentials (raises AuthError) and remember the session in this browser."""
    principal = auth.authenticate(engine, username, password, settings)
    with transaction(engine) as session:
        token = auth.start_session(session, principal, settings)
    st.session_state[TOKEN_KEY] = token
    st.session_state.pop(_CLEAR_COOKIE_KEY, None)
    return principal


def sign_out(engine: Engine, principal: Principal) -> None:
    with transaction(engine) as session:
        auth.end_session(session, principal)
    st.session_state.pop(TOKEN_KEY, None)
    st.session_state[_CLEAR_COOKIE_KEY] = True


def sync_cookie(settings: Settings) -> None:
    """Keep the browser cookie in step with this session: set while signed in, cleared after sign-out."""
    token = st.session_state.get(TOKEN_KEY)
    if token:
        data = {"name": auth.SESSION_COOKIE, "value": token, "max_age": settings.session_days * 86400}
    elif st.session_state.get(_CLEAR_COOKIE_KEY):
        data = {"name": auth.SESSION_COOKIE, "value": "", "max_age": 0}
    else:
        return
    _cookie_writer(key="cx_session_cookie", data=data, height=0)
