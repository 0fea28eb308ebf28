"""Settings: typed, validated with messages naming the variable, every one documented in the README."""

from __future__ import annotations

from pathlib import Path

import pytest

from cx.errors import ConfigError
from cx.settings import DEFAULT_DATABASE_URL, load_settings, setting_docs

README = Path(__file__).resolve().parents[2] / "README.md"


def test_defaults_are_the_embedded_sqlite_store(tmp_path: Path) -> None:
    settings = load_settings(environ={}, secrets_path=tmp_path / "none.toml")
    assert settings.database_url == DEFAULT_DATABASE_URL and settings.is_sqlite
    assert settings.demo_enabled and settings.embedded_worker_enabled
    assert (settings.language, settings.phone_region, settings.timezone) == ("zh", "CN", "Asia/Shanghai")


def test_environment_overrides_secrets_file(tmp_path: Path) -> None:
    secrets = tmp_path / "secrets.toml"
    secrets.write_text('[cx]\nlanguage = "en"\nsession_days = 3\n', "utf-8")
    settings = load_settings(environ={"CX_SESSION_DAYS": "9"}, secrets_path=secrets)
    assert settings.language == "en" and settings.session_days == 9


def test_postgres_url_turns_demo_and_embedded_worker_off(tmp_path: Path) -> None:
    settings = load_settings(environ={"CX_DATABASE_URL": "postgresql+psycopg://u@h/db"}, secrets_path=tmp_path / "x")
    assert not settings.demo_enabled and not settings.embedded_worker_enabled


def test_every_problem_is_reported_with_its_variable(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings(
            environ={"CX_LANGUAGE": "fr", "CX_PHONE_REGION": "XX", "CX_TIMEZONE": "Mars/Base"},
            secrets_path=tmp_path / "none.toml",
        )
    message = str(caught.value)
    assert "CX_LANGUAGE" in message and "CX_PHONE_REGION" in message and "CX_TIMEZONE" in message
    with pytest.raises(ConfigError, match="CX_SESSION_DAYS must be a whole number"):
        load_settings(environ={"CX_SESSION_DAYS": "seven"}, secrets_path=tmp_path / "none.toml")
    with pytest.raises(ConfigError, match="CX_DEMO_MODE must be true or false"):
        load_settings(environ={"CX_DEMO_MODE": "maybe"}, secrets_path=tmp_path / "none.toml")


def test_every_setting_is_documented_in_the_readme() -> None:
    readme = README.read_text("utf-8")
    missing = [env for _name, env, _default, _doc in setting_docs() if f"`{env}`" not in readme]
    assert not missing, f"document these settings in README.md: {missing}"
