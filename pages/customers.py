"""Find a customer: one search box for any identifier or a name, then the profile (masked per role)."""

from __future__ import annotations

import streamlit as st

from cx.customer_profile import ProfileView, profile_data, view_profile
from cx.db import transaction
from cx.errors import CxError, NotFoundError
from cx.lookup import search_customers
from ui import customer_view as cv
from ui.guard import page_context
from ui.i18n import t
from ui.safe import md_escape

# Puts the cursor into the search box when the page opens (only if nothing else has the focus). Fixed code.
_FOCUS_JS = """
export default function() {
  const active = document.activeElement;
  if (active && active !== document.body) { return; }
  const focus = (tries) => {
    const input = document.querySelector(".st-key-customers_query input");
    if (input) { input.focus(); } else if (tries > 0) { setTimeout(() => focus(tries - 1), 100); }
  };
  focus(30);
}
"""
_focus = st.components.v2.component("cx_customers_focus", js=_FOCUS_JS)

ctx = page_context("customers")
state, tz = st.session_state, ctx.settings.tz


def open_profile(profile_id: str | None) -> None:
    if profile_id:
        st.query_params["profile"] = profile_id
    else:
        st.query_params.pop("profile", None)


st.title(t("customers.title"))
query = st.text_input(
    t("customers.search"),
    key="customers_query",
    type="search",
    live="400ms",
    placeholder=t("customers.search_placeholder"),
    help=t("customers.search_hint"),
    max_chars=200,
)
_focus(key="customers_focus", height=0)

# search only when the text changed (every search is audited; reruns for other widgets reuse the result)
if query != state.get("customers_searched"):
    state["customers_searched"] = query
    state["customers_result"] = None
    if (query or "").strip():
        with transaction(ctx.engine) as session:
            result = search_customers(session, ctx.principal, query, region=ctx.settings.phone_region)
        state["customers_result"] = result
        if result.kind != "empty":
            open_profile(result.unique.profile_id if result.unique else None)

result = state.get("customers_result")
if result is not None and result.kind != "empty" and not result.unique:
    cv.candidates(result, tz, st.query_params.get("profile"), open_profile)

profile_id = st.query_params.get("profile")
if not profile_id:
    st.stop()

# the server checks profile.view on every load; the view is audited once per profile opened in this session
view: ProfileView | None = None
with transaction(ctx.engine) as session:
    try:
        if state.get("customers_viewed") == profile_id:
            view = profile_data(session, ctx.principal, profile_id)
        else:
            view = view_profile(session, ctx.principal, profile_id)
            state["customers_viewed"] = profile_id
    except NotFoundError:
        view = None
    except CxError as exc:
        st.error(md_escape(exc), icon=":material/block:")
if view is None:
    st.warning(t("customers.unknown_profile"), icon=":material/person_off:")
    st.button(t("customers.close_profile"), on_click=open_profile, args=(None,))
    st.stop()

st.divider()
with st.container(border=True):
    card, action = st.columns([4, 1], vertical_alignment="top")
    with card:
        cv.header_card(view, tz)
    if view.can_escalate:
        with action, st.popover(t("customers.escalate"), icon=":material/campaign:", type="primary", width="stretch"):
            cv.escalate_form(ctx, profile_id)
cv.score_cards(view)
cv.risk_alerts_topics(view, tz)
with st.expander(t("customers.why"), icon=":material/join_inner:"):
    cv.why_one_customer(ctx, view)

tab_timeline, tab_ids, tab_notes = st.tabs(
    [t("customers.tab.timeline"), t("customers.tab.identifiers"), f"{t('customers.tab.notes')} ({len(view.notes)})"]
)
with tab_timeline:
    cv.timeline_tab(ctx, view)
with tab_ids:
    cv.identifiers_tab(view, tz)
with tab_notes:
    cv.notes_tab(ctx, view)
