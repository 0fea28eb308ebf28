"""Widgets of the customer page: the pick list, header card, score cards, timeline, notes, escalation, evidence.

Everything shown comes from cx.lookup / cx.customer_profile already masked for the viewer's role; text from
the sources (transcripts, notes, names, agent names) is shown literally (st.text, or md_escape in Markdown).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta, tzinfo
from typing import Any

import streamlit as st

from cx.access import Principal
from cx.customer_profile import (
    ProfileView,
    RiskReason,
    TopicCount,
    add_note,
    evidence,
    record_escalation,
    timeline,
)
from cx.db import transaction
from cx.errors import CxError
from cx.identity_overrides import join_profiles, overrides_for, revert_override, split_records
from cx.lookup import SearchResult, resolve_profile
from cx.schema import CHANNELS, KINDS
from cx.types import utcnow
from ui.charts import STATUS_SYMBOL
from ui.format import fmt_count, fmt_duration, fmt_points, fmt_score
from ui.guard import PageContext
from ui.i18n import current_language, t
from ui.safe import md_escape

PERIODS: dict[str, int | None] = {"all": None, "30": 30, "90": 90, "365": 365}
LEVEL_STATUS = {"critical": "bad", "warning": "watch", "info": "neutral"}
RISK_STATUS = {"high": "bad", "medium": "watch", "low": "good"}
TIMELINE_STEP = 25


def when(value: datetime | None, tz: tzinfo, with_time: bool = True) -> str:
    return value.astimezone(tz).strftime("%Y-%m-%d %H:%M" if with_time else "%Y-%m-%d") if value else "–"


def _number(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return "" if value is None else str(value)


def reason_text(reason: RiskReason) -> str:
    text = t(f"customers.reason.{reason.code}", value=_number(reason.value))
    if text == f"customers.reason.{reason.code}":  # a reason this version has no words for
        text = reason.code
    return f"{text} (+{_number(reason.points)})" if reason.points else text


def topic_label(topic: TopicCount, view: ProfileView, language: str) -> str:
    """A topic in words: VoC topics and contact kinds from the catalogs, touchpoints from the journey map."""
    if topic.kind == "kind":
        return t(f"customers.ckind.{topic.topic}")
    if topic.kind == "voc":
        name = t(f"voc.topic.{topic.topic}")
        return topic.topic if name == f"voc.topic.{topic.topic}" else name
    return view.label(topic.topic, language)


# --------------------------------------------------------------------------------------------- search results


def candidates(result: SearchResult, tz: tzinfo, current: str | None, on_open: Callable[[str], None]) -> None:
    """The short list to choose from (masked phone, city, last contact), or what to do when nothing matched."""
    if not result.total:
        st.info(t("customers.none_found", kind=t(f"customers.kind.{result.kind}")), icon=":material/search_off:")
        return
    if result.total > len(result.candidates):
        st.caption(t("customers.many_found", total=fmt_count(result.total), shown=len(result.candidates)))
    st.markdown(f"**{t('customers.pick')}**")
    for candidate in result.candidates:
        match = (
            t("customers.match.name", score=fmt_score(candidate.score, 0))
            if candidate.matched_by == "name"
            else t(f"customers.id.{candidate.matched_by}")
        )
        parts = (
            candidate.name or t("customers.no_name"),
            candidate.phone,
            candidate.city,
            candidate.member_tier,
            t("customers.last_contact", date=when(candidate.last_contact, tz, False)),
            match,
        )
        with st.container(border=True, horizontal=True, vertical_alignment="center"):
            st.text(" · ".join(p for p in parts if p))
            st.button(
                t("customers.open"),
                key=f"customers_open_{candidate.profile_id}",
                type="primary" if candidate.profile_id == current else "secondary",
                on_click=on_open,
                args=(candidate.profile_id,),
            )


# --------------------------------------------------------------------------------------------- header, scores


def header_card(view: ProfileView, tz: tzinfo) -> None:
    header, language = view.header, current_language()
    st.subheader(md_escape(header.name) if header.name else t("customers.no_name"), anchor=False)
    st.text(
        " · ".join(
            [
                f"{t('customers.phone')}: {header.phone or '–'}",
                f"{t('customers.email')}: {header.email or '–'}",
                f"{t('customers.wechat')}: {header.wechat_id or '–'}",
                f"{t('customers.city')}: {header.city or '–'}",
                f"{t('customers.tier')}: {header.member_tier or '–'}",
            ]
        )
    )
    complaints = fmt_count(header.complaints) + (
        f" ({t('customers.open_complaints', count=header.open_complaints)})" if header.open_complaints else ""
    )
    st.text(
        " · ".join(
            [
                t("customers.since", date=when(header.customer_since, tz, False)),
                t("customers.last_contact", date=when(header.last_contact, tz)),
                f"{t('customers.stage')}: {view.label(header.stage, language) or '–'}",
                f"{t('customers.contacts')}: {fmt_count(header.interactions)}",
                f"{t('customers.complaints')}: {complaints}",
            ]
        )
    )
    with st.container(horizontal=True):
        for channel in header.channels:
            st.badge(t(f"channel.{channel}"), color="blue")


def score_cards(view: ProfileView) -> None:
    scores, risk = view.scores, view.risk
    cards = st.columns(5)
    for column, label, value, trend in (
        (cards[0], "customers.nps", scores.nps, scores.nps_trend),
        (cards[1], "customers.csat", scores.csat, scores.csat_trend),
        (cards[2], "customers.ces", scores.ces, scores.ces_trend),
    ):
        column.metric(
            t(label),
            fmt_score(value, 0),
            fmt_points(trend) if trend else None,
            border=True,
            help=t("customers.trend_help"),
        )
    cards[3].metric(
        t("customers.experience"), fmt_score(scores.experience), border=True, help=t("customers.experience_help")
    )
    level = risk.level
    cards[4].metric(
        t("customers.risk"),
        f"{STATUS_SYMBOL[RISK_STATUS[level]]} {t(f'customers.risk.{level}')} · {fmt_score(risk.score, 0)}"
        if level
        else "–",
        border=True,
        help=t("customers.risk_help"),
    )


def risk_alerts_topics(view: ProfileView, tz: tzinfo) -> None:
    language = current_language()
    left, right = st.columns([2, 1])
    with left:
        st.markdown(f"**{t('customers.risk_reasons')}**")
        if not view.risk.reasons:
            st.caption(t("customers.no_risk_reasons"))
        for reason in view.risk.reasons:
            st.text(f"• {reason_text(reason)}")
        st.markdown(f"**{t('customers.open_alerts')}**")
        if not view.open_alerts:
            st.caption(t("customers.no_open_alerts"))
        for alert in view.open_alerts:
            symbol = STATUS_SYMBOL[LEVEL_STATUS.get(alert.level, "neutral")]
            line = t(
                "customers.alert_line",
                title=alert.title or "",
                status=t(f"customers.status.{alert.status}"),
                owner=alert.owner or alert.owner_team or t("customers.nobody"),
            )
            st.text(
                f"{symbol} {t(f'customers.level.{alert.level}')} #{alert.alert_id} · {line} · {when(alert.created_at, tz)}"
            )
    with right:
        st.markdown(f"**{t('customers.topics')}**")
        if not view.topics:
            st.caption(t("customers.no_topics"))
        with st.container(horizontal=True):
            for topic in view.topics:
                label = topic_label(topic, view, language)
                colour = {"voc": "orange", "touchpoint": "violet"}.get(topic.kind, "gray")
                st.badge(f"{md_escape(label)} · {topic.contacts}", color=colour)
        if view.top_rules:
            st.markdown(f"**{t('customers.top_rules')}**")
        for rule in view.top_rules:
            name = t("customers.rule.manual") if rule.rule == "manual" else rule.rule
            st.text(t("customers.rule_line", rule=name, count=rule.alerts))


# --------------------------------------------------------------------------------------------- escalate


def escalate_form(ctx: PageContext, profile_id: str) -> None:
    """Level, owner (a person and/or a team) and a note -> a manual alert routed by the alerts module."""
    # imported here, not at the top: when a page file is run directly (the guard tests), its folder comes first on
    # sys.path and pages/alerts.py would shadow the alerts package before the page's guard has run
    from alerts.lifecycle import raise_manual_alert
    from alerts.routing import assignable_users, known_teams
    from alerts.states import LEVELS

    with transaction(ctx.engine) as session:
        owners, teams = assignable_users(session, ctx.principal), known_teams(session, ctx.principal)
    names = {uid: name + (f" · {team}" if team else "") for uid, name, team in owners}
    with st.form("customers_escalate", clear_on_submit=True, border=False):
        st.markdown(f"**{t('customers.escalate_title')}**")
        level = st.segmented_control(
            t("customers.escalate.level"),
            LEVELS,
            default="warning",
            format_func=lambda lv: f"{STATUS_SYMBOL[LEVEL_STATUS[lv]]} {t(f'customers.level.{lv}')}",
            key="customers_escalate_level",
        )
        owner = st.selectbox(
            t("customers.escalate.owner"),
            [None, *names],
            format_func=lambda uid: t("customers.escalate.no_owner") if uid is None else names[uid],
            key="customers_escalate_owner",
        )
        team = st.selectbox(
            t("customers.escalate.team"),
            [None, *teams],
            format_func=lambda tm: t("customers.escalate.no_team") if tm is None else tm,
            key="customers_escalate_team",
        )
        note = st.text_area(t("customers.escalate.note"), key="customers_escalate_note", max_chars=4000)
        if not st.form_submit_button(t("customers.escalate.submit"), type="primary"):
            return
    try:
        with transaction(ctx.engine) as session:
            alert = raise_manual_alert(
                session,
                ctx.principal,
                profile_id=profile_id,
                level=level or "warning",
                note=note,
                owner_user_id=owner,
                owner_team=team,
            )
            record_escalation(session, ctx.principal, profile_id, alert.id, level or "warning")
        st.success(t("customers.escalated", alert_id=alert.id), icon=":material/check_circle:")
    except CxError as exc:
        st.error(md_escape(exc))


# --------------------------------------------------------------------------------------------- timeline


def timeline_tab(ctx: PageContext, view: ProfileView) -> None:
    """Every contact, newest first, one expander each; filters by channel, kind and period; older on demand."""
    tz, language, state = ctx.settings.tz, current_language(), st.session_state
    profile_id = view.header.profile_id
    cols = st.columns(3)
    channels = cols[0].multiselect(
        t("customers.filter.channel"),
        CHANNELS,
        format_func=lambda c: t(f"channel.{c}"),
        key="customers_tl_channels",
        placeholder=t("customers.filter.all"),
    )
    kinds = cols[1].multiselect(
        t("customers.filter.kind"),
        KINDS,
        format_func=lambda k: t(f"customers.ckind.{k}"),
        key="customers_tl_kinds",
        placeholder=t("customers.filter.all"),
    )
    period = cols[2].selectbox(
        t("customers.filter.period"),
        list(PERIODS),
        format_func=lambda p: t(f"customers.period.{p}"),
        key="customers_tl_period",
    )
    days = PERIODS[period]
    size_key = f"customers_tl_size_{profile_id}"
    with transaction(ctx.engine) as session:
        page = timeline(
            session,
            ctx.principal,
            profile_id,
            channels=channels,
            kinds=kinds,
            since=utcnow() - timedelta(days=days) if days else None,
            limit=min(state.get(size_key, TIMELINE_STEP), 500),
        )
    if not page.entries:
        st.info(t("customers.timeline_empty"), icon=":material/filter_alt_off:")
        return
    st.caption(t("customers.timeline_count", shown=len(page.entries), total=page.total))
    for entry in page.entries:
        outcome = t(f"customers.outcome.{entry.outcome}") if entry.outcome else ""
        parts = (
            when(entry.occurred_at, tz),
            t(f"channel.{entry.channel}"),
            t(f"customers.ckind.{entry.kind}") if entry.kind else "",
            view.label(entry.touchpoint, language),
            outcome,
            (entry.text or "")[:60],
        )
        with st.expander(md_escape(" · ".join(p for p in parts if p))):
            st.text(entry.text or t("customers.no_text"))
            scores = " · ".join(
                f"{name} {value}"
                for name, value in (("NPS", entry.nps), ("CSAT", entry.csat), ("CES", entry.ces))
                if value is not None
            )
            details = (
                (t("customers.entry.agent"), entry.agent),
                (t("customers.entry.team"), entry.team),
                (t("customers.entry.outcome"), outcome),
                (t("customers.entry.scores"), scores),
                (t("customers.entry.handle"), fmt_duration(entry.handle_s) if entry.handle_s else None),
                (t("customers.entry.case"), entry.case_id),
                (t("customers.entry.source"), entry.interaction_id),
            )
            st.text(" · ".join(f"{label}: {value}" for label, value in details if value))
    more = page.next_cursor is not None and len(page.entries) < 500
    if more and st.button(t("customers.older"), icon=":material/expand_more:", key="customers_tl_more"):
        state[size_key] = len(page.entries) + TIMELINE_STEP
        st.rerun()


def identifiers_tab(view: ProfileView, tz: tzinfo) -> None:
    st.dataframe(
        [
            {
                "type": t(f"customers.id.{row.id_type}"),
                "value": row.value,
                "sources": ", ".join(row.sources),
                "channels": ", ".join(t(f"channel.{c}") for c in row.channels),
                "records": row.records,
                "first": when(row.first_seen, tz, False),
                "last": when(row.last_seen, tz, False),
            }
            for row in view.identifiers
        ],
        hide_index=True,
        column_config={
            "type": t("customers.col.id_type"),
            "value": t("customers.col.value"),
            "sources": t("customers.col.sources"),
            "channels": t("customers.col.channels"),
            "records": st.column_config.NumberColumn(t("customers.col.records"), format="%d"),
            "first": t("customers.col.first_seen"),
            "last": t("customers.col.last_seen"),
        },
    )


def notes_tab(ctx: PageContext, view: ProfileView) -> None:
    profile_id = view.header.profile_id
    if view.can_note:
        with st.form("customers_note", clear_on_submit=True):
            text = st.text_area(
                t("customers.note"), placeholder=t("customers.note_placeholder"), max_chars=2000, key="customers_note"
            )
            submitted = st.form_submit_button(t("customers.add_note"), icon=":material/note_add:")
        if submitted:
            try:
                with transaction(ctx.engine) as session:
                    add_note(session, ctx.principal, profile_id, text)
                st.toast(t("customers.note_added"), icon=":material/check:")
                st.rerun()
            except CxError as exc:
                st.error(md_escape(exc))
    if not view.notes:
        st.caption(t("customers.no_notes"))
    for note in view.notes:
        with st.container(border=True):
            st.caption(
                t(
                    "customers.note_by",
                    author=md_escape(note.author or "–"),
                    date=when(note.created_at, ctx.settings.tz),
                )
            )
            st.text(note.text or "")


# --------------------------------------------------------------------------------------------- why is this one customer


def _rule_label(rule: str, id_type: str | None) -> str:
    if rule == "shared_identifier" and id_type:
        return t("customers.rule.shared_identifier", id_type=t(f"customers.id.{id_type}"))
    label = t(f"customers.rule.{rule}")
    return rule if label == f"customers.rule.{rule}" else label


def why_one_customer(ctx: PageContext, view: ProfileView) -> None:
    """The evidence that joined each record; CX owners split records out or join another profile (and revert)."""
    principal: Principal = ctx.principal
    profile_id, tz = view.header.profile_id, ctx.settings.tz
    st.caption(t("customers.why_help"))
    with transaction(ctx.engine) as session:
        links = evidence(session, principal, profile_id)
        overrides = overrides_for(session, principal, profile_id)
    if not links:
        st.info(t("customers.no_evidence"))
    else:
        st.dataframe(
            [
                {
                    "record": link.interaction_id,
                    "when": when(link.occurred_at, tz),
                    "channel": t(f"channel.{link.channel}") if link.channel else "",
                    "rule": _rule_label(link.rule, link.id_type),
                    "shared": link.shared_value or ", ".join(t(f"customers.id.{s}") for s in link.shared_types) or None,
                    "peer": link.matched_interaction_id,
                    "score": link.score,
                }
                for link in links
            ],
            hide_index=True,
            column_config={
                "record": t("customers.col.record"),
                "when": t("customers.col.when"),
                "channel": t("customers.col.channel"),
                "rule": t("customers.col.rule"),
                "shared": t("customers.col.shared"),
                "peer": t("customers.col.peer"),
                "score": st.column_config.NumberColumn(t("customers.col.score"), format="%.2f"),
            },
        )
    if overrides:
        st.markdown(f"**{t('customers.overrides')}**")
    for override in overrides:
        cols = st.columns([4, 1], vertical_alignment="center")
        cols[0].text(
            t(
                "customers.override_line",
                kind=t(f"customers.override.{override.kind}"),
                records=override.records,
                who=override.created_by or "–",
                date=when(override.created_at, tz),
                state=t("customers.override.active" if override.active else "customers.override.reverted"),
            )
        )
        if (
            override.active
            and view.can_split_join
            and cols[1].button(
                t("customers.revert", override_id=override.override_id), key=f"customers_revert_{override.override_id}"
            )
        ):
            with transaction(ctx.engine) as session:
                revert_override(session, principal, override.override_id, profile_id=profile_id)
            st.toast(t("customers.reverted"))
            st.rerun()
    if view.can_split_join and links:
        _split_join_forms(ctx, view, links)


def _split_join_forms(ctx: PageContext, view: ProfileView, links: list[Any]) -> None:
    profile_id, tz = view.header.profile_id, ctx.settings.tz
    split_col, join_col = st.columns(2)
    with split_col, st.form("customers_split", clear_on_submit=True):
        st.markdown(f"**{t('customers.split')}**")
        labels = {
            link.interaction_id: f"{when(link.occurred_at, tz)} · {link.channel or ''} · {link.interaction_id}"
            for link in links
        }
        picked = st.multiselect(
            t("customers.split_pick"), list(labels), format_func=labels.get, key="customers_split_pick"
        )
        reason = st.text_input(t("customers.reason"), key="customers_split_reason", max_chars=1000)
        if st.form_submit_button(t("customers.split_submit")):
            try:
                with transaction(ctx.engine) as session:
                    split_records(session, ctx.principal, profile_id, picked, reason)
                st.success(t("customers.override_saved"))
            except CxError as exc:
                st.error(md_escape(exc))
    with join_col, st.form("customers_join", clear_on_submit=True):
        st.markdown(f"**{t('customers.join')}**")
        other = st.text_input(t("customers.join_query"), key="customers_join_query", max_chars=200)
        reason = st.text_input(t("customers.reason"), key="customers_join_reason", max_chars=1000)
        if st.form_submit_button(t("customers.join_submit")):
            try:
                with transaction(ctx.engine) as session:
                    target = resolve_profile(session, ctx.principal, other, region=ctx.settings.phone_region)
                    join_profiles(session, ctx.principal, profile_id, target, reason)
                st.success(t("customers.override_saved"))
            except CxError as exc:
                st.error(md_escape(exc))
