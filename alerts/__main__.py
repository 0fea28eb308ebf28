"""Command line: ``python -m alerts rules export|import FILE``, ``evaluate [--db URL]``, ``worker [--db URL]``."""

from __future__ import annotations

import argparse
import logging
import signal
import sys
from datetime import UTC, datetime
from pathlib import Path

from cx.db import transaction
from cx.errors import CxError
from cx.settings import Settings, get_settings
from cx.store import open_store


def _settings(url: str | None) -> Settings:
    settings = get_settings()
    return settings.with_overrides(database_url=url) if url else settings


def _now(value: str | None) -> datetime | None:
    if not value:
        return None
    moment = datetime.fromisoformat(value)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def rules_export(args: argparse.Namespace) -> int:
    from alerts import rulebook

    engine = open_store(_settings(args.db))
    with transaction(engine) as session:
        text = rulebook.export_yaml(session)
    if args.file == "-":
        sys.stdout.write(text)
    else:
        Path(args.file).write_text(text, "utf-8")
        print(f"exported the rules to {args.file}")
    return 0


def rules_import(args: argparse.Namespace) -> int:
    from alerts import rulebook

    text = sys.stdin.read() if args.file == "-" else Path(args.file).read_text("utf-8")
    engine = open_store(_settings(args.db))
    with transaction(engine) as session:
        result = rulebook.import_yaml(session, None, text)
    print(f"created {len(result.created)} rules, updated {len(result.updated)}")
    return 0


def evaluate(args: argparse.Namespace) -> int:
    from alerts import engine as alert_engine

    settings = _settings(args.db)
    engine = open_store(settings)
    result = alert_engine.evaluate(engine, settings, now=_now(args.now), full=args.full)
    for rule in result.rules:
        status = f"error: {rule.error}" if rule.error else f"{rule.created} new ({rule.candidates} matched)"
        print(f"{rule.name}: {status}")
    print(f"{result.created} alerts created by {len(result.rules)} rules in {result.seconds:.2f} s")
    return 1 if result.errors else 0


def worker(args: argparse.Namespace) -> int:
    from alerts.jobs import all_jobs
    from alerts.worker import Worker

    settings = _settings(args.db)
    engine = open_store(settings)
    instance = Worker(engine, settings, all_jobs(args.job))
    if args.once:
        results = instance.tick(_now(args.now))
        for job_id, run in instance.runs.items():
            print(f"{job_id}: {'ok' if run.ok else 'failed'} — {run.message}")
        return 0 if all(run.ok for run in instance.runs.values()) or not results else 1

    def stop(_signum: int, _frame: object) -> None:
        instance.shutdown()
        sys.exit(0)

    signal.signal(signal.SIGTERM, stop)
    print(f"alert worker {instance.holder}: jobs {', '.join(instance.jobs)}", flush=True)
    try:
        instance.start(blocking=True)
    except KeyboardInterrupt:
        instance.shutdown()
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m alerts", description="Warning rules, alerts and their worker")
    commands = parser.add_subparsers(dest="command", required=True)

    rules = commands.add_parser("rules", help="export or import the warning rules as YAML")
    rule_commands = rules.add_subparsers(dest="rules_command", required=True)
    export = rule_commands.add_parser("export", help="write every rule to FILE (- for standard output)")
    export.add_argument("file")
    export.add_argument("--db", help="SQLAlchemy URL of the store (default: CX_DATABASE_URL)")
    export.set_defaults(handler=rules_export)
    imp = rule_commands.add_parser("import", help="create or update rules from FILE; all or nothing")
    imp.add_argument("file")
    imp.add_argument("--db", help="SQLAlchemy URL of the store (default: CX_DATABASE_URL)")
    imp.set_defaults(handler=rules_import)

    ev = commands.add_parser("evaluate", help="run one evaluation pass and exit")
    ev.add_argument("--db", help="SQLAlchemy URL of the store (default: CX_DATABASE_URL)")
    ev.add_argument("--full", action="store_true", help="evaluate every rule over its whole window, not only new data")
    ev.add_argument("--now", help="evaluate as of this ISO time (default: now)")
    ev.set_defaults(handler=evaluate)

    wk = commands.add_parser("worker", help="run the scheduled jobs (ETL, evaluation, escalation, delivery)")
    wk.add_argument("--db", help="SQLAlchemy URL of the store (default: CX_DATABASE_URL)")
    wk.add_argument("--job", action="append", default=[], help="extra job 'package.module:function@seconds'")
    wk.add_argument("--once", action="store_true", help="take the lease if free, run every job once, exit")
    wk.add_argument("--now", help="with --once: run as of this ISO time")
    wk.set_defaults(handler=worker)

    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        return int(args.handler(args) or 0)
    except CxError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
