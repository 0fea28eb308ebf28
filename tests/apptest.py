"""Running the app under Streamlit's AppTest as a given user, against a test store."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import Engine
from streamlit.testing.v1 import AppTest

from cx import auth
from cx.db import transaction
from cx.settings import Settings

REPO = Path(__file__).resolve().parent.parent

# AppTest treats a `pages/` folder next to the main script as a legacy multipage app and runs page files
# directly, bypassing app.py; an entry script in another folder runs app.py exactly as `streamlit run` does.
_ENTRY = f"import runpy\nrunpy.run_path({str(REPO / 'app.py')!r}, run_name='__main__')\n"


def make_app(tmp_path: Path, timeout: float = 30) -> AppTest:
    entry = tmp_path / "apptest_entry.py"
    entry.write_text(_ENTRY, "utf-8")
    return AppTest.from_file(str(entry), default_timeout=timeout)


def direct_page_app(tmp_path: Path, page_key: str, timeout: float = 30) -> AppTest:
    """An AppTest that runs one page file directly, bypassing app.py and its navigation (what a tampered URL tries).

    The page runs from an entry script in ``tmp_path`` so that `pages/` is not put first on sys.path (there,
    pages/alerts.py would shadow the alerts package).
    """
    entry = tmp_path / f"direct_{page_key}.py"
    entry.write_text(f"import runpy\nrunpy.run_path({page_path(page_key)!r}, run_name='__main__')\n", "utf-8")
    return AppTest.from_file(str(entry), default_timeout=timeout)


def signed_in_app(tmp_path: Path, engine: Engine, settings: Settings, username: str) -> AppTest:
    """An AppTest whose session is signed in as ``username`` (a real session row and signed token)."""
    from sqlalchemy import select

    from cx.models import User

    with transaction(engine) as session:
        user = session.scalar(select(User).where(User.username == username))
        assert user is not None, f"no user {username}"
        token = auth.start_session(session, auth.principal_of(user), settings)
    app = make_app(tmp_path)
    app.session_state["cx_token"] = token
    return app


def page_path(key: str) -> str:
    from ui.navigation import PAGE_SPECS, PAGES_DIR

    return str(PAGES_DIR / PAGE_SPECS[key].file)
