"""The board's data for the page, cached with a TTL, checked on every call.

Every function takes the viewer (``principal``) and checks it BEFORE the cache is consulted (cx.boards.scope_refusal:
board.view, the right to the board's scope, kpi.agent_level for figures per agent; a refusal is audited by
cx.boards.authorize_scope and raised), so a cached figure is never served to someone who may not see it. The cache
key holds the viewer's role and the board scope (department / team / agent level) and never the person: viewers
allowed to see the same scope share the cached figures; the data functions below check the principal again when
they compute.
"""

from __future__ import annotations

import gc
import threading
from dataclasses import dataclass

import polars as pl
import streamlit as st
from sqlalchemy import Engine

from cx import board_queries as bq
from cx.access import Principal, require
from cx.boards import Board, BoardScope, Tile, authorize_scope, scope_refusal
from cx.db import transaction
from cx.filters import Filters
from cx.journey import touchpoint_departments
from cx.settings import get_settings
from ui.store import get_store

TTL_S = 300
#: Cache keys of the board's value objects: their repr (frozen dataclasses of strings, numbers, dates and tuples;
#: every field is in it). Streamlit's generic hashing of dataclasses cost ~40 ms per board rerun.
_KEYS = {BoardScope: repr, Filters: repr, Tile: repr}


@dataclass(frozen=True)
class JourneyLabels:
    """Stage and touchpoint keys with their names in both languages, and which touchpoints each department owns."""

    stages: tuple[tuple[str, str, str], ...]
    touchpoints: tuple[tuple[str, str, str], ...]
    owned: tuple[tuple[str, tuple[str, ...]], ...]

    def stage_pairs(self, language: str) -> list[tuple[str, str]]:
        return [(k, zh if language == "zh" else en) for k, en, zh in self.stages]

    def touchpoint_pairs(self, language: str, department: str | None = None) -> list[tuple[str, str]]:
        allowed = set(self.touchpoints_of(department)) if department else None
        return [
            (k, zh if language == "zh" else en) for k, en, zh in self.touchpoints if allowed is None or k in allowed
        ]

    def labels(self, language: str) -> dict[str, str]:
        return dict(self.stage_pairs(language)) | dict(self.touchpoint_pairs(language))

    def touchpoints_of(self, department: str | None) -> tuple[str, ...]:
        return dict(self.owned).get(department or "", ())


def _engine(database_url: str) -> Engine:
    settings = get_settings()
    return get_store(
        settings if settings.database_url == database_url else settings.with_overrides(database_url=database_url)
    )


def _check(database_url: str, principal: Principal, scope: BoardScope) -> None:
    """Refuse (audited, PermissionDenied) a viewer who may not see ``scope``; no store access when allowed."""
    if scope_refusal(principal, scope) is not None:
        with transaction(_engine(database_url)) as session:
            authorize_scope(session, principal, scope)


_frozen = threading.Event()


def settle_heap() -> None:
    """Once per process, after the first board is built: move every object alive now (modules, the app's caches)
    out of the garbage collector's sight (gc.freeze). Streamlit runs a full collection after every script run; on
    the board's heap (polars, SQLAlchemy, Plotly, pandas...) that took 100-300 ms per rerun on the shared machine,
    now it only walks the objects of the rerun itself. Objects are still freed as usual when unused."""
    if not _frozen.is_set():
        _frozen.set()
        gc.collect()
        gc.freeze()


@st.cache_data(ttl=TTL_S, show_spinner=False)
def _journey_labels(database_url: str, _principal: Principal) -> JourneyLabels:
    with transaction(_engine(database_url)) as session:
        journey = bq.journey_for_board(session, _principal)
    owners = touchpoint_departments(journey)
    owned: dict[str, list[str]] = {}
    for touchpoint, department in owners.items():
        owned.setdefault(department, []).append(touchpoint)
    return JourneyLabels(
        stages=tuple((s.key, s.name_en, s.name_zh) for s in journey.stages),
        touchpoints=tuple((tp.key, tp.name_en, tp.name_zh) for tp in journey.touchpoints),
        owned=tuple((d, tuple(tps)) for d, tps in owned.items()),
    )


def journey_labels(database_url: str, principal: Principal) -> JourneyLabels:
    """Stage and touchpoint names of the journey map (board.view)."""
    require(principal, "board.view")
    return _journey_labels(database_url, principal)


@st.cache_data(ttl=TTL_S, show_spinner=False, hash_funcs=_KEYS)
def _tiles(
    database_url: str, role: str, scope: BoardScope, filters: Filters, tiles: tuple[Tile, ...], _principal: Principal
) -> list[bq.TileValue]:
    with transaction(_engine(database_url)) as session:
        return bq.board_tiles(session, _principal, scope, filters, Board(scope.scope_key, tiles))


def tiles(
    database_url: str, principal: Principal, scope: BoardScope, filters: Filters, tiles: tuple[Tile, ...]
) -> list[bq.TileValue]:
    _check(database_url, principal, scope)
    return _tiles(database_url, principal.role.value, scope, filters, tiles, principal)


@st.cache_data(ttl=TTL_S, show_spinner=False, hash_funcs=_KEYS)
def _trend(
    database_url: str, role: str, scope: BoardScope, filters: Filters, key: str, _principal: Principal
) -> pl.DataFrame:
    with transaction(_engine(database_url)) as session:
        return bq.trend(session, _principal, scope, filters, key)


def trend(database_url: str, principal: Principal, scope: BoardScope, filters: Filters, key: str) -> pl.DataFrame:
    _check(database_url, principal, scope)
    return _trend(database_url, principal.role.value, scope, filters, key, principal)


@st.cache_data(ttl=TTL_S, show_spinner=False, hash_funcs=_KEYS)
def _breakdowns(
    database_url: str,
    role: str,
    scope: BoardScope,
    filters: Filters,
    key: str,
    dimensions: tuple[str, ...],
    _principal: Principal,
) -> dict[str, pl.DataFrame]:
    with transaction(_engine(database_url)) as session:
        return bq.breakdowns(session, _principal, scope, filters, key, dimensions)


def breakdowns(
    database_url: str, principal: Principal, scope: BoardScope, filters: Filters, key: str, dimensions: tuple[str, ...]
) -> dict[str, pl.DataFrame]:
    _check(database_url, principal, scope)
    if "agent_id" in dimensions and not (scope.agent_level and principal.can("kpi.agent_level")):
        with transaction(_engine(database_url)) as session:  # refused (and audited) before anything is cached
            bq.breakdowns(session, principal, scope, filters, key, dimensions)
    return _breakdowns(database_url, principal.role.value, scope, filters, key, dimensions, principal)


@st.cache_data(ttl=TTL_S, show_spinner=False, hash_funcs=_KEYS)
def _has_facts(database_url: str, role: str, scope: BoardScope, _principal: Principal) -> bool:
    with transaction(_engine(database_url)) as session:
        return bq.has_facts(session, _principal, scope)


def has_facts(database_url: str, principal: Principal, scope: BoardScope) -> bool:
    _check(database_url, principal, scope)
    return _has_facts(database_url, principal.role.value, scope, principal)


@st.cache_data(ttl=TTL_S, show_spinner=False)
def _fact_segments(database_url: str, _principal: Principal) -> list[str]:
    with transaction(_engine(database_url)) as session:
        return bq.segments_in_facts(session, _principal)


def fact_segments(database_url: str, principal: Principal) -> list[str]:
    """Segments in the daily facts, for the filter bar (board.view)."""
    require(principal, "board.view")
    return _fact_segments(database_url, principal)


def clear() -> None:
    """Forget every cached board figure (after a board's tiles change)."""
    _tiles.clear()
