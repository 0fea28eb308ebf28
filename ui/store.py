"""The app process's store engine (opened and migrated once per process, shared by every browser session)."""

from __future__ import annotations

import streamlit as st
from sqlalchemy import Engine

from alerts.worker import start_embedded
from cx.settings import Settings, get_settings
from cx.store import open_store


@st.cache_resource(show_spinner=False)
def _engine_for(database_url: str) -> Engine:
    """Once per process and store: migrate, bootstrap, and (embedded default only) start the one alert worker."""
    settings = get_settings()
    if settings.database_url != database_url:
        settings = settings.with_overrides(database_url=database_url)
    engine = open_store(settings)
    start_embedded(settings)
    return engine


def get_store(settings: Settings | None = None) -> Engine:
    """The engine, after migrations ran and the first admin exists."""
    return _engine_for((settings or get_settings()).database_url)
