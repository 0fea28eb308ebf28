"""The filter bar at the top of every analytical page, kept in session state so it follows the user."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import date

import streamlit as st

from cx.errors import ValidationError
from cx.filters import PRESETS, Filters, preset_range
from cx.schema import CHANNELS
from ui.i18n import t
from ui.safe import md_escape

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
    on_change: Callable[[], None] | None = None,
    show_range: bool = True,
) -> Filters:
    """Render the bar; ``stages``/``touchpoints`` are (key, label) pairs. Returns the (validated) filters.

    ``on_change``: a callback for every widget of the bar (e.g. one that reruns only the fragments showing figures,
    see :func:`filters_from_widgets`); ``show_range=False`` leaves the resolved dates of a preset to the caller
    (who shows them where they are redrawn).
    """
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
        on_change=on_change,
    )
    st.session_state[f"{key}_drawn"] = preset
    if preset == "custom":
        picked = columns[1].date_input(
            t("filters.dates"), value=(current.start, current.end), key=f"{key}_dates", on_change=on_change
        )
        start, end = picked if isinstance(picked, tuple) and len(picked) == 2 else (current.start, current.end)
    else:
        start, end = preset_range(preset, today)
        if show_range:
            columns[1].caption(f"{start:%Y-%m-%d} – {end:%Y-%m-%d}")
    channels = columns[2].multiselect(
        t("filters.channel"),
        CHANNELS,
        default=list(current.channels),
        format_func=lambda c: t(f"channel.{c}"),
        key=f"{key}_channels",
        placeholder=t("filters.all"),
        on_change=on_change,
    )
    stage_labels = dict(stages)
    chosen_stages = columns[3].multiselect(
        t("filters.stage"),
        list(stage_labels),
        default=[s for s in current.stages if s in stage_labels],
        format_func=lambda s: stage_labels.get(s, s),
        key=f"{key}_stages",
        placeholder=t("filters.all"),
        on_change=on_change,
    )
    touchpoint_labels = dict(touchpoints)
    chosen_touchpoints = columns[4].multiselect(
        t("filters.touchpoint"),
        list(touchpoint_labels),
        default=[tp for tp in current.touchpoints if tp in touchpoint_labels],
        format_func=lambda tp: touchpoint_labels.get(tp, tp),
        key=f"{key}_touchpoints",
        placeholder=t("filters.all"),
        on_change=on_change,
    )
    chosen_segments = columns[5].multiselect(
        t("filters.segment"),
        list(segments),
        default=[s for s in current.segments if s in segments],
        key=f"{key}_segments",
        placeholder=t("filters.all"),
        on_change=on_change,
    )
    try:
        filters = Filters(
            start, end, tuple(channels), tuple(chosen_stages), tuple(chosen_touchpoints), tuple(chosen_segments)
        )
    except ValidationError as exc:
        st.warning(md_escape(exc))
        return current
    st.session_state[_STATE] = filters
    return filters


def filters_from_widgets(timezone: str, *, key: str = "filter_bar", today: date | None = None) -> Filters | None:
    """For an ``on_change`` callback of :func:`filter_bar`: the filters its widgets hold now, kept for the session as
    the bar keeps them; None when the bar itself has to be drawn again (a switch to or from custom dates, an
    incomplete or invalid range), in which case the callback lets the whole page rerun."""
    state = st.session_state
    preset = state.get(f"{key}_preset", "last_30")
    if (preset == "custom") != (state.get(f"{key}_drawn") == "custom"):
        return None
    if preset == "custom":
        picked = state.get(f"{key}_dates")
        if not (isinstance(picked, tuple) and len(picked) == 2):
            return None
        start, end = picked
    else:
        start, end = preset_range(preset, today or _today(timezone))
    try:
        filters = Filters(
            start,
            end,
            *(tuple(state.get(f"{key}_{name}") or ()) for name in ("channels", "stages", "touchpoints", "segments")),
        )
    except ValidationError:
        return None
    state[_STATE] = filters
    return filters
