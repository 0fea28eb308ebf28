"""Developer tool: write a new migration from the difference between the models and the migrations so far.

Usage: python -m cx.migrations.autogen "what changed"
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from alembic import command

from cx.db import alembic_config, make_engine


def main(message: str) -> None:
    with tempfile.TemporaryDirectory() as folder:
        engine = make_engine(f"sqlite:///{Path(folder) / 'autogen.db'}")
        config = alembic_config(engine)
        command.upgrade(config, "head")
        script = command.revision(config, message=message, autogenerate=True)
        engine.dispose()
    for revision in script if isinstance(script, list) else [script]:
        if revision is not None:
            path = Path(revision.path)
            # Alembic renders JSONB's astext_type without the sa. prefix; make the file importable as written.
            path.write_text(path.read_text("utf-8").replace("astext_type=Text()", "astext_type=sa.Text()"), "utf-8")


if __name__ == "__main__":
    main(" ".join(sys.argv[1:]) or "schema change")
