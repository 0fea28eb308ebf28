"""Board settings (admins): the default KPI board of each department and of team leads."""

from __future__ import annotations

import streamlit as st

from cx import boards
from cx.db import transaction
from cx.errors import ConflictError, ValidationError
from ui.board_widgets import fmt_kpi, tiles_editor
from ui.guard import page_context
from ui.i18n import t

ctx = page_context("board_settings")
principal = ctx.principal
st.title(t("board_settings.title"))
st.caption(t("board_settings.intro"))


def _scope_label(scope_key: str) -> str:
    kind, _, name = scope_key.partition(":")
    return t("board_settings.scope.team_lead") if kind == "role" else t(f"dept.{name}")


scope_key = st.selectbox(
    t("board_settings.scope"), boards.scope_keys(), format_func=_scope_label, key="board_settings_scope"
)
with transaction(ctx.engine) as session:
    board = boards.load_board(session, principal, scope_key)
st.caption(t("board_settings.version", version=board.version) if board.version else t("board_settings.builtin"))

edited = tiles_editor(board.tiles, key=f"board_settings_{scope_key}_{board.version}")
st.caption(t("board_settings.preview"))
st.text(
    " · ".join(
        f"{t(f'kpi.{tile.kpi}')} ({fmt_kpi(tile.target, tile.kpi) if tile.target is not None else '–'})"
        for tile in board.tiles
    )
)
save, reset = st.columns(2)
if save.button(t("board.save"), type="primary", key="board_settings_save"):
    try:
        with transaction(ctx.engine) as session:
            boards.save_board(session, principal, scope_key, edited, expected_version=board.version)
    except ValidationError as exc:
        st.error(t("board.invalid", problems="; ".join(exc.problems) or str(exc)))
    except ConflictError:
        st.warning(t("board.conflict"))
    else:
        st.toast(t("board.saved"))
        st.rerun()
if board.version and reset.button(t("board_settings.reset"), key="board_settings_reset"):
    with transaction(ctx.engine) as session:
        boards.reset_board(session, principal, scope_key)
    st.rerun()
