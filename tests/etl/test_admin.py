"""Loading the demo dataset from the app: only for those who may (refusals audited, nothing generated)."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine, func, select

from cx.access import Principal, Role
from cx.db import transaction
from cx.errors import PermissionDenied
from cx.models import AuditEntry, LoadBatch, User
from cx.settings import Settings
from etl.admin import load_demo_as


def _audit(engine: Engine) -> list[tuple[str, str, str | None]]:
    with transaction(engine) as session:
        rows = session.scalars(
            select(AuditEntry).where(AuditEntry.action == "data.load_demo").order_by(AuditEntry.id)
        ).all()
        return [(r.outcome, r.username, r.object_id) for r in rows]


def test_only_admins_load_the_demo_and_refusals_are_audited(engine: Engine, settings: Settings) -> None:
    owner = Principal(7, "owner", "Owner", Role.CX_OWNER)
    for refused in (owner, None):
        with pytest.raises(PermissionDenied):
            load_demo_as(engine, refused, settings, customers=60, seed=5)
    with transaction(engine) as session:
        assert session.scalar(select(func.count()).select_from(LoadBatch)) == 0
        assert session.scalar(select(func.count()).select_from(User)) == 0
    assert _audit(engine) == [("denied", "owner", "demo"), ("denied", None, "demo")]


def test_an_admin_loads_the_demo_and_gets_the_demo_accounts(engine: Engine, settings: Settings) -> None:
    admin = Principal(1, "admin", "Admin", Role.ADMIN)
    seen: list[float] = []
    loaded = load_demo_as(engine, admin, settings, customers=60, seed=5, progress=lambda f, _m: seen.append(f))
    assert loaded.summary.status == "succeeded" and loaded.summary.rows_loaded > 200
    assert loaded.accounts_created and seen[-1] == pytest.approx(1.0)
    assert _audit(engine) == [("ok", "admin", "demo")]
