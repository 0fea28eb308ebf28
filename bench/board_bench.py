"""Board benchmark: the board's data functions on ~1,000,000 demo interactions, and a board rerun in the browser
compared with a blank page holding one Plotly chart, measured in the same run.

    python bench/board_bench.py                       # temp SQLite store, demo data for 205,000 customers (~1M rows)
    python bench/board_bench.py --db sqlite:///data/bench.db --keep   # reuse a store across runs
    python bench/board_bench.py --db postgresql+psycopg://postgres@127.0.0.1:5432/bench

Prints one line per figure; nothing is asserted (targets: data functions <= 300 ms, board rerun <= 1.5x blank).
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from sqlalchemy import func, select  # noqa: E402

from cx import auth, fact_cache  # noqa: E402
from cx import board_queries as bq  # noqa: E402
from cx.access import Role  # noqa: E402
from cx.boards import board_for, board_scope  # noqa: E402
from cx.db import transaction  # noqa: E402
from cx.filters import Filters  # noqa: E402
from cx.journey import touchpoint_departments  # noqa: E402
from cx.journey_store import load_journey  # noqa: E402
from cx.models import DailyFact, Interaction, User  # noqa: E402
from cx.settings import load_settings  # noqa: E402
from cx.store import open_store  # noqa: E402

CHROMIUM = "/usr/bin/chromium"
PASSWORD = "bench-admin-pw-1"
BLANK_APP = """
import plotly.graph_objects as go
import streamlit as st

st.set_page_config(layout="wide")
st.title("Blank")
st.plotly_chart(go.Figure(go.Scatter(x=list(range(30)), y=[i % 7 for i in range(30)])))
st.button("Rerun", key="rerun")
"""


def median_ms(run: Callable[[], object], repeat: int) -> tuple[float, float]:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        run()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times), max(times)


def _steps(session, principal, scope, board, filters, timezone: str, touchpoints) -> dict[str, Callable[[], object]]:
    """Every data function one board render calls (the page's cache is bypassed: this is the cold path)."""
    key = board.kpis[0]
    steps: dict[str, Callable[[], object]] = {
        "tiles": lambda: bq.board_tiles(session, principal, scope, filters, board),
        "trend": lambda: bq.trend(session, principal, scope, filters, key),
    }
    dims = ("channel", "touchpoint", "stage", "team") + (("agent_id",) if scope.agent_level else ())
    steps["breakdowns"] = lambda: bq.breakdowns(session, principal, scope, filters, key, dims)
    steps["what_moved"] = lambda: bq.what_moved(session, principal, scope, filters, key)
    steps["drill_down"] = lambda: bq.drill_down(
        session, principal, scope, filters, bq.Slice("channel", "phone", kpi=key),
        timezone=timezone, department_touchpoints=touchpoints if scope.department else None,
    )  # fmt: skip
    return steps


def data_functions(engine, settings, repeat: int) -> None:
    with transaction(engine) as session:
        last = session.scalar(select(func.max(DailyFact.day)))
        owned = touchpoint_departments(load_journey(session))
    filters = Filters(last - timedelta(days=29), last)
    with transaction(engine) as session:  # the demo accounts: data functions check the signed-in user's row
        users = {u.username: auth.principal_of(u) for u in session.scalars(select(User))}
    cases = [
        ("service head", users["demo-service-head"]),
        ("executive", users["demo-executive"]),
        ("admin/service", users["demo-admin"]),
    ]
    with transaction(engine) as session:
        started = time.perf_counter()
        fact_cache.facts(session)
        print(
            f"data  first read after a load: copy of daily_facts into memory {(time.perf_counter() - started) * 1000:7.1f} ms"
        )
        check, _ = median_ms(lambda: fact_cache.facts(session), repeat)
        print(f"data  freshness check of the copy (each read)          median {check:7.1f} ms")
    for label, principal in cases:
        scope = board_scope(principal, "service" if principal.role == Role.ADMIN else None)
        touchpoints = [tp for tp, d in owned.items() if d == scope.department]
        with transaction(engine) as session:
            board = board_for(session, principal, scope)
            steps = _steps(session, principal, scope, board, filters, settings.timezone, touchpoints)
            total = []
            for _ in range(repeat):
                started = time.perf_counter()
                for step in steps.values():
                    step()
                total.append((time.perf_counter() - started) * 1000)
            for name, step in steps.items():
                med, worst = median_ms(step, repeat)
                print(f"data  {label:14s} {name:22s} median {med:7.1f} ms  max {worst:7.1f} ms")
            print(f"data  {label:14s} {'ALL (one board render)':22s} median {statistics.median(total):7.1f} ms  "
                  f"max {max(total):7.1f} ms  ({len(steps)} functions, {filters.days}-day period, no cache)")  # fmt: skip


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _start(script: Path, database_url: str, log: Path) -> tuple[subprocess.Popen, str]:
    port = _free_port()
    env = {
        **os.environ,
        "CX_DATABASE_URL": database_url,
        "CX_ADMIN_PASSWORD": PASSWORD,
        "CX_DEMO_MODE": "1",
        "CX_EMBEDDED_WORKER": "0",
        "PYTHONPATH": str(REPO),
    }
    command = [sys.executable, "-m", "streamlit", "run", str(script), "--server.port", str(port), "--server.headless",
               "true", "--server.address", "127.0.0.1", "--browser.gatherUsageStats", "false",
               "--server.fileWatcherType", "none"]  # fmt: skip
    process = subprocess.Popen(command, cwd=REPO, env=env, stdout=log.open("w"), stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    for _ in range(200):
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2):
                return process, url
        except OSError:
            time.sleep(0.3)
    process.kill()
    raise RuntimeError(f"streamlit did not start: {log.read_text()[-2000:]}")


#: Installed before the page loads: the time of every message the page receives from the server (a rerun that
#: changes nothing on the page still ends with the server's "script finished" message).
_HOOK_MESSAGES = """() => {
  const Native = window.WebSocket;
  window.WebSocket = class extends Native {
    constructor(...args) {
      super(...args);
      this.addEventListener('message', () => (window.__cxMessages ||= []).push(performance.now()));
    }
  };
}"""
#: Records script-state changes, presses of the mouse button and the time of every change to the page's DOM.
_WATCH = """() => {
  window.__cxStates = [];
  window.__cxPresses = [];
  window.__cxChanges = [];
  window.__cxMessages = [];
  const app = document.querySelector('[data-testid=stApp]');
  new MutationObserver(() => window.__cxStates.push([performance.now(), app.getAttribute('data-test-script-state')]))
    .observe(app, {attributes: true, attributeFilter: ['data-test-script-state']});
  new MutationObserver(() => window.__cxChanges.push(performance.now()))
    .observe(document.body, {attributes: true, childList: true, characterData: true, subtree: true});
  document.addEventListener('pointerdown', () => window.__cxPresses.push(performance.now()), true);
}"""
#: The rerun is over when the server has answered the press, the script is not running, no skeleton is left and
#: neither the page nor the connection has changed for QUIET_MS. A fast rerun may never show the "running" state,
#: and a rerun that draws the same page changes no element at all: its end is the server's last message.
QUIET_MS = 700
_LAST = """const last = Math.max(
    window.__cxChanges.length ? window.__cxChanges[window.__cxChanges.length - 1] : 0,
    window.__cxMessages.length ? window.__cxMessages[window.__cxMessages.length - 1] : 0);"""
_DONE = """([t0, quiet]) => {
  const pressed = window.__cxPresses.find((t) => t >= t0);
  LAST
  const app = document.querySelector('[data-testid=stApp]');
  return pressed !== undefined && window.__cxMessages.some((t) => t > pressed) && performance.now() - last >= quiet
    && app.getAttribute('data-test-script-state') === 'notRunning'
    && document.querySelectorAll('[data-testid=stSkeleton]').length === 0;
}""".replace("LAST", _LAST)
#: From the press of the mouse button (as the page saw it, not when the automation started looking for the element)
#: to the last change of the page or message from the server the rerun caused.
_ELAPSED = """(t0) => {
  const pressed = window.__cxPresses.find((t) => t >= t0);
  LAST
  return last - pressed;
}""".replace("LAST", _LAST)


def _wait_idle(page) -> None:
    page.wait_for_selector("[data-testid=stApp][data-test-script-state=notRunning]", timeout=120_000)
    page.wait_for_function("() => document.querySelectorAll('[data-testid=stSkeleton]').length === 0", timeout=120_000)


def _one_rerun_ms(page, click: Callable[[int], None], i: int, prepare: Callable[[int], None] | None = None) -> float:
    """Milliseconds from a click to the end of the rerun it caused; ``prepare`` runs before the clock starts
    (opening a drop-down is not part of the rerun). A click the app did not react to (it happens on a busy
    machine) is repeated."""
    for attempt in range(3):
        page.wait_for_timeout(300)
        if prepare is not None:
            prepare(i)
            page.wait_for_timeout(300)
        t0 = page.evaluate("() => performance.now()")
        click(i)
        try:
            page.wait_for_function(_DONE, arg=[t0, QUIET_MS], timeout=30_000)
            return page.evaluate(_ELAPSED, t0)
        except Exception:
            print(f"  rerun {i}: no answer to the click within 30 s (attempt {attempt + 1} of 3)", file=sys.stderr)
            if attempt == 2:
                raise
    raise AssertionError("unreachable")


def _sign_in_to_board(page, board_url: str, workdir: Path) -> None:
    page.goto(board_url)
    _wait_idle(page)
    page.get_by_label("用户名").fill("demo-service-head")
    page.get_by_label("密码").fill(auth.DEMO_PASSWORD)
    page.get_by_role("button", name="登录").click()
    page.wait_for_selector("[data-testid=stSidebarUserContent]", timeout=120_000)
    page.wait_for_function("() => document.cookie.includes('cx_session=')", timeout=120_000)
    _wait_idle(page)
    page.goto(f"{board_url}/board")
    _wait_idle(page)
    try:
        page.wait_for_selector(".cx-tile", timeout=180_000)  # the first read copies the facts
    except Exception:
        page.screenshot(path=str(workdir / "board.png"), full_page=True)
        print(f"the board did not render; see {workdir / 'board.png'} and {workdir / 'board.log'}")
        raise


def browser_reruns(database_url: str, repeat: int, workdir: Path) -> None:
    """Both pages open at once, each in its own browser; the clicks alternate (blank, board, blank, ...), so a
    change in the machine's load while measuring hits both series alike. The first two pairs warm the caches."""
    from playwright.sync_api import sync_playwright

    blank_script = workdir / "blank_plotly_app.py"
    blank_script.write_text(BLANK_APP, "utf-8")
    board, board_url = _start(REPO / "app.py", database_url, workdir / "board.log")
    blank, blank_url = _start(blank_script, database_url, workdir / "blank.log")
    blank_times: list[float] = []
    board_times: list[float] = []
    try:
        with sync_playwright() as playwright:
            browsers = [
                playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox"])
                for _ in range(2)
            ]
            blank_page, board_page = (
                b.new_page(viewport={"width": 1400, "height": 900}, locale="zh-CN") for b in browsers
            )
            for page in (blank_page, board_page):
                page.add_init_script(f"({_HOOK_MESSAGES})()")
            blank_page.goto(blank_url)
            _wait_idle(blank_page)
            _sign_in_to_board(board_page, board_url, workdir)
            for page in (blank_page, board_page):
                page.evaluate(_WATCH)

            def press_rerun(i: int) -> None:
                blank_page.get_by_role("button", name="Rerun").click()

            periods = board_page.locator("[data-testid=stMain] [data-testid=stButtonGroup]").first

            def switch_period(i: int) -> None:  # reruns the board fragment: filter bar, tiles, trend, breakdowns
                periods.get_by_role("radio", name="近 90 天" if i % 2 == 0 else "近 30 天").click()

            for i in range(repeat + 2):
                blank_ms = _one_rerun_ms(blank_page, press_rerun, i)
                board_ms = _one_rerun_ms(board_page, switch_period, i)
                if i >= 2:
                    blank_times.append(blank_ms)
                    board_times.append(board_ms)
            for b in browsers:
                b.close()
    finally:
        for process in (board, blank):
            process.terminate()
            process.wait(timeout=20)
    b, k = statistics.median(blank_times), statistics.median(board_times)
    pairs = statistics.median(k_ / b_ for k_, b_ in zip(board_times, blank_times, strict=True))
    print(f"rerun blank page + 1 Plotly chart      median {b:7.1f} ms  max {max(blank_times):7.1f} ms  (n={repeat})")
    print(f"rerun KPI board, period switch         median {k:7.1f} ms  max {max(board_times):7.1f} ms  (n={repeat})")
    print(f"rerun ratio board / blank              {k / b:5.2f}x  (median of the {repeat} pairs' ratios {pairs:4.2f}x)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--db", help="store URL (default: a temporary SQLite file)")
    parser.add_argument("--customers", type=int, default=205_000, help="demo customers (205,000 ~ 1M interactions)")
    parser.add_argument("--repeat", type=int, default=15)
    parser.add_argument("--keep", action="store_true", help="keep the temporary store")
    parser.add_argument("--no-browser", action="store_true")
    parser.add_argument("--no-data", action="store_true", help="skip the data functions (browser reruns only)")
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="cx-board-bench-"))
    database_url = args.db or f"sqlite:///{workdir / 'bench.db'}"
    settings = load_settings(
        environ={"CX_DATABASE_URL": database_url, "CX_ADMIN_PASSWORD": PASSWORD, "CX_DEMO_MODE": "1"},
        secrets_path=workdir / "none.toml",
    )
    engine = open_store(settings, announce=False)
    with transaction(engine) as session:
        auth.ensure_demo_users(session, settings)
        loaded = session.scalar(select(func.count()).select_from(Interaction))
    if not loaded:
        from etl.pipeline import load_demo

        started = time.perf_counter()
        load_demo(engine, settings, customers=args.customers, seed=7)
        print(f"load  demo data for {args.customers:,} customers in {time.perf_counter() - started:.0f} s")
    with transaction(engine) as session:
        interactions = session.scalar(select(func.count()).select_from(Interaction))
        facts = session.scalar(select(func.count()).select_from(DailyFact))
    print(f"store {engine.dialect.name}: {interactions:,} interactions, {facts:,} daily fact rows")
    if not args.no_data:
        data_functions(engine, settings, args.repeat)
    engine.dispose()
    if not args.no_browser:
        browser_reruns(database_url, args.repeat, workdir)
    if args.keep or args.db:
        print(f"store kept at {database_url}")


if __name__ == "__main__":
    main()
