"""The filter bar at the top of every analytical page, kept in session state so it follows the user."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

import streamlit as st

from cx.errors import ValidationError
from cx.filters import PRESETS, Filters, preset_range
from cx.schema import CHANNELS
from ui.i18n import t

_STATE = "cx_filters"


def _today(timezone: str) -> date:
    from datetime import datetime
    from zoneinfo import ZoneInfo

    return datetime.now(ZoneInfo(timezone)).date()


def current_filters(timezone: str, *, today: date | None = None) -> Filters:
    """The filters of this browser session (default: the last 30 days, everything)."""
    stored = st.session_state.get(_STATE)
    if isinstance(stored, Filters):
        return stored
    start, end = preset_range("last_30", today or _today(timezone))
    return Filters(start, end)


def filter_bar(
    timezone: str,
    *,
    stages: Sequence[tuple[str, str]] = (),
    touchpoints: Sequence[tuple[str, str]] = (),
    segments: Sequence[str] = (),
    today: date | None = None,
    key: str = "filter_bar",
) -> Filters:
    """Render the bar; ``stages``/``touchpoints`` are (key, label) pairs. Returns the (validated) filters."""
    today = today or _today(timezone)
    current = current_filters(timezone, today=today)
    preset_key = f"{key}_preset"
    columns = st.columns([1.3, 1.6, 1.2, 1.2, 1.4, 1.2])
    preset = columns[0].selectbox(
        t("filters.period"),
        PRESETS,
        index=PRESETS.index(st.session_state.get(preset_key, "last_30")),
        format_func=lambda p: t(f"filters.preset.{p}"),
        key=preset_key,
    )
    if preset == "custom":
        picked = columns[1].date_input(t("filters.dates"), value=(current.start, current.end), key=f"{key}_dates")
        start, end = picked if isinstance(picked, tuple) and len(picked) == 2 else (current.start, current.end)
    else:
        start, end = preset_range(preset, today)
        columns[1].caption(f"{start:%Y-%m-%d} – {end:%Y-%m-%d}")
    channels = columns[2].multiselect(
        t("filters.channel"),
        CHANNELS,
        default=list(current.channels),
        format_func=lambda c: t(f"channel.{c}"),
        key=f"{key}_channels",
        placeholder=t("filters.all"),
    )
    stage_labels = dict(stages)
    chosen_stages = columns[3].multiselect(
        t("filters.stage"),
        list(stage_labels),
        default=[s for s in current.stages if s in stage_labels],
        format_func=lambda s: stage_labels.get(s, s),
        key=f"{key}_stages",
        placeholder=t("filters.all"),
    )
    touchpoint_labels = dict(touchpoints)
    chosen_touchpoints = columns[4].multiselect(
        t("filters.touchpoint"),
        list(touchpoint_labels),
        default=[tp for tp in current.touchpoints if tp in touchpoint_labels],
        format_func=lambda tp: touchpoint_labels.get(tp, tp),
        key=f"{key}_touchpoints",
        placeholder=t("filters.all"),
    )
    chosen_segments = columns[5].multiselect(
        t("filters.segment"),
        list(segments),
        default=[s for s in current.segments if s in segments],
        key=f"{key}_segments",
        placeholder=t("filters.all"),
    )
    try:
        filters = Filters(
            start, end, tuple(channels), tuple(chosen_stages), tuple(chosen_touchpoints), tuple(chosen_segments)
        )
    except ValidationError as exc:
        st.warning(str(exc))
        return current
    st.session_state[_STATE] = filters
    return filters
