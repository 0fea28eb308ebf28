"""Store-wide secrets (session signing key, salts): created once on first use, shared by every app replica."""

from __future__ import annotations

import secrets

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from cx.models import AppSetting


def stored_secret(session: Session, key: str) -> str:
    """The secret stored under ``key`` in app_settings, created (random, 48 bytes) if it does not exist yet.

    Two processes creating it at once: the loser's insert fails inside a savepoint and it reads the winner's value.
    """
    row = session.get(AppSetting, key)
    if row is not None:
        return row.value
    try:
        with session.begin_nested():
            session.add(AppSetting(key=key, value=secrets.token_urlsafe(48)))
    except IntegrityError:
        pass
    row = session.get(AppSetting, key, populate_existing=True)
    assert row is not None
    return row.value
