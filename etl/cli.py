"""Command line of the pipeline: ``python -m etl run PATH... [--mapping FILE] [--db URL]`` and ``python -m etl status``."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TextIO

from cx.errors import CxError
from cx.schema import CHANNELS
from cx.settings import Settings, load_settings
from cx.store import open_store

BAR_WIDTH = 30


class ProgressBar:
    """A plain progress bar on stderr (redrawn in place on a terminal, one line per step otherwise)."""

    def __init__(self, stream: TextIO | None = None) -> None:
        self.stream = stream or sys.stderr
        self.tty = self.stream.isatty()
        self.last = ""

    def __call__(self, fraction: float, message: str) -> None:
        fraction = min(max(fraction, 0.0), 1.0)
        filled = int(round(fraction * BAR_WIDTH))
        line = f"[{'#' * filled}{'.' * (BAR_WIDTH - filled)}] {fraction:4.0%} {message}"
        if self.tty:
            self.stream.write("\r\033[K" + line[:200])
            if fraction >= 1.0:
                self.stream.write("\n")
        elif line != self.last:
            self.stream.write(line + "\n")
        self.stream.flush()
        self.last = line


def _settings(args: argparse.Namespace) -> Settings:
    settings = load_settings()
    if getattr(args, "db", None):
        settings = settings.with_overrides(database_url=args.db)
    return settings


def _die_with_parent() -> None:
    """A child run (``--progress json``) ends when the process that started it dies (Linux prctl)."""
    try:
        import ctypes
        import signal

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):  # pragma: no cover - not Linux
        pass


def _json_progress(fraction: float, message: str) -> None:
    print(json.dumps({"progress": round(fraction, 4), "message": message}, ensure_ascii=False), flush=True)


def run_command(args: argparse.Namespace) -> int:
    """``run``: load files and folders, print the summary (or JSON lines with ``--progress json``)."""
    from etl.pipeline import run, summary_dict

    as_json = args.progress == "json"
    if as_json:
        _die_with_parent()
    settings = _settings(args)
    engine = open_store(settings, announce=not as_json)
    progress: Callable[[float, str], None] | None
    progress = _json_progress if as_json else (None if args.quiet else ProgressBar())
    try:
        summary = run(
            engine,
            settings,
            [Path(p) for p in args.paths],
            mapping_file=args.mapping,
            channel=args.channel,
            full=args.full,
            trigger=args.trigger,
            progress=progress,
        )
    except CxError as exc:
        if not as_json:
            raise
        print(json.dumps({"error": str(exc), "type": type(exc).__name__}, ensure_ascii=False), flush=True)
        return 2
    if as_json:
        print(json.dumps({"summary": summary_dict(summary)}, ensure_ascii=False, default=str), flush=True)
    else:
        print(format_summary(summary))
    return 0


def format_summary(summary: Any) -> str:
    """The end-of-run summary printed by the CLI."""
    lines = [
        f"batch {summary.batch_id}: {summary.status} ({summary.mode} run) in {summary.duration_s:.1f} s",
        f"  rows read        {summary.rows_read:>12,}",
        f"  rows loaded      {summary.rows_loaded:>12,}"
        + (f"  ({summary.duplicates:,} duplicates merged)" if summary.duplicates else ""),
        f"  rows quarantined {summary.rows_quarantined:>12,}",
    ]
    if summary.rows_suppressed:
        lines.append(f"  rows suppressed  {summary.rows_suppressed:>12,}  (erased customers)")
    lines += [
        f"  profiles created {summary.profiles_created:>12,}",
        f"  profiles merged  {summary.profiles_merged:>12,}",
        f"  profiles split   {summary.profiles_split:>12,}",
        f"  profiles total   {summary.profiles_total:>12,}",
        f"  inputs loaded {summary.files_loaded}, unchanged (skipped) {summary.files_unchanged}",
    ]
    for path, reason in summary.skipped:
        lines.append(f"  not loaded: {path} — {reason}")
    if summary.timings:
        lines.append("  time per step: " + ", ".join(f"{k} {v:.2f} s" for k, v in summary.timings.items()))
    return "\n".join(lines)


def status_command(args: argparse.Namespace) -> int:
    """``status``: recent runs, source freshness and quarantine counts."""
    from cx.db import transaction
    from etl.runs import read_recent_runs, read_source_freshness

    settings = _settings(args)
    engine = open_store(settings, announce=False)
    with transaction(engine) as session:
        runs = read_recent_runs(session, limit=args.limit)
        fresh = read_source_freshness(session, settings)
    if not runs:
        print("No ETL run yet. Load data with: python -m etl run PATH... (or python -m etl demo, then run its folder)")
        return 0
    print("recent runs:")
    for r in runs:
        started = r.started_at.astimezone(settings.tz).strftime("%Y-%m-%d %H:%M")
        print(
            f"  #{r.id:<5} {started} {r.status:<9} {r.trigger:<6} read {r.rows_read:>10,} loaded {r.rows_loaded:>10,} "
            f"quarantined {r.rows_quarantined:>8,} {r.duration_s or 0:7.1f} s"
        )
        if r.status == "failed" and r.message:
            print(f"         {r.message[:300]}")
    print("sources:")
    for f in fresh:
        loaded = f.last_loaded_at.astimezone(settings.tz).strftime("%Y-%m-%d %H:%M") if f.last_loaded_at else "never"
        data_until = f.data_until.astimezone(settings.tz).strftime("%Y-%m-%d %H:%M") if f.data_until else "–"
        flag = "STALE" if f.stale else "ok"
        print(
            f"  {f.source:<16} {flag:<5} last loaded {loaded}  data until {data_until}  files {f.files}  quarantined {f.quarantined:,}"
        )
    return 0


def register(commands: Any) -> None:
    """Add ``run`` and ``status`` to the ``python -m etl`` sub-commands."""
    run_parser = commands.add_parser("run", help="load channel exports (files or folders) into the store")
    run_parser.add_argument("paths", nargs="+", metavar="PATH", help="files, folders or mapping files (.toml)")
    run_parser.add_argument("--mapping", type=Path, help="mapping file (TOML) for the given files")
    run_parser.add_argument("--db", help="SQLAlchemy URL of the store (default: CX_DATABASE_URL)")
    run_parser.add_argument("--channel", choices=CHANNELS, help="channel of canonical files without a channel column")
    run_parser.add_argument("--full", action="store_true", help="reload every input, even unchanged ones")
    run_parser.add_argument("--quiet", action="store_true", help="no progress bar")
    run_parser.add_argument("--progress", choices=("bar", "json"), default="bar", help=argparse.SUPPRESS)
    run_parser.add_argument("--trigger", default="cli", help=argparse.SUPPRESS)
    run_parser.set_defaults(handler=run_command)
    status_parser = commands.add_parser("status", help="recent ETL runs and source freshness")
    status_parser.add_argument("--db", help="SQLAlchemy URL of the store (default: CX_DATABASE_URL)")
    status_parser.add_argument("--limit", type=int, default=10, help="how many runs to list (default 10)")
    status_parser.set_defaults(handler=status_command)
