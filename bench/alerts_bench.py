"""Alert evaluation speed: 200 rules over 1,000,000 interactions (full pass) and over 10,000 new ones (incremental).

    python bench/alerts_bench.py                      # SQLite file in a temp folder
    python bench/alerts_bench.py --rows 200000        # smaller
    python bench/alerts_bench.py --db postgresql+psycopg://postgres@127.0.0.1:5432/bench   # an EMPTY database

Prints figures (targets: full pass <= 10 s, incremental pass over 10,000 new interactions <= 1 s); it never asserts.
Each incremental pass (``--passes``, default 3) evaluates a new load batch of ``--new`` interactions, like the
worker's minutely job after an ETL run; the 1-minute load average is printed with every pass (the machine is shared).
The data spans 60 days ending at the evaluation time; rules mix every scope (interaction keyword and field tests,
customer windows, aggregates and KPI trends over daily facts, SLA on open cases).
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import polars as pl
from sqlalchemy import func, insert, select, text

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from alerts import engine as alert_engine
from alerts import rulebook
from cx.db import make_engine, migrate, transaction
from cx.models import Alert, DailyFact, Interaction
from cx.settings import load_settings

NOW = datetime(2026, 3, 10, 4, 0, tzinfo=UTC)
DAYS = 60
CHANNELS = ["phone", "chat", "email", "wechat", "app", "web", "survey", "social"]
KINDS = ["inquiry", "complaint", "suggestion", "praise", "purchase", "visit", "survey"]
TOUCHPOINTS = [
    "shipping",
    "repair",
    "returns",
    "billing",
    "payment",
    "checkout",
    "app_usage",
    "product_quality",
    "installation",
    "presale_consult",
    "campaign",
    "web_browse",
]
TEAMS = ["hotline_a", "hotline_b", "chat_desk", "email_desk", "vip_care", "tech_support"]
#: Customer texts: mostly ordinary, a few alarming ones (what keyword rules look for) at about 1 % each.
TEXTS = [
    "物流太慢了，什么时候到",
    "请问这个型号有货吗",
    "非常满意，谢谢",
    "where is my parcel",
    "how do I reset the app",
    "发票怎么开",
    None,
    "我要投诉你们的售后",
    "refund not received, I will call my lawyer",
    "维修三次还没修好，要曝光",
    "app keeps crashing after update",
]
TEXT_WEIGHTS = [0.2, 0.15, 0.15, 0.15, 0.1, 0.1, 0.11, 0.01, 0.01, 0.01, 0.01]


def machine() -> str:
    load = ", ".join(f"{v:.1f}" for v in os.getloadavg())
    return (
        f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
        f"load average {load}"
    )


def interactions(
    rows: int, profiles: int, seed: int, start_id: int, batch: int, since: datetime, until: datetime
) -> pl.DataFrame:
    rng = np.random.default_rng(seed)
    span = (until - since).total_seconds()
    seconds = np.sort(rng.uniform(0, span, rows))
    occurred = [since + timedelta(seconds=float(s)) for s in seconds]
    has_case = rng.random(rows) < 0.2
    frame = pl.DataFrame(
        {
            "interaction_id": [f"b:{i}" for i in range(start_id, start_id + rows)],
            "record_id": [str(i) for i in range(start_id, start_id + rows)],
            "source": ["b"] * rows,
            "channel": np.array(CHANNELS)[rng.integers(0, len(CHANNELS), rows)],
            "occurred_at": occurred,
            "profile_id": [f"P{n}" for n in rng.integers(0, profiles, rows)],
            "touchpoint": np.array(TOUCHPOINTS)[rng.integers(0, len(TOUCHPOINTS), rows)],
            "kind": np.array(KINDS)[rng.choice(len(KINDS), rows, p=[0.45, 0.12, 0.05, 0.05, 0.13, 0.15, 0.05])],
            "text": [TEXTS[i] for i in rng.choice(len(TEXTS), rows, p=TEXT_WEIGHTS)],
            "team": np.array(TEAMS)[rng.integers(0, len(TEAMS), rows)],
            "case_id": [
                f"C{n}" if c else None for n, c in zip(rng.integers(0, rows // 3, rows), has_case, strict=True)
            ],
            "queue_wait_s": rng.exponential(60, rows),
            "resolved": rng.random(rows) < 0.9,
            "csat": rng.integers(1, 6, rows),
            "nps": rng.integers(0, 11, rows),
            "batch_id": [batch] * rows,
        }
    )
    return frame


def load(engine, frame: pl.DataFrame) -> None:
    columns = frame.columns
    if engine.dialect.name == "sqlite":
        as_text = frame.with_columns(pl.col("occurred_at").dt.strftime("%Y-%m-%d %H:%M:%S%.6f"))
        connection = engine.raw_connection()
        try:
            cursor = connection.cursor()
            cursor.execute("BEGIN")
            sql = f"INSERT INTO interactions ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})"
            cursor.executemany(sql, as_text.iter_rows())
            cursor.execute("COMMIT")
        finally:
            connection.close()
        return
    with transaction(engine) as session:
        for chunk in frame.iter_slices(20_000):
            session.execute(insert(Interaction), chunk.to_dicts())


def facts(engine) -> None:
    rng = np.random.default_rng(3)
    rows = []
    first = NOW.date() - timedelta(days=400)
    for d in range(401):
        day = first + timedelta(days=d)
        for tp in TOUCHPOINTS:
            for channel in CHANNELS[:4]:
                responses = int(rng.integers(5, 40))
                rows.append(
                    {
                        "day": day,
                        "touchpoint": tp,
                        "channel": channel,
                        "stage": "",
                        "department": "",
                        "team": "",
                        "agent_id": "",
                        "interactions": responses * 5,
                        "inbound_contacts": responses * 4,
                        "complaints": int(rng.integers(0, responses)),
                        "nps_responses": responses,
                        "nps_promoters": int(rng.integers(0, responses // 2 + 1)),
                        "nps_detractors": int(rng.integers(0, responses // 2 + 1)),
                        "csat_responses": responses,
                        "csat_satisfied": int(rng.integers(responses // 2, responses + 1)),
                        "offered": responses * 3,
                        "abandoned": int(rng.integers(0, responses // 2 + 1)),
                    }
                )
    with transaction(engine) as session:
        session.execute(insert(DailyFact), rows)


def rules() -> list[dict]:
    documents: list[dict] = []
    keywords = [["投诉", "complain"], ["曝光", "lawyer"], ["律师", "lawyer"], ["crash", "死机"], ["曝光", "12315"]]
    for i in range(80):
        if i % 2:
            condition = {
                "all": [
                    {"field": "text", "op": "contains_any", "value": keywords[i % 5]},
                    {"field": "kind", "op": "eq", "value": "complaint"},
                    {"field": "channel", "op": "in", "value": CHANNELS[: 2 + i % 6]},
                ]
            }
        else:
            condition = {
                "all": [
                    {"field": "queue_wait_s", "op": "gt", "value": 300 + i * 5},
                    {"field": "touchpoint", "op": "eq", "value": TOUCHPOINTS[i % 12]},
                ]
            }
        documents.append(
            {"name": f"interaction {i}", "level": "info", "scope": {"kind": "interaction"}, "condition": condition}
        )
    for i in range(60):
        documents.append(
            {
                "name": f"customer {i}",
                "level": "warning",
                "scope": {"kind": "customer", "window": f"{1 + i % 7}d"},
                "filter": {"field": "touchpoint", "op": "in", "value": TOUCHPOINTS[i % 6 : i % 6 + 4]},
                "condition": {
                    "all": [
                        {"metric": "contacts", "op": "ge", "value": 3 + i % 3},
                        {"metric": "resolved", "op": "eq", "value": 0},
                    ]
                },
            }
        )
    for i in range(30):
        documents.append(
            {
                "name": f"aggregate {i}",
                "level": "critical",
                "scope": {
                    "kind": "aggregate",
                    "window": f"{1 + i % 14}d",
                    "by": ["touchpoint", "channel", "all"][i % 3],
                },
                "condition": {
                    "all": [
                        {
                            "metric": ["csat", "complaint_rate", "abandonment", "nps"][i % 4],
                            "op": "lt",
                            "value": 60 + i,
                        },
                        {"metric": "csat_responses", "op": "ge", "value": 30},
                    ]
                },
            }
        )
    for i in range(20):
        documents.append(
            {
                "name": f"trend {i}",
                "level": "warning",
                "scope": {
                    "kind": "trend",
                    "window": "30d",
                    "by": ["touchpoint", "channel"][i % 2],
                    "compare": ["mom", "yoy", "previous"][i % 3],
                },
                "condition": {"metric": ["nps", "csat"][i % 2], "of": "change", "op": "lt", "value": -2 - i % 5},
            }
        )
    for i in range(10):
        documents.append(
            {
                "name": f"sla {i}",
                "level": "warning",
                "scope": {"kind": "sla", "lookback": "30d"},
                "filter": {"field": "touchpoint", "op": "eq", "value": TOUCHPOINTS[i]},
                "condition": {"metric": "open_hours", "op": "gt", "value": 24 * (2 + i % 5)},
            }
        )
    return documents


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--new", type=int, default=10_000)
    parser.add_argument("--passes", type=int, default=3, help="incremental passes, each over --new new interactions")
    parser.add_argument("--db", help="an empty database URL (default: a temporary SQLite file)")
    args = parser.parse_args()
    folder = tempfile.mkdtemp(prefix="cx-alerts-bench-")
    url = args.db or f"sqlite:///{Path(folder) / 'bench.db'}"
    settings = load_settings(environ={"CX_DATABASE_URL": url}, secrets_path=Path(folder) / "none.toml")
    engine = make_engine(url)
    migrate(engine)
    started = time.perf_counter()
    load(engine, interactions(args.rows, args.rows // 5, 1, 0, 1, NOW - timedelta(days=DAYS), NOW - timedelta(hours=1)))
    facts(engine)
    with transaction(engine) as session:
        for document in rules():
            rulebook.save_rule(session, None, document)
    if engine.dialect.name == "postgresql":  # planner statistics, as autovacuum would gather after the bulk load
        with engine.connect() as connection:
            connection.execute(text("ANALYZE"))
            connection.commit()
    print(f"setup: {args.rows:,} interactions, 401 days of facts, 200 rules in {time.perf_counter() - started:.1f} s")

    def timed(label: str, **kwargs: object) -> alert_engine.PassResult:
        cpu = time.process_time()
        result = alert_engine.evaluate(engine, settings, now=NOW, **kwargs)
        assert not result.errors, result.errors
        stages = ", ".join(f"{k} {v:.2f}" for k, v in result.timings.items())
        print(
            f"{label:<26}{result.seconds:6.2f} s wall, {time.process_time() - cpu:6.2f} s CPU   "
            f"{result.created:>6,} alerts created   ({stages})   load average {os.getloadavg()[0]:.1f}"
        )
        return result

    timed("full pass (first):", full=True)
    timed("full pass (again):", full=True)
    since, until = NOW - timedelta(minutes=55), NOW - timedelta(minutes=1)
    walls = []
    for n in range(args.passes):
        batch = 2 + n
        load(engine, interactions(args.new, args.rows // 5, batch, args.rows + n * args.new, batch, since, until))
        walls.append(timed(f"incremental {n + 1} (+{args.new:,}):").seconds)
    if walls:
        print(f"incremental passes: best {min(walls):.2f} s, median {sorted(walls)[len(walls) // 2]:.2f} s wall")
    with transaction(engine) as session:
        total = session.scalar(select(func.count()).select_from(Alert))
    print(f"alerts in store: {total:,}; machine: {machine()}; store: {engine.dialect.name}")
    engine.dispose()


if __name__ == "__main__":
    main()
