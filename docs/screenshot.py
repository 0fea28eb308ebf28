"""Remake the README's screenshots: load the demo into a temporary store, start the app, sign in, capture pages.

    python docs/screenshot.py                  # docs/screenshot.png (the service head's board) and docs/journey.png
    python docs/screenshot.py --customers 5000 --language en

Uses Debian's chromium through Playwright, like the browser tests.
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from cx import auth  # noqa: E402
from cx.db import transaction  # noqa: E402
from cx.settings import load_settings  # noqa: E402
from cx.store import open_store  # noqa: E402
from etl.pipeline import load_demo  # noqa: E402

CHROMIUM = "/usr/bin/chromium"
SHOTS = {"screenshot.png": ("demo-service-head", "board"), "journey.png": ("demo-cx-owner", "journey")}


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _wait_for_app(page: object) -> None:
    page.wait_for_selector("[data-testid=stApp][data-test-script-state=notRunning]", timeout=60_000)  # type: ignore[attr-defined]
    page.wait_for_function("() => document.querySelectorAll('[data-testid=stSkeleton]').length === 0")  # type: ignore[attr-defined]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=3000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--language", choices=("zh", "en"), default="zh")
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory(prefix="cx-shot-") as folder:
        url = f"sqlite:///{Path(folder) / 'cx.db'}"
        environ = {"CX_DATABASE_URL": url, "CX_DEMO_MODE": "1", "CX_ADMIN_PASSWORD": "screenshot-admin-1"}
        settings = load_settings(environ=environ, secrets_path=Path(folder) / "none.toml")
        engine = open_store(settings, announce=False)
        with transaction(engine) as session:
            auth.ensure_demo_users(session, settings)
        summary = load_demo(engine, settings, customers=args.customers, seed=args.seed)
        print(f"demo loaded: {summary.rows_loaded:,} interactions")
        engine.dispose()
        port = _free_port()
        env = {**os.environ, **environ, "CX_EMBEDDED_WORKER": "0", "CX_LANGUAGE": args.language}
        command = [sys.executable, "-m", "streamlit", "run", "app.py", "--server.port", str(port)]
        command += ["--server.headless", "true", "--browser.gatherUsageStats", "false"]
        app = subprocess.Popen(command, cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        base = f"http://127.0.0.1:{port}"
        try:
            for _ in range(200):
                try:
                    urllib.request.urlopen(f"{base}/_stcore/health", timeout=2)
                    break
                except OSError:
                    time.sleep(0.3)
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
                for name, (username, path) in SHOTS.items():
                    page = browser.new_context(viewport={"width": 1440, "height": 1000}).new_page()
                    page.goto(base)
                    _wait_for_app(page)
                    page.locator("input[type=text]").first.fill(username)
                    page.locator("input[type=password]").first.fill(auth.DEMO_PASSWORD)
                    page.keyboard.press("Enter")
                    page.wait_for_selector("[data-testid=stSidebarUserContent]", timeout=60_000)
                    page.wait_for_function("() => document.cookie.includes('cx_session=')", timeout=60_000)
                    page.goto(f"{base}/{path}")
                    _wait_for_app(page)
                    page.wait_for_timeout(1500)  # charts finish their transition
                    page.screenshot(path=str(REPO / "docs" / name))
                    print(f"wrote docs/{name}")
                browser.close()
        finally:
            app.terminate()
            app.wait(timeout=20)


if __name__ == "__main__":
    main()
