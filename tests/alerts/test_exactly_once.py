"""Exactly once: two processes evaluating together leave one alert per key; a process killed between creating an
alert and notifying leaves no duplicate, and the resent notification carries the same key."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import func, select

from alerts import delivery
from alerts import engine as alert_engine
from cx.db import make_engine, transaction
from cx.models import Alert, AlertEvent, Notification
from tests.alerts.harness import load_interactions, save_rules
from tests.alerts.receivers import WebhookServer

REPO = Path(__file__).resolve().parents[2]
T0 = datetime(2026, 3, 10, 2, 0, tzinfo=UTC)
PROFILES = 60


def _spawn(*args: str) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.Popen(
        [sys.executable, "-m", "tests.alerts.proc", *args],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _seed(engine, webhook_url: str | None = None, rules: int = 12) -> None:
    notify = [{"method": "inapp"}] + ([{"method": "webhook", "url": webhook_url}] if webhook_url else [])
    documents = []
    for i in range(rules):
        kind = ("interaction", "customer")[i % 2]
        documents.append(
            {
                "name": f"rule {i}",
                "level": "warning",
                "scope": {"kind": kind, **({"window": "7d"} if kind == "customer" else {})},
                "condition": {"field": "kind", "op": "eq", "value": "complaint"}
                if kind == "interaction"
                else {"metric": "contacts", "op": "ge", "value": 2},
                "notify": notify,
                "owners": [{"user": "owner"}],
            }
        )
    save_rules(engine, documents)
    rows = []
    for p in range(PROFILES):
        for c in range(3):
            rows.append(
                {
                    "id": f"x{p}-{c}",
                    "at": T0 - timedelta(hours=c + 1),
                    "profile": f"P-{p}",
                    "kind": "complaint" if c == 0 else "inquiry",
                }
            )
    load_interactions(engine, rows)


def _assert_one_alert_per_key(engine, expected: int) -> None:
    with transaction(engine) as s:
        keys = s.scalars(select(Alert.dedup_key)).all()
        assert len(keys) == len(set(keys)) == expected
        assert s.scalar(select(func.count()).select_from(AlertEvent).where(AlertEvent.kind == "created")) == expected
        notices = s.execute(select(Notification.dedup_key, Notification.event, Notification.method)).all()
        assert len(notices) == len(set(notices))
        assert {n.dedup_key for n in notices} == set(keys)


def _race(url: str, tmp_path: Path) -> list[str]:
    gate = tmp_path / "go"
    processes = [_spawn("evaluate", url, T0.isoformat(), str(gate)) for _ in range(2)]
    time.sleep(2.5)  # both processes have imported everything and wait at the gate
    gate.write_text("go")
    outputs = []
    for process in processes:
        out, err = process.communicate(timeout=120)
        assert process.returncode == 0, err
        outputs.append(out)
    return outputs


def _expected() -> int:
    return 6 * PROFILES + 6 * PROFILES  # 6 interaction rules x 1 complaint each; 6 customer rules x 1 customer each


def test_two_processes_at_once_on_postgresql(postgres_database, tmp_path, people_on_postgres) -> None:
    engine = make_engine(postgres_database)
    try:
        _seed(engine)
        outputs = _race(postgres_database, tmp_path)
        created = sorted(int(o.split()[1]) for o in outputs)
        assert sum(created) == _expected(), outputs  # every alert was created by exactly one of the two
        _assert_one_alert_per_key(engine, _expected())
    finally:
        engine.dispose()


def test_two_processes_at_once(db_url, engine, people, tmp_path) -> None:
    _seed(engine)
    outputs = _race(db_url, tmp_path)
    assert sum(int(o.split()[1]) for o in outputs) == _expected(), outputs
    _assert_one_alert_per_key(engine, _expected())
    assert alert_engine.evaluate(engine, _settings(db_url), now=T0, full=True).created == 0  # again: nothing new


def _settings(url: str):
    from cx.settings import load_settings

    return load_settings(environ={"CX_DATABASE_URL": url}, secrets_path=Path("/nonexistent"))


def test_killed_after_creating_before_notifying(db_url, engine, people) -> None:
    server = WebhookServer().start()
    try:
        _seed(engine, server.url(), rules=2)
        process = _spawn("evaluate-then-wait", db_url, T0.isoformat())
        assert process.stdout.readline().startswith("created")
        assert process.stdout.readline().strip() == "committed"
        os.kill(process.pid, signal.SIGKILL)
        process.wait(timeout=10)
        settings = _settings(db_url)
        assert alert_engine.evaluate(engine, settings, now=T0).created == 0  # after the crash: no duplicate
        assert alert_engine.evaluate(engine, settings, now=T0 + timedelta(minutes=1), full=True).created == 0
        result = delivery.deliver_due(engine, settings, T0 + timedelta(minutes=1))
        assert len(result.sent) == 2 * PROFILES
        with transaction(engine) as s:
            keys = set(s.scalars(select(Alert.dedup_key)))
        assert len(keys) == 2 * PROFILES
        assert sorted(r.body["dedup_key"] for r in server.requests) == sorted(keys)  # each once, with its key
    finally:
        server.stop()


def test_killed_while_notifying_resends_with_the_same_key(db_url, engine, people) -> None:
    import threading

    server = WebhookServer(hold=threading.Event()).start()
    try:
        _seed(engine, server.url(), rules=1)  # one interaction rule: one alert per profile
        process = _spawn("evaluate-then-deliver", db_url, T0.isoformat())
        assert server.got_request.wait(60), process.stderr.read() if process.poll() is not None else "no request"
        os.kill(process.pid, signal.SIGKILL)  # the receiver got the message; the sender never recorded it
        process.wait(timeout=10)
        first = server.requests[0]
        server.hold = None
        settings = _settings(db_url)
        assert alert_engine.evaluate(engine, settings, now=T0 + timedelta(minutes=1)).created == 0
        in_flight = delivery.deliver_due(engine, settings, T0 + timedelta(minutes=1))
        assert first.body["dedup_key"] not in {r.body["dedup_key"] for r in server.requests[1:]}
        # The killed process had claimed a batch: those wait for the claim to expire; nothing is lost.
        assert len(in_flight.sent) == PROFILES - delivery.BATCH
        resent = delivery.deliver_due(engine, settings, T0 + delivery.CLAIM + timedelta(minutes=1))
        assert len(resent.sent) == delivery.BATCH
        again = [r for r in server.requests if r.body["dedup_key"] == first.body["dedup_key"]]
        assert len(again) == 2 and again[1].headers["idempotency-key"] == first.headers["idempotency-key"]
        assert len(server.accepted) == PROFILES  # the receiver applied every alert once
        with transaction(engine) as s:
            assert s.scalar(select(func.count()).select_from(Alert)) == PROFILES
    finally:
        server.stop()
