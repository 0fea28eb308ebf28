"""Browser-test harness: `streamlit run app.py` on a free port against a temp store, driven by Debian's chromium."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from cx import auth
from cx.db import transaction
from cx.settings import load_settings
from cx.store import open_store

REPO = Path(__file__).resolve().parents[2]
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ADMIN_PASSWORD = "browser-admin-pw"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    here = Path(__file__).parent
    for item in items:
        if here in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.browser)


@pytest.fixture(scope="session")
def chromium_path() -> str:
    if not Path(CHROMIUM).exists():
        message = f"{CHROMIUM} is missing: install Debian's chromium (apt-get install -y chromium) for browser tests"
        if os.environ.get("CX_REQUIRE_BROWSER") == "1":
            pytest.fail(message)
        pytest.skip(message)
    return CHROMIUM


@pytest.fixture(scope="session")
def browser(chromium_path: str) -> Iterator[object]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium_path, headless=True, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class LiveApp:
    url: str
    database_url: str
    process: subprocess.Popen
    log_path: Path

    def log(self) -> str:
        return self.log_path.read_text("utf-8", errors="replace")[-4000:]


def start_app(tmp_path: Path, database_url: str | None = None, extra_env: dict[str, str] | None = None) -> LiveApp:
    """Start the app as a user would (`streamlit run app.py`) and wait until it answers its health check."""
    database_url = database_url or f"sqlite:///{tmp_path / 'cx.db'}"
    port = _free_port()
    env = {
        **os.environ,
        "CX_DATABASE_URL": database_url,
        "CX_ADMIN_PASSWORD": ADMIN_PASSWORD,
        "CX_DEMO_MODE": "1",
        "CX_EMBEDDED_WORKER": "0",
        "PYTHONPATH": str(REPO),
        **(extra_env or {}),
    }
    log_path = tmp_path / f"streamlit-{port}.log"
    command = [
        sys.executable,
        "-m",
        "streamlit",
        "run",
        str(REPO / "app.py"),
        "--server.port",
        str(port),
        "--server.address",
        "127.0.0.1",
        "--server.headless",
        "true",
        "--browser.gatherUsageStats",
        "false",
        "--server.fileWatcherType",
        "none",
    ]
    process = subprocess.Popen(command, cwd=REPO, env=env, stdout=log_path.open("w"), stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"streamlit exited early:\n{log_path.read_text()}")
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as response:
                if response.status == 200:
                    return LiveApp(url, database_url, process, log_path)
        except OSError:
            time.sleep(0.3)
    process.kill()
    raise RuntimeError(f"streamlit did not answer within 60 s:\n{log_path.read_text()}")


def stop_app(app: LiveApp) -> None:
    app.process.terminate()
    try:
        app.process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        app.process.kill()


@pytest.fixture(scope="module")
def live_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveApp]:
    """The app on a fresh SQLite store with the demo accounts (no interactions loaded)."""
    tmp_path = tmp_path_factory.mktemp("live")
    database_url = f"sqlite:///{tmp_path / 'cx.db'}"
    settings = load_settings(
        environ={"CX_DATABASE_URL": database_url, "CX_ADMIN_PASSWORD": ADMIN_PASSWORD, "CX_DEMO_MODE": "1"},
        secrets_path=tmp_path / "none.toml",
    )
    engine = open_store(settings)
    with transaction(engine) as session:
        auth.ensure_demo_users(session, settings)
    engine.dispose()
    app = start_app(tmp_path, database_url)
    yield app
    stop_app(app)


@pytest.fixture
def page(browser: object, request: pytest.FixtureRequest) -> Iterator[object]:
    context = browser.new_context(viewport={"width": 1400, "height": 900}, locale="zh-CN")  # type: ignore[attr-defined]
    page = context.new_page()
    yield page
    if request.node.rep_call.failed if hasattr(request.node, "rep_call") else False:
        shutil.os.makedirs("test-artifacts", exist_ok=True)
        page.screenshot(path=f"test-artifacts/{request.node.name}.png", full_page=True)
    context.close()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo) -> Iterator[None]:
    outcome = yield
    report = outcome.get_result()
    setattr(item, f"rep_{report.when}", report)


def wait_for_app(page: object, timeout: float = 30_000) -> None:
    """Wait until the script run finished and nothing is still loading, as Streamlit's own e2e tests do."""
    page.wait_for_selector("[data-testid=stMainBlockContainer] [data-testid=stElementContainer]", timeout=timeout)  # type: ignore[attr-defined]
    page.wait_for_selector("[data-testid=stApp][data-test-script-state=notRunning]", timeout=timeout)  # type: ignore[attr-defined]
    page.wait_for_function("() => document.querySelectorAll('[data-testid=stSkeleton]').length === 0", timeout=timeout)  # type: ignore[attr-defined]


def sign_in(page: object, app: LiveApp, username: str, password: str = auth.DEMO_PASSWORD) -> bool:
    """Fill the sign-in form; wait until signed in (sidebar shown, cookie written) or refused. True if signed in."""
    page.goto(app.url)  # type: ignore[attr-defined]
    wait_for_app(page)
    page.get_by_label("用户名").fill(username)  # type: ignore[attr-defined]
    page.get_by_label("密码").fill(password)  # type: ignore[attr-defined]
    page.get_by_role("button", name="登录").click()  # type: ignore[attr-defined]
    page.wait_for_function(  # type: ignore[attr-defined]
        """() => document.querySelector('[data-testid=stSidebarUserContent]') !== null
              || document.body.innerText.includes('用户名或密码错误')
              || document.body.innerText.includes('登录失败次数过多')""",
        timeout=30_000,
    )
    wait_for_app(page)
    signed_in = page.locator("[data-testid=stSidebarUserContent]").count() > 0  # type: ignore[attr-defined]
    if signed_in:
        page.wait_for_function("() => document.cookie.includes('cx_session=')", timeout=30_000)  # type: ignore[attr-defined]
    return signed_in


SignIn = Callable[[object, LiveApp, str], None]
