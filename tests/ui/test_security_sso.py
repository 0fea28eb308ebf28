"""Single sign-on without a provider: the identity -> local account mapping, and the sign-in page's SSO behaviour."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import Engine, select

from cx import auth, oidc
from cx.access import Role
from cx.db import transaction
from cx.errors import AuthError
from cx.models import User, UserSession
from cx.settings import Settings
from tests.apptest import make_app
from tests.ui.security_env import audit_rows, texts

ISSUER = "https://idp.example.com"
AUTH_SECRETS = {
    "redirect_uri": "http://localhost:8501/oauth2callback",
    "cookie_secret": "a-long-random-cookie-secret-for-tests",
    "client_id": "cx-journey",
    "client_secret": "not-a-real-secret",
    "server_metadata_url": f"{ISSUER}/.well-known/openid-configuration",
}


def _claims(sub: str, email: str | None = None, verified: bool = True) -> dict[str, object]:
    claims: dict[str, object] = {"is_logged_in": True, "iss": ISSUER, "sub": sub, "name": "Some One"}
    if email:
        claims |= {"email": email, "email_verified": verified}
    return claims


def _set_email(engine: Engine, username: str, email: str) -> int:
    with transaction(engine) as session:
        user = session.scalar(select(User).where(User.username == username))
        user.email = email
        return user.id


def test_identity_is_issuer_and_subject() -> None:
    assert oidc.identity_of({"iss": ISSUER, "sub": "42"}) == f"{ISSUER}|42"
    assert oidc.identity_of({"provider": "okta", "sub": "42"}) == "okta|42"
    assert oidc.identity_of({"iss": ISSUER, "email": "a@b.c"}) is None


def test_mapping_links_verified_email_once_then_by_subject(engine: Engine, app_env: Settings) -> None:
    agent_id = _set_email(engine, "demo-agent", "Agent@Corp.example")
    with transaction(engine) as session:
        user = oidc.user_for_identity(session, _claims("s-1", "agent@corp.example"))
        assert (user.id, user.oidc_subject) == (agent_id, f"{ISSUER}|s-1")
    with transaction(engine) as session:  # later sign-ins go by subject, even when the e-mail changed
        assert oidc.user_for_identity(session, _claims("s-1", "new@corp.example")).id == agent_id
    assert [r.detail for r in audit_rows(engine, "user.sso_link")] == [{"linked": True, "by": "verified_email"}]


@pytest.mark.parametrize(
    "claims",
    [
        _claims("s-2", "stranger@corp.example"),  # nobody has this e-mail
        _claims("s-3", "agent@corp.example", verified=False),  # unverified e-mail never links
        _claims("s-4"),  # no e-mail at all
    ],
)
def test_unknown_identities_are_refused_with_the_identity_to_link(engine: Engine, app_env: Settings, claims) -> None:
    _set_email(engine, "demo-agent", "agent@corp.example")
    with pytest.raises(oidc.SsoNotLinkedError) as caught, transaction(engine) as session:
        oidc.user_for_identity(session, claims)
    assert f"{ISSUER}|{claims['sub']}" in str(caught.value)


def test_ambiguous_email_and_deactivated_accounts_are_refused(engine: Engine, app_env: Settings) -> None:
    _set_email(engine, "demo-agent", "shared@corp.example")
    lead_id = _set_email(engine, "demo-team-lead", "shared@corp.example")
    with pytest.raises(oidc.SsoNotLinkedError), transaction(engine) as session:
        oidc.user_for_identity(session, _claims("s-5", "shared@corp.example"))
    with transaction(engine) as session:
        lead = session.get(User, lead_id)
        lead.oidc_subject, lead.is_active = f"{ISSUER}|s-6", False
    with pytest.raises(AuthError, match="deactivated"), transaction(engine) as session:
        oidc.user_for_identity(session, _claims("s-6"))


def test_roles_come_from_the_local_account_not_the_claims(engine: Engine, app_env: Settings) -> None:
    _set_email(engine, "demo-agent", "agent@corp.example")
    claims = _claims("s-7", "agent@corp.example") | {"roles": ["admin"], "role": "admin", "groups": ["admins"]}
    with transaction(engine) as session:
        principal = oidc.sign_in_with_identity(session, claims)
    assert principal.role == Role.AGENT
    assert audit_rows(engine, "signin")[-1].detail == {"method": "oidc"}


def test_sign_in_page_offers_sso_only_when_configured(tmp_path: Path, app_env: Settings) -> None:
    plain = make_app(tmp_path).run()
    assert not plain.exception, plain.exception
    assert not [b for b in plain.button if b.key and b.key.startswith("sso_")]
    configured = make_app(tmp_path)
    configured.secrets["auth"] = AUTH_SECRETS
    configured.run()
    assert not configured.exception, configured.exception
    sso_buttons = [b for b in configured.button if b.key and b.key.startswith("sso_")]
    assert [b.label for b in sso_buttons] == ["使用 idp.example.com 登录"]
    assert configured.text_input(key="signin_username") is not None, "local accounts stay available"
    named = make_app(tmp_path)
    named.secrets["auth"] = {
        "redirect_uri": AUTH_SECRETS["redirect_uri"],
        "cookie_secret": AUTH_SECRETS["cookie_secret"],
        "okta": {k: AUTH_SECRETS[k] for k in ("client_id", "client_secret", "server_metadata_url")},
    }
    named.run()
    assert [b.key for b in named.button if b.key and b.key.startswith("sso_")] == ["sso_okta"]


def test_a_linked_identity_gets_a_normal_session_and_sign_out_ends_both(
    tmp_path: Path, app_env: Settings, engine: Engine
) -> None:
    _set_email(engine, "demo-cx-owner", "owner@corp.example")
    app = make_app(tmp_path)
    app.secrets["auth"] = AUTH_SECRETS
    app.user = _claims("s-8", "owner@corp.example")
    app.run()
    assert not app.exception, app.exception
    assert app.title[0].value.startswith("欢迎")
    with transaction(engine) as session:
        rows = session.scalars(select(UserSession).where(UserSession.auth_method == "oidc")).all()
        assert len(rows) == 1 and rows[0].revoked_at is None
    assert audit_rows(engine, "signin")[-1].username == "demo-cx-owner"
    app.button(key="cx_sign_out").click().run()
    assert app.user.get("is_logged_in") is False, "st.logout ended the provider's session too"
    with transaction(engine) as session:
        assert session.scalars(select(UserSession)).one().revoked_at is not None


def test_an_unlinked_identity_sees_why_and_is_audited_once(tmp_path: Path, app_env: Settings, engine: Engine) -> None:
    app = make_app(tmp_path)
    app.secrets["auth"] = AUTH_SECRETS
    app.user = _claims("s-9", "nobody@corp.example")
    app.run()
    assert not app.exception, app.exception
    assert "尚未关联" in texts(app) and f"{ISSUER}|s-9" in texts(app)
    app.run()
    denied = [e for e in audit_rows(engine, "signin") if e.outcome == "denied"]
    assert len(denied) == 1 and denied[0].detail == {"method": "oidc", "reason": "not_linked"}
    assert "nobody@corp.example" not in str(denied[0].username) + str(denied[0].detail)
    app.button(key="sso_leave").click().run()
    assert app.user.get("is_logged_in") is False


def test_local_sign_in_still_works_with_sso_configured(tmp_path: Path, app_env: Settings, engine: Engine) -> None:
    app = make_app(tmp_path)
    app.secrets["auth"] = AUTH_SECRETS
    app.user = {"is_logged_in": False}
    app.run()
    app.text_input(key="signin_username").input("demo-agent")
    app.text_input(key="signin_password").input(auth.DEMO_PASSWORD)
    app.button(key="FormSubmitter:sign_in-登录").click().run()
    assert not app.exception, app.exception
    assert app.title[0].value.startswith("欢迎")
