"""``python -m etl run`` and ``python -m etl status``: progress, the summary, errors as one clear line."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from cx.settings import get_settings
from etl.__main__ import main
from etl.cli import ProgressBar


@pytest.fixture
def cli_env(monkeypatch: pytest.MonkeyPatch, db_url: str) -> str:
    monkeypatch.setenv("CX_ADMIN_PASSWORD", "cli-admin-pw-1")
    monkeypatch.setenv("CX_DATABASE_URL", db_url)
    get_settings.cache_clear()
    return db_url


def test_run_prints_the_summary_then_status_lists_it(
    cli_env: str, export_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["run", str(export_dir), "--db", cli_env]) == 0
    captured = capsys.readouterr()
    assert "rows read                   3" in captured.out and "rows quarantined            0" in captured.out
    assert "profiles created" in captured.out and "time per step" in captured.out
    assert "100%" in captured.err  # the progress bar
    assert main(["status", "--db", cli_env]) == 0
    status = capsys.readouterr().out
    assert "succeeded" in status and "hotline" in status and "ok" in status


def test_errors_are_one_line_and_exit_2(cli_env: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text('source = "x"\n', "utf-8")
    assert main(["run", str(bad), "--db", cli_env, "--quiet"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: Cannot start the run:") and "channel is required" in err


def test_progress_bar_on_a_pipe() -> None:
    stream = io.StringIO()
    bar = ProgressBar(stream)
    bar(0.5, "half")
    bar(1.0, "done")
    assert stream.getvalue().splitlines() == [
        "[###############...............]  50% half",
        "[##############################] 100% done",
    ]
