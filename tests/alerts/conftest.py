"""Fixtures for the alert tests: a few people of each role, a customer profile, a fixed clock."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from sqlalchemy import Engine

from cx import auth
from cx.access import Principal, Role
from cx.db import make_engine, transaction
from cx.models import Profile

NOW = datetime(2026, 3, 10, 2, 0, tzinfo=UTC)  # a Tuesday, 10:00 in Asia/Shanghai

#: (user name, role, department, team, email, phone)
PEOPLE = (
    ("owner", Role.CX_OWNER, None, None, "owner@example.com", "+8613800138001"),
    ("owner2", Role.CX_OWNER, None, None, "owner2@example.com", "+8613800138002"),
    ("agent", Role.AGENT, None, "hotline_a", "agent@example.com", "+8613800138003"),
    ("agent_b", Role.AGENT, None, "hotline_b", None, None),
    ("lead", Role.TEAM_LEAD, None, "hotline_a", "lead@example.com", "+8613800138004"),
    ("service_head", Role.DEPARTMENT_HEAD, "service", None, "head@example.com", "+8613800138005"),
    ("delivery_head", Role.DEPARTMENT_HEAD, "delivery", None, "dhead@example.com", "+8613800138006"),
    ("admin2", Role.ADMIN, None, None, None, None),
)


def create_people(engine: Engine) -> dict[str, Principal]:
    """Create the people above and two profiles (committed); name -> Principal."""
    found: dict[str, Principal] = {}
    with transaction(engine) as session:
        for name, role, department, team, email, phone in PEOPLE:
            user = auth.create_user(
                session, auth.AccountSpec(name, name.title(), role, department, team, email, phone), None
            )
            found[name] = auth.principal_of(user)
        session.add(Profile(profile_id="P-1", display_name="王伟", interaction_count=3))
        session.add(Profile(profile_id="P-2", display_name="Emily Chen", interaction_count=1))
    return found


@pytest.fixture
def people(engine: Engine) -> dict[str, Principal]:
    """The people above, committed; name -> Principal."""
    return create_people(engine)


@pytest.fixture
def tx(engine: Engine) -> Iterator[object]:
    """``with tx() as session:`` shorthand — each block its own committed transaction."""

    def _open():
        return transaction(engine)

    yield _open


@pytest.fixture
def people_on_postgres(postgres_database: str) -> dict[str, Principal]:
    """The same people in the session's PostgreSQL database (for tests that start their own processes)."""
    from tests.conftest import _truncate_all

    _truncate_all(postgres_database)
    engine = make_engine(postgres_database)
    try:
        return create_people(engine)
    finally:
        engine.dispose()
