"""A load killed (SIGKILL) in the middle of writing leaves the previous state, readable and intact."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

from sqlalchemy import Engine, text

from cx.settings import Settings
from etl import pipeline
from tests.etl.conftest import GOOD_ROWS, calls_csv
from tests.etl.helpers import snapshot

REPO = Path(__file__).resolve().parents[2]

# The child runs the real pipeline; after the interactions are written (uncommitted) it says so and waits.
CHILD = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    from cx.db import make_engine
    from cx.settings import load_settings
    from etl import load, pipeline

    url, folder, flag = sys.argv[1], sys.argv[2], Path(sys.argv[3])
    append = load.Writer.append

    def slow_append(self, table, frame):
        written = append(self, table, frame)
        if table.name == "interactions":
            flag.write_text("writing")
            time.sleep(120)
        return written

    load.Writer.append = slow_append
    settings = load_settings(environ={"CX_DATABASE_URL": url}, secrets_path=Path(folder) / "none.toml")
    pipeline.run(make_engine(url), settings, [folder])
    """
)


def test_a_load_killed_mid_write_leaves_the_previous_state(
    engine: Engine, settings: Settings, export_dir: Path, tmp_path: Path
) -> None:
    pipeline.run(engine, settings, [export_dir])
    before = snapshot(engine)
    (export_dir / "calls_2.csv").write_text(
        calls_csv([row.replace("C", "D", 1) for row in GOOD_ROWS] + [GOOD_ROWS[0].replace(",9,5,6,", ",1,1,1,")]),
        "utf-8",
    )
    flag = tmp_path / "writing.flag"
    script = tmp_path / "child.py"
    script.write_text(CHILD, "utf-8")
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    child = subprocess.Popen(
        [sys.executable, str(script), settings.database_url, str(export_dir), str(flag)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + 90
    while not flag.exists() and child.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert flag.exists(), child.communicate(timeout=5)[0].decode()[-3000:]
    os.kill(child.pid, signal.SIGKILL)
    child.wait(timeout=30)
    assert child.returncode == -signal.SIGKILL

    engine.dispose()
    assert snapshot(engine) == before  # nothing of the killed run is visible
    with engine.connect() as connection:
        if engine.dialect.name == "sqlite":
            assert connection.execute(text("PRAGMA integrity_check")).scalar_one() == "ok"
        statuses = connection.execute(text("SELECT status FROM load_batches ORDER BY id")).scalars().all()
    assert statuses == ["succeeded", "running"]  # the killed run is still marked running ...
    again = pipeline.run(engine, settings, [export_dir])  # ... until the next run, which loads it properly
    assert again.status == "succeeded" and again.rows_read == 4 and again.duplicates == 0
    with engine.connect() as connection:
        statuses = connection.execute(text("SELECT status, message FROM load_batches ORDER BY id")).all()
        nps = connection.execute(text("SELECT nps FROM interactions WHERE interaction_id = 'hotline:C1'")).scalar_one()
    assert [s for s, _ in statuses] == ["succeeded", "failed", "succeeded"]
    assert "interrupted" in statuses[1][1] and nps == 1
