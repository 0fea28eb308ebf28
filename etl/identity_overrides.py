"""Manual identity overrides (split / join) as the identity step applies them on every run.

Stored in ``identity_overrides`` by cx.identity_overrides (the profile page):

- ``split``: ``interaction_ids`` move out into a profile of their own; ``target_interaction_ids`` stay. Applied as
  a constraint *during* linking: each side gets a virtual identifier of type ``override_split`` (limit one per
  profile, stronger than every real identifier), so the two sides are kept apart and every link between them is
  cut at its weakest point, while records arriving later still join whichever side their identifiers reach.
- ``join``: the clusters of all ``interaction_ids`` (one anchor record per profile; ``target_interaction_ids``
  too, if given) become one profile, after automatic linking and fuzzy matching.

Overrides apply in the order given (oldest first); a reverted override is ignored. Records an override names
that are not in the run are skipped (they may have been erased).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

import polars as pl
from sqlalchemy import select
from sqlalchemy.orm import Session

from cx.errors import ValidationError
from cx.models import IdentityOverride
from etl.identity_graph import EDGE_SCHEMA, ID_TYPE, OK, SPLIT_RANK, SPLIT_TYPE, STATUS


@dataclass(frozen=True)
class Override:
    """One active manual override (see the module docstring for what each kind means)."""

    id: int
    kind: Literal["split", "join"]
    interaction_ids: tuple[str, ...]
    target_interaction_ids: tuple[str, ...] = field(default_factory=tuple)

    def __post_init__(self) -> None:
        if self.kind not in ("split", "join"):
            raise ValidationError(f"identity override #{self.id}: kind must be 'split' or 'join', not {self.kind!r}")
        if not self.interaction_ids:
            raise ValidationError(f"identity override #{self.id}: it names no records; revert it")


def load_overrides(session: Session) -> list[Override]:
    """Every override not reverted, oldest first (created_at, id): the order the identity step applies them in."""
    rows = session.scalars(
        select(IdentityOverride)
        .where(IdentityOverride.reverted_at.is_(None))
        .order_by(IdentityOverride.created_at, IdentityOverride.id)
    )
    return [override_from_row(row) for row in rows]


def override_from_row(row: IdentityOverride) -> Override:
    """An :class:`Override` from one ``identity_overrides`` row."""
    return Override(
        id=row.id,
        kind=row.kind,  # type: ignore[arg-type]
        interaction_ids=tuple(str(i) for i in (row.interaction_ids or [])),
        target_interaction_ids=tuple(str(i) for i in (row.target_interaction_ids or [])),
    )


def override_records(overrides: Sequence[Override]) -> list[str]:
    """Every interaction id any override names (the incremental step loads their profiles too)."""
    out: list[str] = []
    for o in overrides:
        out.extend(o.interaction_ids)
        out.extend(o.target_interaction_ids)
    return list(dict.fromkeys(out))


def split_edges(overrides: Sequence[Override], rec_of: pl.DataFrame) -> pl.DataFrame:
    """Virtual ``override_split`` edges (``rec, id_type, value, status, rank``) for every split override.

    ``rec_of``: ``interaction_id, rec``. Side values are ``"<override id>:out"`` and ``"<override id>:stay"``.
    """
    rows: list[tuple[str, str]] = []
    for o in overrides:
        if o.kind != "split":
            continue
        rows.extend((iid, f"{o.id}:out") for iid in o.interaction_ids)
        rows.extend((iid, f"{o.id}:stay") for iid in o.target_interaction_ids)
    if not rows:
        return pl.DataFrame(schema=EDGE_SCHEMA)
    frame = pl.DataFrame(rows, schema={"interaction_id": pl.String, "value": pl.String}, orient="row")
    return (
        frame.join(rec_of, on="interaction_id")
        .select(
            pl.col("rec").cast(pl.Int64),
            pl.lit(SPLIT_TYPE, dtype=ID_TYPE).alias("id_type"),
            "value",
            pl.lit(OK, dtype=STATUS).alias("status"),
            pl.lit(SPLIT_RANK, dtype=pl.Int8).alias("rank"),
        )
        .unique()
        .select(list(EDGE_SCHEMA))
    )


def join_pairs(overrides: Sequence[Override], rec_of: pl.DataFrame) -> pl.DataFrame:
    """``rec, matched_rec, override_id``: for each join, every named record present linked to the first one."""
    rows: list[tuple[int, str, int]] = []
    for o in overrides:
        if o.kind != "join":
            continue
        for pos, iid in enumerate((*o.interaction_ids, *o.target_interaction_ids)):
            rows.append((o.id, iid, pos))
    schema = {"rec": pl.Int64, "matched_rec": pl.Int64, "override_id": pl.Int64}
    if not rows:
        return pl.DataFrame(schema=schema)
    named = (
        pl.DataFrame(rows, schema={"override_id": pl.Int64, "interaction_id": pl.String, "pos": pl.Int64}, orient="row")
        .join(rec_of, on="interaction_id")
        .sort("override_id", "pos")
    )
    first = named.group_by("override_id").agg(pl.col("rec").first().alias("matched_rec"))
    return (
        named.join(first, on="override_id")
        .filter(pl.col("rec") != pl.col("matched_rec"))
        .select(pl.col("rec").cast(pl.Int64), pl.col("matched_rec").cast(pl.Int64), "override_id")
    )
