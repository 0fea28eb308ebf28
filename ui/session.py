"""Who is signed in to this browser: the signed session cookie, sign-in (password or SSO) and sign-out."""

from __future__ import annotations

import streamlit as st
from sqlalchemy import Engine

from cx import auth, oidc
from cx.access import Principal
from cx.db import transaction
from cx.errors import AuthError
from cx.settings import Settings

TOKEN_KEY = "cx_token"
_CLEAR_COOKIE_KEY = "cx_clear_cookie"
#: The message of a refused SSO identity (shown on the sign-in page; the identity is not retried on every rerun).
SSO_ERROR_KEY = "cx_sso_error"
_SSO_REFUSED_KEY = "cx_sso_refused"

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
        cookie = st.context.cookies.get(auth.SESSION_COOKIE)
    except (AttributeError, RuntimeError):
        return None
    return cookie if isinstance(cookie, str) and cookie else None


def sso_providers() -> dict[str, str]:
    """Provider name (for st.login) -> label, when ``[auth]`` is configured in secrets; empty otherwise.

    ``[auth]`` with its own client_id is the default provider; ``[auth.<name>]`` tables are named providers.
    """
    try:
        section = st.secrets.get("auth")
    except Exception:  # no secrets file, or an unreadable one: SSO is simply off
        return {}
    if not section or not hasattr(section, "get"):
        return {}
    providers: dict[str, str] = {}
    if section.get("client_id"):
        from urllib.parse import urlparse

        host = urlparse(str(section.get("server_metadata_url", ""))).hostname
        providers["default"] = host or "SSO"
    for name, value in section.items():
        if hasattr(value, "get") and value.get("client_id"):
            providers[str(name)] = str(name).capitalize()
    return providers


def _sso_claims() -> dict[str, object] | None:
    """The provider's claims when this browser is signed in with SSO (st.user), else None."""
    if not sso_providers():
        return None
    try:
        user = st.user.to_dict()
    except Exception:  # st.user is unavailable outside a script run
        return None
    return user if user.get("is_logged_in") else None


def _sso_sign_in(engine: Engine) -> Principal | None:
    """Map a signed-in SSO identity to a local account and start a normal session row (method "oidc")."""
    claims = _sso_claims()
    if claims is None or st.session_state.get(_CLEAR_COOKIE_KEY):
        return None
    identity = oidc.identity_of(claims)
    if identity is not None and st.session_state.get(_SSO_REFUSED_KEY) == identity:
        return None
    from cx.settings import get_settings

    error: AuthError | None = None
    with transaction(engine) as session:
        try:
            principal = oidc.sign_in_with_identity(session, claims)
            token = auth.start_session(session, principal, get_settings(), method="oidc")
        except AuthError as exc:  # the refusal's audit row commits with this transaction
            error = exc
    if error is not None:
        st.session_state[_SSO_REFUSED_KEY] = identity
        st.session_state[SSO_ERROR_KEY] = str(error)
        return None
    st.session_state.pop(SSO_ERROR_KEY, None)
    st.session_state[TOKEN_KEY] = token
    with transaction(engine) as session:
        return auth.resolve_session(session, token)


def current_principal(engine: Engine) -> Principal | None:
    """The signed-in principal, re-read from the store on every rerun (role changes apply at once)."""
    token = _browser_token()
    if not token:
        return _sso_sign_in(engine)
    with transaction(engine) as session:
        principal = auth.resolve_session(session, token)
    if principal is None:
        st.session_state.pop(TOKEN_KEY, None)
        return _sso_sign_in(engine)  # an expired or revoked cookie: a valid SSO identity may start a new session
    else:
        st.session_state[TOKEN_KEY] = token
    return principal


def sso_login(provider: str) -> None:
    """Start the provider's sign-in (a redirect); the next run maps the identity to a local account."""
    st.session_state.pop(_CLEAR_COOKIE_KEY, None)
    st.session_state.pop(_SSO_REFUSED_KEY, None)
    st.session_state.pop(SSO_ERROR_KEY, None)
    st.login(provider)


def sso_logout() -> None:
    """Leave the provider's session too (after a refused identity, or on sign-out)."""
    st.session_state.pop(_SSO_REFUSED_KEY, None)
    st.session_state.pop(SSO_ERROR_KEY, None)
    st.logout()


def sign_in(engine: Engine, settings: Settings, username: str, password: str) -> Principal:
    """Check the credentials (raises AuthError) and remember the session in this browser."""
    principal = auth.authenticate(engine, username, password, settings)
    with transaction(engine) as session:
        token = auth.start_session(session, principal, settings)
    st.session_state[TOKEN_KEY] = token
    st.session_state.pop(_CLEAR_COOKIE_KEY, None)
    return principal


def sign_out(engine: Engine, principal: Principal) -> None:
    """Revoke this browser's session row; with SSO, also end the provider's session (st.logout)."""
    with transaction(engine) as session:
        auth.end_session(session, principal)
    st.session_state.pop(TOKEN_KEY, None)
    st.session_state[_CLEAR_COOKIE_KEY] = True
    if _sso_claims() is not None:
        st.logout()


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
