"""Developer tool: write a migration from the difference between the models and the migrations so far.

Usage:
    python -m cx.migrations.autogen "what changed"   # a new migration on top of the existing ones
    python -m cx.migrations.autogen --initial         # before the first release: rewrite the one initial migration
"""

from __future__ import annotations

import fcntl
import sys
import tempfile
from pathlib import Path

from alembic import command

from cx.db import MIGRATIONS_DIR, alembic_config, make_engine

LOCK_FILE = Path(tempfile.gettempdir()) / "cx-migrations.lock"


def _fix_rendering(script: object) -> None:
    for revision in script if isinstance(script, list) else [script]:
        if revision is not None:
            path = Path(revision.path)
            # Alembic renders JSONB's astext_type without the sa. prefix; make the file importable as written.
            path.write_text(path.read_text("utf-8").replace("astext_type=Text()", "astext_type=sa.Text()"), "utf-8")


def main(message: str, *, initial: bool = False) -> None:
    with LOCK_FILE.open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # several developers regenerating at once must not interleave
        if initial:
            for old in (MIGRATIONS_DIR / "versions").glob("*.py"):
                old.unlink()
        with tempfile.TemporaryDirectory() as folder:
            engine = make_engine(f"sqlite:///{Path(folder) / 'autogen.db'}")
            config = alembic_config(engine)
            command.upgrade(config, "head")
            script = command.revision(config, message=message, autogenerate=True)
            engine.dispose()
        _fix_rendering(script)


if __name__ == "__main__":
    arguments = sys.argv[1:]
    if arguments == ["--initial"]:
        main("initial schema", initial=True)
    else:
        main(" ".join(arguments) or "schema change")
