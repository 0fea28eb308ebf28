"""The shared filter bar: narrowing kept while its popover is closed, active filters counted on the popover.

(The one-click period change is covered in a real browser by tests/browser/test_board.py.)"""

from __future__ import annotations

from datetime import date

from streamlit.testing.v1 import AppTest

from cx.filters import Filters


def _bar_script() -> None:
    import streamlit as st

    from ui.filters import filter_bar

    st.session_state["result"] = filter_bar("Asia/Shanghai", stages=[("buy", "Buy")], segments=["vip"])


def _popover_labels(node: object) -> list[str]:
    labels = []
    proto = getattr(node, "proto", None)
    if proto is not None and hasattr(proto, "popover") and proto.HasField("popover"):
        labels.append(proto.popover.label)
    for child in getattr(node, "children", {}).values():
        labels += _popover_labels(child)
    return labels


def _run(stored: Filters | None = None) -> AppTest:
    app = AppTest.from_function(_bar_script, default_timeout=30)
    app.session_state["cx_language"] = "en"
    if stored is not None:
        app.session_state["cx_filters"] = stored
    app.run()
    assert not app.exception
    return app


def test_narrowing_is_kept_while_the_popover_is_closed_and_counted_on_its_label() -> None:
    stored = Filters(date(2026, 1, 1), date(2026, 1, 31), channels=("phone",), segments=("vip",))
    app = _run(stored)
    result = app.session_state["result"]
    assert result.channels == ("phone",) and result.segments == ("vip",)  # not dropped with the widgets unseen
    assert not app.multiselect  # the four narrowing widgets are drawn only while the popover is open
    assert _popover_labels(app.main) == ["Filters (2)"]


def test_an_unnarrowed_bar_shows_the_last_30_days_and_a_plain_filters_button() -> None:
    app = _run()
    result = app.session_state["result"]
    assert (result.end - result.start).days == 29 and not result.channels
    assert _popover_labels(app.main) == ["Filters"]
