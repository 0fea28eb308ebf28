"""A separate process for the exactly-once tests: ``python -m tests.alerts.proc MODE DB_URL NOW [GATE_FILE]``.

MODE ``evaluate``: wait for GATE_FILE to appear (so two processes start together), run one pass, print the count.
MODE ``evaluate-then-wait``: run one pass, say so, then block (the test kills it before any notification is sent).
MODE ``evaluate-then-deliver``: run one pass and deliver (the test kills it while the receiver holds the request).
"""

from __future__ import annotations

import sys
import time
from datetime import datetime
from pathlib import Path

from alerts import delivery
from alerts import engine as alert_engine
from cx.db import make_engine
from cx.settings import load_settings


def main(mode: str, url: str, now_text: str, gate: str | None = None) -> None:
    settings = load_settings(environ={"CX_DATABASE_URL": url}, secrets_path=Path("/nonexistent"))
    engine = make_engine(url)
    now = datetime.fromisoformat(now_text)
    if gate:
        while not Path(gate).exists():
            time.sleep(0.005)
    result = alert_engine.evaluate(engine, settings, now=now)
    print(f"created {result.created} errors {result.errors}", flush=True)
    if mode == "evaluate-then-wait":
        print("committed", flush=True)
        time.sleep(600)
    elif mode == "evaluate-then-deliver":
        delivery.deliver_due(engine, settings, now)
        print("delivered", flush=True)


if __name__ == "__main__":
    main(*sys.argv[1:])
