"""Customer lookup and profile page speed with 200,000 profiles, on SQLite and PostgreSQL.

Synthesises profiles, identifiers, interactions, identity links and alerts (vectorised numpy/polars, bulk
inserted: sqlite3 ``executemany`` / PostgreSQL ``COPY``) into a fresh migrated store, then times, end to end
(one transaction each, audit row included):

- lookup by identifier: phones in other formats, e-mails in other cases, WeChat / member / CRM ids (target ≤ 50 ms)
- lookup by name: names with one wrong character or letter (target ≤ 200 ms; the name index warm, its build
  time reported separately)
- the profile page data: profile, identifiers, alerts, rules, topics, notes, first timeline page, evidence and
  overrides (target ≤ 300 ms)

Usage::

    python bench/profile_bench.py --backend sqlite
    python bench/profile_bench.py --backend postgresql --pg-url postgresql+psycopg://postgres@127.0.0.1:5432/test
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import polars as pl
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from cx.access import Principal, Role
from cx.customer_profile import evidence, timeline, view_profile
from cx.db import make_engine, migrate, transaction
from cx.identity_overrides import overrides_for
from cx.lookup import invalidate_name_index, name_index, search_customers
from cx.models import User
from etl import demo_texts as tx
from etl.normalise import name_key_expr

CHANNELS = ("phone", "chat", "email", "wechat", "app", "web", "survey", "social")
KINDS = ("inquiry", "complaint", "suggestion", "praise", "purchase", "visit", "survey")
T_END = int(datetime(2026, 3, 1, tzinfo=UTC).timestamp())
DAY = 86_400
TEXTS = (
    "快递三天还没到，请帮忙查询物流",
    "Where is my parcel? It was due yesterday.",
    "安装师傅没有按约定时间上门",
    "App 更新后闪退，无法登录",
    "想了解会员积分怎么兑换",
    "The product stopped working after a week, I want a refund.",
    "客服态度很好，问题很快解决了",
    "发票抬头开错了，需要重开",
)


# --------------------------------------------------------------------------------------------- synthesis


def _pick(rng: np.random.Generator, values: list[str], n: int, weights: list[float] | None = None) -> np.ndarray:
    p = None if weights is None else np.asarray(weights, dtype=float) / sum(weights)
    return np.asarray(values, dtype=object)[rng.choice(len(values), size=n, p=p)]


def synthesize(n: int, seed: int, heavy: int = 10, heavy_contacts: int = 1000) -> dict[str, pl.DataFrame]:
    """Profiles with realistic names (duplicates included), identifiers, contacts, evidence and alerts."""
    rng = np.random.default_rng(seed)
    pid = pl.Series("profile_id", [f"p{i:011d}" for i in range(n)])
    latin = rng.random(n) < 0.15
    surnames = [s[0] for s in tx.SURNAMES]
    weights = [float(s[2]) for s in tx.SURNAMES]
    given = [g[0] for g in tx.GIVEN]
    zh = (
        _pick(rng, surnames, n, weights)
        + _pick(rng, given, n)
        + np.where(rng.random(n) < 0.6, _pick(rng, given, n), "")
    )
    latin_given = [g if isinstance(g, str) else g[0] for g in tx.LATIN_GIVEN]
    latin_family = [f if isinstance(f, str) else f[0] for f in tx.LATIN_FAMILY]
    en = _pick(rng, latin_given, n) + " " + _pick(rng, latin_family, n)
    names = pl.Series("display_name", np.where(latin, en, zh).astype(str))
    cities = [c[0] for c in tx.CITIES]
    # distinct valid mobiles 130… to 139…: i * 7919 mod 10^9 is a permutation (7919 is prime to 10^9)
    phone_nsn = 13_000_000_000 + (np.arange(n, dtype=np.int64) * 7919 + int(rng.integers(0, 10**9))) % 10**9
    phones = pl.Series("phone", [f"+86{v}" for v in phone_nsn])
    first = T_END - rng.integers(30, 800, n) * DAY
    last = np.minimum(T_END, first + rng.integers(0, 700, n) * DAY)
    profiles = pl.DataFrame(
        {
            "profile_id": pid,
            "display_name": names,
            "primary_phone": phones,
            "primary_email": pl.Series([f"user{i}@example.com" for i in range(n)]),
            "wechat_id": pl.Series([f"wxid_{i:09x}" for i in range(n)]),
            "city": _pick(rng, cities, n).astype(str),
            "member_tier": _pick(rng, ["普通会员", "银卡会员", "金卡会员", "钻石会员"], n, [6, 3, 1, 0.3]).astype(str),
            "first_seen": first,
            "last_seen": last,
            "latest_nps": rng.integers(0, 11, n),
            "latest_csat": rng.integers(1, 6, n),
            "risk_score": np.round(rng.random(n), 3),
            "stage": _pick(rng, ["pre_sale", "purchase", "delivery", "after_sale"], n).astype(str),
        }
    ).with_columns(name_key_expr("display_name").alias("name_key"))

    # identifiers: every profile a phone and a CRM id; most an e-mail, WeChat, member id; some a device
    parts = [
        ("phone", profiles["primary_phone"], np.ones(n, bool)),
        ("email", profiles["primary_email"], rng.random(n) < 0.7),
        ("wechat_id", profiles["wechat_id"], rng.random(n) < 0.5),
        ("member_id", pl.Series([f"M{1_000_000_000 + i}" for i in range(n)]), rng.random(n) < 0.6),
        ("crm_id", pl.Series([f"C{10_000_000 + i}" for i in range(n)]), np.ones(n, bool)),
        ("device_id", pl.Series([f"dev-{i:012x}" for i in range(n)]), rng.random(n) < 0.4),
    ]
    identifiers = pl.concat(
        [
            pl.DataFrame({"profile_id": pid, "id_type": id_type, "value": values}).filter(pl.Series(keep))
            for id_type, values, keep in parts
        ]
    ).with_columns(
        pl.lit('["crm", "hotline"]').alias("sources"),
        pl.lit('["phone"]').alias("channels"),
        pl.lit(2).alias("records"),
    )

    # contacts: ~5 per profile, a few heavy customers with `heavy_contacts` each
    per = rng.geometric(0.2, n).astype(np.int64)
    per[:heavy] = heavy_contacts
    owner = np.repeat(np.arange(n), per)
    m = owner.size
    occurred = last[owner] - rng.integers(0, 365, m) * DAY - rng.integers(0, DAY, m)
    interactions = pl.DataFrame(
        {
            "interaction_id": pl.Series([f"src:{i}" for i in range(m)]),
            "record_id": pl.Series([str(i) for i in range(m)]),
            "source": "src",
            "channel": _pick(rng, list(CHANNELS), m).astype(str),
            "occurred_at": occurred,
            "profile_id": pid.gather(owner),
            "kind": _pick(rng, list(KINDS), m, [5, 2, 0.5, 0.5, 1, 1, 1]).astype(str),
            "touchpoint": _pick(rng, list(tx.TOUCHPOINTS), m).astype(str),
            "text": _pick(rng, list(TEXTS), m).astype(str),
            "agent_id": _pick(rng, [f"A{i:03d}" for i in range(200)], m).astype(str),
            "resolved": rng.random(m) < 0.7,
        }
    )
    links = interactions.select(
        "interaction_id",
        "profile_id",
        pl.lit("shared_identifier").alias("rule"),
        pl.lit("phone").alias("id_type"),
    )
    alerted = rng.choice(n, size=n // 20, replace=False)
    alerts = pl.DataFrame(
        {
            "dedup_key": pl.Series([f"bench:{i}" for i in range(alerted.size)]),
            "title": "Repeat complaints",
            "level": _pick(rng, ["info", "warning", "critical"], alerted.size).astype(str),
            "status": _pick(rng, ["open", "acknowledged", "resolved", "closed"], alerted.size).astype(str),
            "entity_type": "customer",
            "entity_id": pid.gather(alerted),
            "profile_id": pid.gather(alerted),
            "created_at": T_END - rng.integers(0, 90, alerted.size) * DAY,
        }
    )
    return {
        "profiles": profiles,
        "identifiers": identifiers,
        "interactions": interactions,
        "identity_links": links,
        "alerts": alerts,
    }


# --------------------------------------------------------------------------------------------- loading

TIME_COLUMNS = {"first_seen", "last_seen", "occurred_at", "created_at", "updated_at"}


def _prepare(frame: pl.DataFrame, backend: str) -> pl.DataFrame:
    """Epoch seconds -> the text form each backend stores; booleans as 0/1 on SQLite."""
    exprs = []
    for name, dtype in frame.schema.items():
        if name in TIME_COLUMNS:
            ts = pl.from_epoch(pl.col(name), time_unit="s")
            fmt = "%Y-%m-%d %H:%M:%S.%6f" if backend == "sqlite" else "%Y-%m-%d %H:%M:%S+00"
            exprs.append(ts.dt.strftime(fmt).alias(name))
        elif dtype == pl.Boolean and backend == "sqlite":
            exprs.append(pl.col(name).cast(pl.Int8))
    return frame.with_columns(exprs) if exprs else frame


def bulk_load(engine: Engine, tables: dict[str, pl.DataFrame], backend: str) -> dict[str, float]:
    timings: dict[str, float] = {}
    now = "2026-03-01 00:00:00.000000" if backend == "sqlite" else "2026-03-01 00:00:00+00"
    defaults = {
        "profiles": {"interaction_count": 5, "complaint_count": 0, "open_complaints": 0, "updated_at": now},
        "identifiers": {},
        "interactions": {},
        "identity_links": {},
        "alerts": {"origin": "rule", "escalation_step": 0, "updated_at": now},
    }
    raw = engine.raw_connection()
    try:
        for table, frame in tables.items():
            started = time.perf_counter()
            frame = _prepare(frame, backend).with_columns(
                pl.lit(v).alias(k) for k, v in defaults[table].items() if k not in frame.columns
            )
            cols = frame.columns
            cursor = raw.cursor()
            if backend == "sqlite":
                sql = f"INSERT INTO {table} ({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))})"
                cursor.execute("BEGIN")  # the store's sqlite3 connections run in autocommit mode
                for chunk in frame.iter_slices(100_000):
                    cursor.executemany(sql, chunk.rows())
            else:
                with cursor.copy(f"COPY {table} ({', '.join(cols)}) FROM STDIN WITH (FORMAT csv)") as copy:
                    for chunk in frame.iter_slices(200_000):
                        copy.write(chunk.write_csv(include_header=False))
            raw.commit()
            timings[table] = time.perf_counter() - started
            print(f"  loaded {table:15s} {frame.height:>10,} rows in {timings[table]:6.1f} s", flush=True)
        cursor = raw.cursor()
        cursor.execute("ANALYZE")
        raw.commit()
    finally:
        raw.close()
    return timings


# --------------------------------------------------------------------------------------------- timing


def _timed(calls: list[Callable[[], object]]) -> list[float]:
    out = []
    for call in calls:
        started = time.perf_counter()
        call()
        out.append((time.perf_counter() - started) * 1000)
    return out


def _summary(ms: list[float]) -> dict[str, float]:
    ordered = sorted(ms)
    return {
        "n": len(ms),
        "median_ms": round(statistics.median(ordered), 1),
        "p95_ms": round(ordered[int(0.95 * (len(ordered) - 1))], 1),
        "max_ms": round(ordered[-1], 1),
    }


def _phone_formats(e164: str) -> list[str]:
    n = e164[3:]
    return [f"{n[:3]} {n[3:7]} {n[7:]}", f"+86-{n[:3]}-{n[3:7]}-{n[7:]}", f"0086{n}", n]


def _typo(name: str, rng: np.random.Generator) -> str:
    pos = int(rng.integers(1, len(name))) if len(name) > 1 else 0
    if any("\u4e00" <= ch <= "\u9fff" for ch in name):
        return name[:pos] + "某" + name[pos + 1 :]
    return name[:pos] + name[pos + 1 :] if name[pos] != " " else name[: pos - 1] + name[pos:]


def run(backend: str, url: str, profiles: int, samples: int, seed: int) -> dict[str, object]:
    engine = make_engine(url)
    migrate(engine)
    print(f"[{backend}] synthesising {profiles:,} profiles …", flush=True)
    started = time.perf_counter()
    tables = synthesize(profiles, seed)
    print(f"  synthesised in {time.perf_counter() - started:.1f} s", flush=True)
    load = bulk_load(engine, tables, backend)
    with transaction(engine) as session:
        user = User(username="bench-agent", display_name="Bench Agent", role="agent")
        session.add(user)
        session.flush()
        agent = Principal(user.id, "bench-agent", "Bench Agent", Role.AGENT)
    rng = np.random.default_rng(seed + 1)
    sample = tables["profiles"].sample(samples, seed=seed)
    ids = tables["identifiers"]

    def search(query: str) -> Callable[[], object]:
        def call() -> object:
            with transaction(engine) as session:
                return search_customers(session, agent, query)

        return call

    id_queries: list[str] = []
    for row in sample.iter_rows(named=True):
        id_queries.append(_phone_formats(row["primary_phone"])[int(rng.integers(0, 4))])
    picked = ids.filter(pl.col("id_type") != "phone").sample(samples, seed=seed)
    for id_type, value in picked.select("id_type", "value").iter_rows():
        id_queries.append(value.upper() if id_type == "email" else value)
    search(id_queries[0])()  # connection warm-up
    id_ms = _timed([search(q) for q in id_queries])
    found = sum(1 for q in id_queries[:samples] if search(q)().total >= 1)

    invalidate_name_index()
    with transaction(engine) as session:
        started = time.perf_counter()
        index = name_index(session)
        build_ms = (time.perf_counter() - started) * 1000
    name_queries = [_typo(name, rng) for name in sample["display_name"].to_list()]
    name_ms = _timed([search(q) for q in name_queries])

    heavy = [f"p{i:011d}" for i in range(3)]
    page_ids = heavy + sample["profile_id"].to_list()

    def page(profile_id: str) -> Callable[[], object]:
        def call() -> object:
            with transaction(engine) as session:
                view = view_profile(session, agent, profile_id)
                timeline(session, agent, profile_id)
                evidence(session, agent, profile_id)
                overrides_for(session, agent, profile_id)
                return view

        return call

    page_ms = _timed([page(p) for p in page_ids])
    heavy_ms = page_ms[: len(heavy)]
    engine.dispose()
    return {
        "backend": backend,
        "profiles": profiles,
        "rows": {name: frame.height for name, frame in tables.items()},
        "load_s": {k: round(v, 1) for k, v in load.items()},
        "lookup_identifier": {**_summary(id_ms), "found_phone_share": found / samples},
        "name_index_build_ms": round(build_ms, 1),
        "name_index_keys": len(index.keys),
        "lookup_name": _summary(name_ms),
        "profile_page": _summary(page_ms),
        "profile_page_heavy_customer_ms": [round(v, 1) for v in heavy_ms],
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--backend", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--profiles", type=int, default=200_000)
    parser.add_argument("--samples", type=int, default=200)
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--pg-url", default=os.environ.get("CX_TEST_DATABASE_URL"))
    parser.add_argument("--keep", action="store_true", help="keep the benchmark database afterwards")
    args = parser.parse_args(argv)
    workdir = Path(tempfile.mkdtemp(prefix="cx-profile-bench-"))
    if args.backend == "sqlite":
        url = f"sqlite:///{workdir / 'bench.db'}"
        admin = None
        name = None
    else:
        if not args.pg_url:
            parser.error("--pg-url (or CX_TEST_DATABASE_URL) is needed for PostgreSQL")
        name = f"cx_profile_bench_{os.getpid()}"
        admin = create_engine(args.pg_url, isolation_level="AUTOCOMMIT")
        with admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
        url = make_url(args.pg_url).set(database=name).render_as_string(hide_password=False)
    load_before = os.getloadavg()[0]
    try:
        result = run(args.backend, url, args.profiles, args.samples, args.seed)
    finally:
        if admin is not None and not args.keep:
            with admin.connect() as connection:
                connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            admin.dispose()
    result["load_average"] = [round(load_before, 1), round(os.getloadavg()[0], 1)]
    result["machine"] = (
        f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"
    )
    print(json.dumps(result, indent=2, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
