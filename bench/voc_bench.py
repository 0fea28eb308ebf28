"""Voice-of-the-customer read side on a loaded store: the keyword queries the VoC page runs (cx.voc).

    python bench/etl_bench.py --no-splink          # once: leaves ~1M demo interactions in bench/out/etl/cx.db
    python bench/voc_bench.py                      # times top terms and term trends on that store
    python bench/voc_bench.py --db sqlite:///data/cx.db --repeat 9

Prints the median and range of each query over ``--repeat`` runs (the first run, which warms the caches, is
dropped); nothing is asserted. The periods end at the store's last keyword day.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from sqlalchemy import func, select  # noqa: E402

from cx import voc  # noqa: E402
from cx.access import Principal, Role  # noqa: E402
from cx.db import make_engine, transaction  # noqa: E402
from cx.filters import Filters  # noqa: E402
from cx.models import VocKeyword  # noqa: E402

VIEWER = Principal(user_id=0, username="bench", display_name="Bench", role=Role.ADMIN)
TIMEZONE = "Asia/Shanghai"


def _timed(label: str, call: Callable[[], Any], repeat: int) -> None:
    seconds = []
    for _ in range(repeat + 1):
        started = time.perf_counter()
        result = call()
        seconds.append(time.perf_counter() - started)
    ms = sorted(s * 1000 for s in seconds[1:])
    rows = getattr(result, "height", "")
    print(f"{label:<58} median {statistics.median(ms):7.1f} ms  ({ms[0]:.1f}–{ms[-1]:.1f}), {rows} rows")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", default=f"sqlite:///{REPO / 'bench' / 'out' / 'etl' / 'cx.db'}")
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args(argv)

    engine = make_engine(args.db)
    with transaction(engine) as session:
        last = session.scalar(select(func.max(VocKeyword.day)))
        rows = session.scalar(select(func.count()).select_from(VocKeyword))
    if last is None:
        raise SystemExit(f"{args.db} holds no keyword facts: run python bench/etl_bench.py --no-splink first")
    print(f"{args.db}: {rows:,} voc_keywords rows, last day {last}")
    for days in (90, 450):
        period = Filters(last - timedelta(days=days - 1), last)
        with transaction(engine) as session:
            top = voc.top_terms(session, VIEWER, period, TIMEZONE, limit=2)
        terms = top.get_column("term").to_list()

        def top_terms(period: Filters = period) -> Any:
            with transaction(engine) as session:
                return voc.top_terms(session, VIEWER, period, TIMEZONE)

        def trend(period: Filters = period, terms: list[str] = terms) -> Any:
            with transaction(engine) as session:
                return voc.term_trend(session, VIEWER, period, TIMEZONE, terms)

        _timed(f"top terms, {days} days", top_terms, args.repeat)
        _timed(f"trend of the 2 top terms {terms}, {days} days", trend, args.repeat)
    engine.dispose()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
