"""One typed settings object, read from environment variables and `.streamlit/secrets.toml` ([cx] table)."""

from __future__ import annotations

import dataclasses
import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import phonenumbers

from cx.errors import ConfigError

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DATA_DIR = PROJECT_ROOT / "data"
DEFAULT_DATABASE_URL = f"sqlite:///{DEFAULT_DATA_DIR / 'cx.db'}"

Language = Literal["zh", "en"]


def _setting(default: Any, env: str, doc: str) -> Any:
    return field(default=default, metadata={"env": env, "doc": doc})


@dataclass(frozen=True)
class Settings:
    """Every setting of the product, with its environment variable and meaning (documented in README)."""

    database_url: str = _setting(
        DEFAULT_DATABASE_URL, "CX_DATABASE_URL", "SQLAlchemy URL of the store; default: a SQLite file under data/"
    )
    language: Language = _setting("zh", "CX_LANGUAGE", "Default interface language: zh or en")
    phone_region: str = _setting("CN", "CX_PHONE_REGION", "Default region for phone numbers without country code")
    timezone: str = _setting("Asia/Shanghai", "CX_TIMEZONE", "Time zone for days on boards and naive timestamps")
    admin_password: str | None = _setting(
        None, "CX_ADMIN_PASSWORD", "Password of the first admin; generated and printed once when unset"
    )
    demo_mode: bool | None = _setting(
        None, "CX_DEMO_MODE", "Offer demo data and demo accounts; default: on for the embedded SQLite store only"
    )
    session_days: int = _setting(7, "CX_SESSION_DAYS", "How long a sign-in lasts (days)")
    max_failed_signins: int = _setting(5, "CX_MAX_FAILED_SIGNINS", "Failed sign-ins before an account is locked")
    lockout_minutes: int = _setting(15, "CX_LOCKOUT_MINUTES", "How long a locked account stays locked (minutes)")
    quarantine_max_share: float = _setting(
        0.05, "CX_QUARANTINE_MAX_SHARE", "An ETL batch fails when more than this share of rows is quarantined"
    )
    sources: str | None = _setting(
        None, "CX_SOURCES", "Folders, files or mapping files the worker loads incrementally, separated by ':'"
    )
    source_stale_hours: float = _setting(
        48.0, "CX_SOURCE_STALE_HOURS", "A source not loaded for this many hours is stale (banner on every board)"
    )
    embedded_worker: bool | None = _setting(
        None, "CX_EMBEDDED_WORKER", "Start the alert worker inside the app process; default: on for SQLite"
    )
    base_url: str = _setting("http://localhost:8501", "CX_BASE_URL", "Public URL of the app, used in notifications")
    smtp_host: str | None = _setting(None, "CX_SMTP_HOST", "SMTP server for e-mail notifications")
    smtp_port: int = _setting(25, "CX_SMTP_PORT", "SMTP port")
    smtp_user: str | None = _setting(None, "CX_SMTP_USER", "SMTP user name (optional)")
    smtp_password: str | None = _setting(None, "CX_SMTP_PASSWORD", "SMTP password (optional)")
    smtp_sender: str = _setting("cx-alerts@localhost", "CX_SMTP_SENDER", "From address of notification e-mails")
    smtp_starttls: bool = _setting(False, "CX_SMTP_STARTTLS", "Use STARTTLS for SMTP")

    def __post_init__(self) -> None:
        problems: list[str] = []
        if self.language not in ("zh", "en"):
            problems.append(f"CX_LANGUAGE must be 'zh' or 'en', not {self.language!r}")
        if self.phone_region.upper() not in phonenumbers.SUPPORTED_REGIONS:
            problems.append(f"CX_PHONE_REGION {self.phone_region!r} is not a region code such as CN, US or DE")
        try:
            ZoneInfo(self.timezone)
        except (ZoneInfoNotFoundError, ValueError):
            problems.append(f"CX_TIMEZONE {self.timezone!r} is not an IANA time zone such as Asia/Shanghai")
        if self.source_stale_hours <= 0:
            problems.append("CX_SOURCE_STALE_HOURS must be a positive number of hours")
        if not 0 <= self.quarantine_max_share <= 1:
            problems.append("CX_QUARANTINE_MAX_SHARE must be between 0 and 1")
        if self.session_days < 1 or self.max_failed_signins < 1 or self.lockout_minutes < 1:
            problems.append("CX_SESSION_DAYS, CX_MAX_FAILED_SIGNINS and CX_LOCKOUT_MINUTES must be at least 1")
        if "://" not in self.database_url:
            problems.append(
                f"CX_DATABASE_URL {self.database_url!r} is not a SQLAlchemy URL (e.g. sqlite:///data/cx.db)"
            )
        if problems:
            raise ConfigError("Invalid settings: " + "; ".join(problems))

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    @property
    def demo_enabled(self) -> bool:
        return self.is_sqlite if self.demo_mode is None else self.demo_mode

    @property
    def embedded_worker_enabled(self) -> bool:
        return self.is_sqlite if self.embedded_worker is None else self.embedded_worker

    @property
    def source_paths(self) -> list[Path]:
        """CX_SOURCES split into paths (empty when unset)."""
        return [Path(part).expanduser() for part in (self.sources or "").split(os.pathsep) if part.strip()]

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def with_overrides(self, **changes: Any) -> Settings:
        return dataclasses.replace(self, **changes)


def setting_docs() -> list[tuple[str, str, Any, str]]:
    """(field, environment variable, default, meaning) for every setting, for docs and tests."""
    return [(f.name, f.metadata["env"], f.default, f.metadata["doc"]) for f in dataclasses.fields(Settings)]


def _convert(raw: Any, annotation: str, env: str) -> Any:
    if raw is None or not isinstance(raw, str):
        return raw
    if "bool" in annotation:
        lowered = raw.strip().lower()
        if lowered in ("1", "true", "yes", "on"):
            return True
        if lowered in ("0", "false", "no", "off"):
            return False
        if lowered in ("", "auto") and "None" in annotation:
            return None
        raise ConfigError(f"{env} must be true or false, not {raw!r}")
    if "int" in annotation:
        try:
            return int(raw)
        except ValueError as exc:
            raise ConfigError(f"{env} must be a whole number, not {raw!r}") from exc
    if "float" in annotation:
        try:
            return float(raw)
        except ValueError as exc:
            raise ConfigError(f"{env} must be a number, not {raw!r}") from exc
    return raw


def load_settings(environ: Mapping[str, str] | None = None, secrets_path: Path | None = None) -> Settings:
    """Build settings from ``[cx]`` in secrets.toml, overridden by environment variables."""
    environ = os.environ if environ is None else environ
    secrets_path = secrets_path or PROJECT_ROOT / ".streamlit" / "secrets.toml"
    from_file: dict[str, Any] = {}
    if secrets_path.is_file():
        try:
            from_file = tomllib.loads(secrets_path.read_text("utf-8")).get("cx", {})
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{secrets_path} is not valid TOML: {exc}") from exc
    values: dict[str, Any] = {}
    for f in dataclasses.fields(Settings):
        env = f.metadata["env"]
        if env in environ:
            values[f.name] = _convert(environ[env], str(f.type), env)
        elif f.name in from_file:
            values[f.name] = _convert(from_file[f.name], str(f.type), env)
    return Settings(**values)


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings (read once)."""
    return load_settings()
