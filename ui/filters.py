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


def _active_count(current: Filters, key: str) -> int:
    """How many of channel / stage / touchpoint / segment are narrowed (the widgets' values if they are drawn)."""
    state = st.session_state
    return sum(
        bool(state.get(f"{key}_{name}", getattr(current, name)))
        for name in ("channels", "stages", "touchpoints", "segments")
    )


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

    The period is one click (a segmented control); channel, stage, touchpoint and segment sit in a "filters" popover
    whose label counts the active ones, drawn only while it is open (four multiselects on every rerun cost the
    browser more than the rest of the bar). ``on_change``: a callback for every widget of the bar (e.g. one that
    reruns only the fragments showing figures, see :func:`filters_from_widgets`); ``show_range=False`` leaves the
    resolved dates of a preset to the caller (who shows them where they are redrawn).
    """
    today = today or _today(timezone)
    current = current_filters(timezone, today=today)
    preset_key, drawn_key = f"{key}_preset", f"{key}_drawn"
    # one horizontal container rather than three columns: a rerun sends the browser one layout block, not four
    bar = st.container(horizontal=True, vertical_alignment="bottom", gap="medium")
    remembered = st.session_state.get(drawn_key, "last_30")
    preset = bar.segmented_control(
        t("filters.period"),
        PRESETS,
        default=st.session_state.get(preset_key) or remembered,
        format_func=lambda p: t(f"filters.preset.{p}"),
        key=preset_key,
        on_change=on_change,
        required=True,
    )
    preset = preset or remembered
    st.session_state[drawn_key] = preset
    if preset == "custom":
        picked = bar.date_input(
            t("filters.dates"), value=(current.start, current.end), key=f"{key}_dates", on_change=on_change
        )
        start, end = picked if isinstance(picked, tuple) and len(picked) == 2 else (current.start, current.end)
    else:
        start, end = preset_range(preset, today)
        if show_range:
            bar.caption(f"{start:%Y-%m-%d} – {end:%Y-%m-%d}")
    active = _active_count(current, key)
    label = t("filters.more_active", count=active) if active else t("filters.more")
    chosen = {name: getattr(current, name) for name in ("channels", "stages", "touchpoints", "segments")}
    popover = bar.popover(label, icon=":material/filter_list:", key=f"{key}_more", on_change="rerun")
    if popover.open:
        with popover:
            chosen = _narrowing_widgets(current, key, stages, touchpoints, segments, on_change)
    try:
        filters = Filters(start, end, *(tuple(chosen[n]) for n in ("channels", "stages", "touchpoints", "segments")))
    except ValidationError as exc:
        st.warning(md_escape(exc))
        return current
    st.session_state[_STATE] = filters
    return filters


def _narrowing_widgets(
    current: Filters,
    key: str,
    stages: Sequence[tuple[str, str]],
    touchpoints: Sequence[tuple[str, str]],
    segments: Sequence[str],
    on_change: Callable[[], None] | None,
) -> dict[str, Sequence[str]]:
    """Channel, stage, touchpoint and segment multiselects (inside the open popover)."""
    stage_labels, touchpoint_labels = dict(stages), dict(touchpoints)
    options: dict[str, tuple[list[str], Callable[[str], str]]] = {
        "channels": (list(CHANNELS), lambda c: t(f"channel.{c}")),
        "stages": (list(stage_labels), lambda s: stage_labels.get(s, s)),
        "touchpoints": (list(touchpoint_labels), lambda tp: touchpoint_labels.get(tp, tp)),
        "segments": (list(segments), str),
    }
    labels = {"channels": "channel", "stages": "stage", "touchpoints": "touchpoint", "segments": "segment"}
    chosen: dict[str, Sequence[str]] = {}
    for name, (values, format_func) in options.items():
        chosen[name] = st.multiselect(
            t(f"filters.{labels[name]}"),
            values,
            default=[v for v in getattr(current, name) if v in values],
            format_func=format_func,
            key=f"{key}_{name}",
            placeholder=t("filters.all"),
            on_change=on_change,
        )
    return chosen


def filters_from_widgets(timezone: str, *, key: str = "filter_bar", today: date | None = None) -> Filters | None:
    """For an ``on_change`` callback of :func:`filter_bar`: the filters its widgets hold now, kept for the session as
    the bar keeps them; None when the bar itself has to be drawn again (a switch to or from custom dates, an
    incomplete or invalid range), in which case the callback lets the whole page rerun. Narrowing widgets that are
    not drawn (the popover is closed) keep the session's filters."""
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
    stored = current_filters(timezone, today=today)  # the narrowing of a closed popover
    try:
        filters = Filters(
            start,
            end,
            *(
                tuple(state[f"{key}_{name}"] if f"{key}_{name}" in state else getattr(stored, name))
                for name in ("channels", "stages", "touchpoints", "segments")
            ),
        )
    except ValidationError:
        return None
    state[_STATE] = filters
    return filters
