"""Opening the store: connect, migrate to the newest schema, create the signing secret and the first admin."""

from __future__ import annotations

import sys

from sqlalchemy import Engine, func, select

from cx import auth
from cx.db import check_connection, get_engine, migrate, transaction
from cx.models import Interaction
from cx.settings import Settings


def open_store(settings: Settings, *, announce: bool = True) -> Engine:
    """The engine for ``settings.database_url`` with the schema at head and a first admin present.

    A generated admin password is printed once, to the console that started the app.
    """
    engine = get_engine(settings.database_url)
    check_connection(engine)
    migrate(engine)
    with transaction(engine) as session:
        auth.session_secret(session)
        generated = auth.ensure_first_admin(session, settings)
    if generated and announce:
        print(
            "\n" + "=" * 72 + f"\nCreated the first account: user 'admin', password '{generated}'\n"
            "It is shown only this once. Set CX_ADMIN_PASSWORD to choose it yourself.\n" + "=" * 72 + "\n",
            file=sys.stderr,
            flush=True,
        )
    return engine


def is_empty(engine: Engine) -> bool:
    """True when no interaction has been loaded yet (the welcome page then offers the demo data)."""
    with transaction(engine) as session:
        return not session.scalar(
            select(func.count()).select_from(select(Interaction.interaction_id).limit(1).subquery())
        )
