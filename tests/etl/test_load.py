"""etl.load's writer: replacing rows rewrites only those that change (SQLite) and leaves the same table state as
deleting and appending (PostgreSQL)."""

from __future__ import annotations

from datetime import UTC, datetime

import polars as pl
from sqlalchemy import Engine, text

from cx.models import Identifier, IdentityLink
from etl import load

SEEN = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
KEY = ("profile_id", "id_type", "value")


def _identifiers(rows: list[tuple[str, str, str, int]]) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "profile_id": [r[0] for r in rows],
            "id_type": [r[1] for r in rows],
            "value": [r[2] for r in rows],
            "sources": [["crm"] for _ in rows],
            "channels": [["phone"] for _ in rows],
            "records": [r[3] for r in rows],
            "first_seen": [SEEN for _ in rows],
            "last_seen": [SEEN for _ in rows],
        },
        schema_overrides={"first_seen": pl.Datetime("us", "UTC"), "last_seen": pl.Datetime("us", "UTC")},
    )


def _stored(engine: Engine) -> dict[tuple[str, str, str], tuple[int, int]]:
    with engine.connect() as connection:
        rows = connection.execute(text('SELECT "id", "profile_id", "id_type", "value", "records" FROM "identifiers"'))
        found = {(r[1], r[2], r[3]): (int(r[0]), int(r[4])) for r in rows}
    engine.dispose()
    return found


def test_replace_rows_keeps_equal_rows_and_empties_the_scope(engine: Engine) -> None:
    first = [
        ("p1", "phone", "+861", 1),
        ("p1", "email", "a@x", 1),
        ("p2", "phone", "+862", 1),
        ("p3", "phone", "+863", 1),
    ]
    with load.open_writer(engine) as writer:
        writer.append(Identifier.__table__, _identifiers(first))
        writer.commit()
    before = _stored(engine)

    scope = pl.DataFrame({"profile_id": ["p1", "p2"]})
    new = _identifiers([("p1", "phone", "+861", 1), ("p1", "email", "a@x", 2), ("p1", "wechat_id", "w1", 1)])
    with load.open_writer(engine) as writer:
        writer.replace_rows(Identifier.__table__, new, KEY, scope=scope)
        writer.commit()
    after = _stored(engine)

    assert {k: v[1] for k, v in after.items()} == {
        ("p1", "phone", "+861"): 1,
        ("p1", "email", "a@x"): 2,  # changed
        ("p1", "wechat_id", "w1"): 1,  # new
        ("p3", "phone", "+863"): 1,  # outside the scope: kept
    }  # p2's row: in the scope, not among the new rows, so deleted
    assert after[("p3", "phone", "+863")][0] == before[("p3", "phone", "+863")][0]
    if engine.dialect.name == "sqlite":  # rows equal or changed in place keep their row (and id)
        assert after[("p1", "phone", "+861")][0] == before[("p1", "phone", "+861")][0]
        assert after[("p1", "email", "a@x")][0] == before[("p1", "email", "a@x")][0]


def test_replace_rows_without_scope_keeps_other_rows(engine: Engine) -> None:
    def links(rows: list[tuple[str, str, float | None]]) -> pl.DataFrame:
        return pl.DataFrame(
            {
                "interaction_id": [r[0] for r in rows],
                "profile_id": [r[1] for r in rows],
                "rule": ["shared_identifier" for _ in rows],
                "id_type": ["phone" for _ in rows],
                "matched_interaction_id": [None for _ in rows],
                "score": [r[2] for r in rows],
                "detail": [None for _ in rows],
            },
            schema_overrides={"matched_interaction_id": pl.String, "score": pl.Float64, "detail": pl.String},
        )

    with load.open_writer(engine) as writer:
        writer.append(IdentityLink.__table__, links([("a", "p1", 0.5), ("b", "p1", None), ("c", "p2", 0.25)]))
        writer.commit()
    with load.open_writer(engine) as writer:
        writer.replace_rows(
            IdentityLink.__table__,
            links([("a", "p1", 0.5), ("b", "p3", 1 / 3), ("d", "p3", None)]),
            ("interaction_id",),
        )
        writer.commit()
    with engine.connect() as connection:
        rows = connection.execute(
            text('SELECT "interaction_id", "profile_id", "score" FROM "identity_links" ORDER BY 1')
        ).all()
    engine.dispose()
    assert [tuple(r) for r in rows] == [("a", "p1", 0.5), ("b", "p3", 1 / 3), ("c", "p2", 0.25), ("d", "p3", None)]
