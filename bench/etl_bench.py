"""ETL benchmark: a full run on ~1,000,000 demo interactions (200,000 customers) from raw files to loaded SQLite
tables, then an incremental batch of 10,000 interactions on top; prints wall time, CPU time, peak memory and the
time of each step (the identity step separately), then Splink side by side with pairwise F1 (when available).

    python bench/etl_bench.py                       # 200,000 customers, seed 7, data under bench/out/etl
    python bench/etl_bench.py --customers 20000     # a quicker look

Each measured run is a child process (``python -m etl run``) so its peak memory is its own (``wait4`` rusage).
Figures are printed, never asserted; record them in docs/benchmarks.md ("ETL").
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import polars as pl

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from tests.etl.helpers import split_demo_by_time  # noqa: E402


def _run_child(folder: Path, url: str) -> dict[str, Any]:
    """``python -m etl run folder`` in a child; wall time, CPU time and peak RSS of the child."""
    env = {
        **os.environ,
        "CX_DATABASE_URL": url,
        "CX_ADMIN_PASSWORD": os.environ.get("CX_ADMIN_PASSWORD", "bench-admin-pw"),
    }
    env["PYTHONPATH"] = str(REPO)
    command = [sys.executable, "-m", "etl", "run", str(folder), "--progress", "json"]
    started = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, cwd=REPO, text=True)
    out_text, err_text = "", ""
    assert process.stdout is not None and process.stderr is not None
    out_text = process.stdout.read()
    err_text = process.stderr.read()
    _, status, usage = os.wait4(process.pid, 0)
    wall = time.perf_counter() - started
    process.returncode = os.waitstatus_to_exitcode(status)
    summary: dict[str, Any] = {}
    for line in out_text.splitlines():
        try:
            message = json.loads(line)
        except json.JSONDecodeError:
            continue
        if "summary" in message:
            summary = message["summary"]
        elif "error" in message:
            raise SystemExit(f"the run failed: {message['error']}")
    if not summary:
        raise SystemExit(f"the run failed (exit {process.returncode}):\n{err_text[-3000:]}")
    return {
        "wall_s": wall,
        "cpu_s": usage.ru_utime + usage.ru_stime,
        "peak_rss_mb": usage.ru_maxrss / 1024,
        "summary": summary,
    }


def _ours(url: str) -> pl.DataFrame:
    from cx.db import make_engine
    from etl.load import read_frame

    engine = make_engine(url)
    frame = read_frame(engine, 'SELECT "interaction_id", "profile_id" FROM "interactions"')
    engine.dispose()
    return frame


def _print_run(title: str, result: dict[str, Any]) -> None:
    summary = result["summary"]
    print(f"\n{title}")
    print(f"  wall {result['wall_s']:.1f} s · CPU {result['cpu_s']:.1f} s · peak RSS {result['peak_rss_mb']:,.0f} MB")
    print(
        f"  rows read {summary['rows_read']:,} · loaded {summary['rows_loaded']:,} · quarantined "
        f"{summary['rows_quarantined']:,} · profiles total {summary['profiles_total']:,} "
        f"(created {summary['profiles_created']:,}, merged {summary['profiles_merged']:,}, split {summary['profiles_split']:,})"
    )
    print("  steps (wall s): " + ", ".join(f"{k} {v:.2f}" for k, v in summary["timings"].items()))
    print("  steps (CPU s):  " + ", ".join(f"{k} {v:.2f}" for k, v in summary.get("cpu_timings", {}).items()))
    print(f"  in-process run time (duration_s): {summary['duration_s']:.1f} s")
    print(f"  identity step alone: {summary['timings'].get('identity', float('nan')):.2f} s")


def _splink(folder: Path, ours: pl.DataFrame | None) -> None:
    """Splink on the same records, both tools' time and pairwise F1 side by side (bench/splink_side_by_side.py)."""
    try:
        sys.path.insert(0, str(REPO / "bench"))
        import splink_side_by_side  # type: ignore[import-not-found]
    except ImportError as exc:
        print(f"\nSplink side by side: not available ({exc}); see bench/splink_side_by_side.py")
        return
    runner = getattr(splink_side_by_side, "side_by_side", None) or getattr(splink_side_by_side, "main", None)
    if runner is None:
        print("\nSplink side by side: bench/splink_side_by_side.py has no side_by_side() function")
        return
    print("\nSplink side by side:")
    runner(folder, ours) if runner.__name__ == "side_by_side" else runner([str(folder)])


def _save_snapshot(db: Path, snapshot: Path) -> None:
    """The store after the full run (its WAL copied in), for later ``--incremental-only`` runs."""
    import sqlite3

    with sqlite3.connect(db) as connection:
        connection.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()
    connection.close()
    shutil.copyfile(db, snapshot)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--customers", type=int, default=200_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--increment", type=int, default=10_000, help="interactions in the incremental batch")
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "out" / "etl")
    parser.add_argument("--keep-data", action="store_true", help="reuse generated exports in --out if present")
    parser.add_argument("--no-splink", action="store_true")
    parser.add_argument(
        "--incremental-only",
        action="store_true",
        help="skip the full run: restore the store a previous run saved after its full run (cx.full.db) and time "
        "only the incremental batch on top (needs --keep-data)",
    )
    parser.add_argument(
        "--splink-customers",
        type=int,
        default=0,
        help="run Splink side by side on a separate demo set of this many customers (default: the same exports)",
    )
    args = parser.parse_args(argv)

    from etl import demo

    exports, later, db = args.out / "exports", args.out / "later", args.out / "cx.db"
    snapshot = args.out / "cx.full.db"
    if args.incremental_only and not (args.keep_data and snapshot.exists()):
        raise SystemExit(f"--incremental-only needs --keep-data and {snapshot} from an earlier run")
    if not (args.keep_data and (exports / "manifest.json").exists()):
        shutil.rmtree(args.out, ignore_errors=True)
        started = time.perf_counter()
        manifest = demo.generate(args.customers, args.seed, exports)
        print(
            f"generated {manifest.interactions:,} interactions for {args.customers:,} customers in {time.perf_counter() - started:.1f} s"
        )
        moved = split_demo_by_time(exports, args.increment / manifest.interactions, later)
        print(f"held back the newest {moved:,} interactions for the incremental batch")
    for path in exports.glob("*_2.*"):  # a kept data set: take the incremental batch out again
        path.unlink()
    for path in (db, Path(f"{db}-wal"), Path(f"{db}-shm")):
        path.unlink(missing_ok=True)
    url = f"sqlite:///{db}"
    print(f"machine: {os.cpu_count()} cores; load average before: {os.getloadavg()}")

    if args.incremental_only:
        shutil.copyfile(snapshot, db)
        with db.open("rb+") as handle:  # written out now, not while the measured run reads and writes
            os.fsync(handle.fileno())
    else:
        full = _run_child(exports, url)
        _print_run("full run (raw files -> loaded SQLite tables)", full)
        _save_snapshot(db, snapshot)
    for path in later.iterdir():
        shutil.copy(path, exports / path.name)
    incremental = _run_child(exports, url)
    _print_run(f"incremental run ({args.increment:,} new interactions)", incremental)
    print(f"\nload average after: {os.getloadavg()}")
    if not args.no_splink:
        if args.splink_customers:
            folder = args.out / f"splink-{args.splink_customers}"
            if not (folder / "ground_truth.csv").exists():
                demo.generate(args.splink_customers, args.seed, folder)
            _splink(folder, None)
        else:
            _splink(exports, _ours(url))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
