"""Command line of the ETL: ``python -m etl demo|run|status`` (see README)."""

from __future__ import annotations

import argparse
import sys

from cx.errors import CxError


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m etl", description="CX dashboard ETL jobs")
    commands = parser.add_subparsers(dest="command", required=True)

    from etl import demo

    demo_parser = commands.add_parser("demo", help="write the demo channel exports (deterministic for a seed)")
    demo.add_arguments(demo_parser)
    demo_parser.set_defaults(handler=demo.run)

    from etl import cli

    cli.register(commands)

    args = parser.parse_args(argv)
    try:
        return int(args.handler(args) or 0)
    except CxError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
