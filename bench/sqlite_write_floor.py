"""The SQLite write floor of a full ETL run: a loaded store's tables written again into a fresh store, alone.

    python bench/etl_bench.py --no-splink --keep-data   # once: leaves ~1M demo interactions in bench/out/etl/cx.db
    python bench/sqlite_write_floor.py                  # writes its tables again into bench/out/floor/cx.db

The data and text tables a full run writes (not its small bookkeeping ones) are read from ``--db`` first (not timed), then written with the pipeline's own writer
(``etl.load.open_writer``: ADBC appends, secondary indexes rebuilt after large appends, one transaction for the
load and one for the texts, as ``etl.pipeline`` does) into a freshly migrated store, followed by the WAL
checkpoint. Nothing else runs meanwhile, so the figures are what the SQLite side of a full run costs when it has
the machine to itself: a run's writer does this much on one thread (SQLite has one writer per database file) before
the run is done. Prints seconds per table and phase, the total, and the process's CPU seconds during the writes;
no timing is asserted, but the copy is checked to hold every row read (else it exits with the difference).
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import time
from pathlib import Path
from typing import Any

import polars as pl
from sqlalchemy import Engine

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from cx.db import make_engine  # noqa: E402
from cx.models import (  # noqa: E402
    DailyFact,
    FaqCandidate,
    Identifier,
    IdentityLink,
    Interaction,
    Profile,
    TextInsight,
    VocKeyword,
)
from cx.settings import load_settings  # noqa: E402
from cx.store import open_store  # noqa: E402
from etl import load  # noqa: E402
from etl.pipeline import release_sqlite  # noqa: E402

#: The load transaction's tables in the order etl.pipeline writes them, then the text step's.
LOAD_TABLES = (Interaction, IdentityLink, Identifier, Profile, DailyFact)
TEXT_TABLES = (FaqCandidate, TextInsight, VocKeyword)


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _read(url: str) -> dict[str, pl.DataFrame]:
    engine = make_engine(url)
    frames = {}
    for model in (*LOAD_TABLES, *TEXT_TABLES):
        table = model.__table__
        # the pipeline leaves these two tables' surrogate ids to SQLite
        columns = [c.name for c in table.columns if not (c.name == "id" and model in (DailyFact, VocKeyword))]
        names = ", ".join(f'"{c}"' for c in columns)
        frames[table.name] = load.read_frame(engine, f'SELECT {names} FROM "{table.name}" ORDER BY rowid', table=table)
    engine.dispose()
    return frames


def _counts(engine: Engine, tables: dict[str, int]) -> dict[str, int]:
    """Rows in each of ``tables`` of the store."""
    return {name: int(load.read_frame(engine, f'SELECT COUNT(*) AS n FROM "{name}"').item(0, 0)) for name in tables}


def _write(engine: Engine, tables: tuple[Any, ...], frames: dict[str, pl.DataFrame]) -> tuple[dict[str, float], float]:
    """The tables appended in one transaction, then the WAL checkpoint (opened before the writer closes, as the
    pipeline does, so the copy is timed on its own): (the writer's timings, the checkpoint's seconds)."""
    with load.open_writer(engine) as writer:
        for model in tables:
            writer.append(model.__table__, frames[model.__table__.name])
        writer.commit()
        checkpoint = load.Checkpoint(engine)
        timings = dict(writer.timings)
    checkpoint.start()
    return timings, checkpoint.join()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", default=f"sqlite:///{REPO / 'bench' / 'out' / 'etl' / 'cx.db'}")
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "out" / "floor")
    args = parser.parse_args(argv)

    frames = _read(args.db)
    rows = {name: frame.height for name, frame in frames.items()}
    print("rows: " + ", ".join(f"{name} {n:,}" for name, n in rows.items()))
    args.out.mkdir(parents=True, exist_ok=True)
    target = args.out / "cx.db"
    for path in (target, Path(f"{target}-wal"), Path(f"{target}-shm")):
        path.unlink(missing_ok=True)
    settings = load_settings().with_overrides(database_url=f"sqlite:///{target}")
    engine = open_store(settings, announce=False)  # a fresh store with every migration applied
    release_sqlite(engine)  # its pooled pysqlite connections closed before ADBC opens the file (etl.load)
    print(f"machine: {os.cpu_count()} cores; load average before: {os.getloadavg()}")

    cpu, started = _cpu(), time.perf_counter()
    timings, load_checkpoint = _write(engine, LOAD_TABLES, frames)
    loaded = time.perf_counter()
    text_timings, text_checkpoint = _write(engine, TEXT_TABLES, frames)
    ended, cpu_used = time.perf_counter(), _cpu() - cpu
    timings.update({f"texts {k}": v for k, v in text_timings.items()})
    written = _counts(engine, rows)
    engine.dispose()
    if written != rows:  # the figures are only worth something for a complete copy
        raise SystemExit(f"the copy is incomplete: read {rows}, written {written}")

    for name, seconds in timings.items():
        if seconds >= 0.05:
            print(f"  {name:34} {seconds:6.2f} s")
    print(
        f"load transaction (interactions, links, identifiers, profiles, daily facts) and its checkpoint: "
        f"{loaded - started:.1f} s, of which the checkpoint {load_checkpoint:.1f} s"
    )
    print(
        f"text transaction (FAQ candidates, text insights, keyword facts) and its checkpoint: "
        f"{ended - loaded:.1f} s, of which the checkpoint {text_checkpoint:.1f} s"
    )
    print(f"total {ended - started:.1f} s wall, {cpu_used:.1f} s CPU (this process, every thread)")
    print("every table written again in full (row counts checked)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
