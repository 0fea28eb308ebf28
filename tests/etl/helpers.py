"""Helpers of the ETL tests: table snapshots, settings with overrides, splitting a demo export by time."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import polars as pl
from sqlalchemy import Engine, text

#: Table -> (sort key, bookkeeping columns left out of a comparison).
DATA_TABLES: dict[str, tuple[str, set[str]]] = {
    "interactions": ("interaction_id", {"batch_id"}),
    "profiles": ("profile_id", {"updated_at"}),
    "identifiers": ("profile_id, id_type, value", {"id"}),
    "identity_links": ("interaction_id", set()),
    "daily_facts": ("day, channel, stage, touchpoint, department, team, agent_id, segment", {"id"}),
    "quarantine": ("source, file, line", {"id", "batch_id", "created_at"}),
}


def snapshot(engine: Engine, tables: dict[str, tuple[str, set[str]]] = DATA_TABLES) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of the data tables (sorted, bookkeeping columns left out), read through SQLAlchemy."""
    out: dict[str, list[tuple[Any, ...]]] = {}
    with engine.connect() as connection:
        for table, (order, skip) in tables.items():
            names = connection.execute(text(f'SELECT * FROM "{table}" WHERE 1 = 0')).keys()
            columns = [c for c in names if c not in skip]
            select_list = ", ".join(f'"{c}"' for c in columns)
            rows = connection.execute(text(f'SELECT {select_list} FROM "{table}" ORDER BY {order}')).all()
            out[table] = [tuple(r) for r in rows]
    return out


def count(engine: Engine, table: str, where: str = "1 = 1") -> int:
    with engine.connect() as connection:
        return int(connection.execute(text(f'SELECT COUNT(*) FROM "{table}" WHERE {where}')).scalar_one())


def touch_later(path: Path, seconds: float = 10) -> None:
    """Make ``path`` look modified ``seconds`` after now (newest file wins)."""
    stat = path.stat()
    os.utime(path, (stat.st_atime + seconds, stat.st_mtime + seconds))


def split_demo_by_time(folder: Path, share: float, later: Path) -> int:
    """Move the newest ``share`` of each demo export's rows into ``later/<name>_2.<ext>`` (copied next to the
    exports later, the mapping globs match them).

    Returns the number of rows moved. Rows keep their order; exports are sorted by time already.
    """
    moved = 0
    for path in sorted(folder.iterdir()):
        if path.suffix == ".csv" and path.name not in ("ground_truth.csv", "agents.csv"):
            frame = pl.read_csv(path, infer_schema=False)
            writer = "csv"
        elif path.suffix == ".ndjson":
            frame = pl.read_ndjson(path)
            writer = "ndjson"
        elif path.suffix == ".parquet":
            frame = pl.read_parquet(path)
            writer = "parquet"
        else:
            continue
        cut = frame.height - int(frame.height * share)
        head, tail = frame.head(cut), frame.tail(frame.height - cut)
        later.mkdir(parents=True, exist_ok=True)
        target = later / f"{path.stem}_2{path.suffix}"
        for part, out in ((head, path), (tail, target)):
            if writer == "csv":
                part.write_csv(out)
            elif writer == "ndjson":
                part.write_ndjson(out)
            else:
                part.write_parquet(out)
        moved += tail.height
    return moved
