"""The README's single start command also starts the alert worker, once per app process (embedded SQLite default)."""

from __future__ import annotations

import time
from pathlib import Path

from sqlalchemy import select

from cx.db import make_engine, transaction
from cx.models import WorkerLease
from tests.browser.conftest import start_app, stop_app, wait_for_app


def test_app_process_runs_one_worker_for_all_browser_sessions(tmp_path: Path, browser) -> None:
    app = start_app(tmp_path, extra_env={"CX_EMBEDDED_WORKER": "1"})
    try:
        for _ in range(2):  # two browser sessions on one app process
            context = browser.new_context()
            page = context.new_page()
            page.goto(app.url)
            wait_for_app(page)
            context.close()
        engine = make_engine(app.database_url)
        holders: list[str] = []
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not holders:
            with transaction(engine) as session:
                holders = list(session.scalars(select(WorkerLease.holder)))
            time.sleep(0.5)
        engine.dispose()
        assert len(holders) == 1, f"expected one worker holding the lease, got {holders}\n{app.log()}"
    finally:
        stop_app(app)
