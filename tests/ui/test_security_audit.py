"""Every audited action writes its row (who, when, what, outcome; no raw personal data) — including refusals."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import Engine, select

from cx import accounts, audit_view, auth, privacy
from cx.access import Principal, Role
from cx.db import transaction
from cx.errors import AuthError, CxError, PermissionDenied
from cx.models import Alert, AuditEntry, User
from cx.settings import Settings
from tests.cx.privacy_fixtures import CUSTOMER_FORMS, seed


def _principal(engine: Engine, username: str) -> Principal:
    with transaction(engine) as session:
        return auth.principal_of(session.scalar(select(User).where(User.username == username)))


def _alert_id(engine: Engine) -> int:
    with transaction(engine) as session:
        return session.scalar(select(Alert.id).where(Alert.dedup_key == "manual:P-A:1"))


def _signin_ok(engine: Engine, settings: Settings) -> None:
    auth.authenticate(engine, "demo-agent", auth.DEMO_PASSWORD, settings)


def _signin_denied(engine: Engine, settings: Settings) -> None:
    with pytest.raises(AuthError):
        auth.authenticate(engine, "demo-agent", "wrong-password", settings)


def _profile_view(engine: Engine, settings: Settings) -> None:
    from cx.customer_profile import view_profile

    with transaction(engine) as session:
        view_profile(session, _principal(engine, "demo-agent"), "P-A")


def _profile_view_denied(engine: Engine, settings: Settings) -> None:
    from cx.customer_profile import view_profile

    try:
        with transaction(engine) as session:
            view_profile(session, _principal(engine, "demo-service-head"), "P-A")
    except CxError:
        pass


def _profile_export(engine: Engine, settings: Settings) -> None:
    with transaction(engine) as session:
        privacy.export_customer(session, _principal(engine, "demo-cx-owner"), "P-A")


def _profile_export_denied(engine: Engine, settings: Settings) -> None:
    with pytest.raises(PermissionDenied), transaction(engine) as session:
        privacy.export_customer(session, _principal(engine, "demo-agent"), "P-A")


def _audit_export(engine: Engine, settings: Settings) -> None:
    with transaction(engine) as session:
        audit_view.export_audit(session, _principal(engine, "demo-admin"), audit_view.AuditQuery())


def _erasure(engine: Engine, settings: Settings) -> None:
    with transaction(engine) as session:
        privacy.erase_customer(session, _principal(engine, "demo-admin"), identifier="138 0013 8000")


def _erasure_denied(engine: Engine, settings: Settings) -> None:
    with pytest.raises(PermissionDenied), transaction(engine) as session:
        privacy.erase_customer(session, _principal(engine, "demo-cx-owner"), identifier="138 0013 8000")


def _user_change(engine: Engine, settings: Settings) -> None:
    with transaction(engine) as session:
        agent = session.scalar(select(User).where(User.username == "demo-agent"))
        spec = auth.AccountSpec("demo-agent", agent.display_name, Role.TEAM_LEAD, team="hotline_a")
        accounts.update_account(session, _principal(engine, "demo-admin"), agent.id, spec, is_active=True)


def _user_admin_denied(engine: Engine, settings: Settings) -> None:
    with pytest.raises(PermissionDenied), transaction(engine) as session:
        accounts.list_users(session, _principal(engine, "demo-team-lead"))


def _alert_action(engine: Engine, settings: Settings) -> None:
    from alerts import lifecycle

    with transaction(engine) as session:
        lifecycle.acknowledge(session, _principal(engine, "demo-cx-owner"), _alert_id(engine))


def _rule_edit(engine: Engine, settings: Settings) -> None:
    from alerts import rulebook

    rule = {
        "name": "audit test rule",
        "level": "warning",
        "scope": {"kind": "interaction"},
        "condition": {"all": [{"field": "kind", "op": "eq", "value": "complaint"}]},
        "notify": [{"method": "inapp"}],
        "owners": [{"team": "hotline_a"}],
    }
    with transaction(engine) as session:
        rulebook.save_rule(session, _principal(engine, "demo-cx-owner"), rule)


def _journey_edit(engine: Engine, settings: Settings) -> None:
    from cx import journey_store

    with transaction(engine) as session:
        journey = journey_store.ensure_default_journey(session)
    tp = journey.touchpoints[0]
    with transaction(engine) as session:
        journey_store.update_touchpoint(
            session, _principal(engine, "demo-cx-owner"), journey.key, journey.version, tp.key, name_en="Renamed"
        )


#: (case, action that must be audited, outcome, who) — who is the user name on the row.
CASES: list[object] = [
    ("signin", _signin_ok, "signin", "ok", "demo-agent"),
    ("signin denied", _signin_denied, "signin", "denied", "demo-agent"),
    ("profile view", _profile_view, "profile.view", "ok", "demo-agent"),
    ("profile view denied", _profile_view_denied, "profile.view", "denied", "demo-service-head"),
    ("profile export", _profile_export, "profile.export", "ok", "demo-cx-owner"),
    ("profile export denied", _profile_export_denied, "profile.export", "denied", "demo-agent"),
    ("audit export", _audit_export, "audit.export", "ok", "demo-admin"),
    ("erasure", _erasure, "privacy.erase", "ok", "demo-admin"),
    ("erasure denied", _erasure_denied, "privacy.erase", "denied", "demo-cx-owner"),
    ("account change", _user_change, "user.update", "ok", "demo-admin"),
    ("account admin denied", _user_admin_denied, "user.admin", "denied", "demo-team-lead"),
    ("alert action", _alert_action, "alert.acknowledge", "ok", "demo-cx-owner"),
    ("rule edit", _rule_edit, "rule.", "ok", "demo-cx-owner"),
    ("journey edit", _journey_edit, "journey.edit", "ok", "demo-cx-owner"),
]


@pytest.mark.parametrize(
    ("case", "act", "action", "outcome", "who"),
    CASES,
    ids=[(c.values[0] if hasattr(c, "values") else c[0]).replace(" ", "_") for c in CASES],  # type: ignore[index,union-attr]
)
def test_audited_action_writes_its_row(
    engine: Engine, app_env: Settings, case: str, act, action: str, outcome: str, who: str
) -> None:
    seed(engine)
    with transaction(engine) as session:
        before = session.scalar(select(AuditEntry.id).order_by(AuditEntry.id.desc()).limit(1)) or 0
    act(engine, app_env)
    with transaction(engine) as session:
        rows = session.scalars(select(AuditEntry).where(AuditEntry.id > before).order_by(AuditEntry.id)).all()
    matching = [r for r in rows if r.action.startswith(action) and r.outcome == outcome and r.username == who]
    assert matching, (
        f"{case}: no audit row ({action}*, {outcome}, {who}); got {[(r.action, r.outcome, r.username) for r in rows]}"
    )
    row = matching[-1]
    assert row.at is not None and (row.object_id or row.action.startswith("signin") or row.object_type)
    dumped = json.dumps([row.username, row.object_id, row.detail], ensure_ascii=False, default=str)
    assert not [form for form in CUSTOMER_FORMS if form in dumped], f"{case}: personal data in the audit row"
