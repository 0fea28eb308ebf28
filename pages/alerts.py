"""Alerts inbox: mine / my team's / all (by permission), critical first then by due time, bulk actions, detail."""

from __future__ import annotations

import plotly.graph_objects as go
import streamlit as st

from alerts import lifecycle
from alerts.inbox import AlertDetail, alert_detail, counts_by_scope, list_alerts, metric_series, rule_yaml
from alerts.routing import assignable_users, known_teams
from alerts.states import LEVELS, OPEN_STATUSES, STATUSES, TRANSITIONS
from alerts.visibility import allowed_scopes
from cx.db import transaction
from cx.errors import CxError
from cx.types import utcnow
from ui.charts import STATUS_SYMBOL
from ui.format import fmt_duration, fmt_score
from ui.guard import page_context
from ui.i18n import t
from ui.navigation import PAGE_SPECS, PAGES_DIR
from ui.safe import md_escape

LEVEL_STATUS = {"critical": "bad", "warning": "watch", "info": "neutral"}

ctx = page_context("alerts")
principal, tz, state = ctx.principal, ctx.settings.tz, st.session_state
now = utcnow()


def level_label(level: str) -> str:
    return f"{STATUS_SYMBOL[LEVEL_STATUS.get(level, 'neutral')]} {t(f'alerts.level.{level}')}"


def time_left(seconds: float | None) -> str:
    if seconds is None:
        return "–"
    if seconds < 0:
        return t("alerts.overdue", time=fmt_duration(-seconds))
    return t("alerts.due_in", time=fmt_duration(seconds))


def run_action(action, *args, **kwargs) -> bool:
    """Run a lifecycle action in its own transaction; show its message instead of a traceback."""
    try:
        with transaction(ctx.engine) as session:
            action(session, principal, *args, **kwargs)
    except CxError as exc:
        st.error(md_escape(exc), icon=":material/error:")
        return False
    return True


st.title(t("alerts.title"))
scopes = allowed_scopes(principal)
with transaction(ctx.engine) as session:
    counts = counts_by_scope(session, principal, scopes)
    people = assignable_users(session, principal)
    teams = known_teams(session, principal)
names = {uid: name + (f" · {team}" if team else "") for uid, name, team in people}

scope = (
    st.segmented_control(
        t("alerts.scope"),
        scopes,
        default=state.get("alerts_scope_value", scopes[0]),
        format_func=lambda s: t(f"alerts.scope.{s}", count=counts.get(s, 0)),
        key="alerts_scope",
        label_visibility="collapsed",
    )
    or scopes[0]
)
state["alerts_scope_value"] = scope

filters = st.columns([2, 2, 3])
statuses = filters[0].multiselect(
    t("alerts.filter.status"),
    STATUSES,
    default=list(OPEN_STATUSES),
    format_func=lambda s: t(f"alerts.status.{s}"),
    key="alerts_status",
    placeholder=t("alerts.filter.any"),
)
levels = filters[1].multiselect(
    t("alerts.filter.level"), LEVELS, format_func=level_label, key="alerts_levels", placeholder=t("alerts.filter.any")
)
search = filters[2].text_input(t("alerts.filter.search"), key="alerts_search", max_chars=100)

with transaction(ctx.engine) as session:
    rows = list_alerts(session, principal, scope, statuses=statuses, levels=levels, text=search, now=now)

left, right = st.columns([3, 2], gap="medium")
selected: list[int] = []
with left:
    if not rows:
        st.info(t("alerts.empty"), icon=":material/inbox:")
    else:
        table = {
            t("alerts.col.level"): [level_label(r.level) for r in rows],
            t("alerts.col.title"): [r.title for r in rows],
            t("alerts.col.where"): [r.touchpoint or r.entity_id for r in rows],
            t("alerts.col.owner"): [r.owner or r.owner_team or t("alerts.unowned") for r in rows],
            t("alerts.col.due"): [time_left(r.seconds_left) for r in rows],
            t("alerts.col.status"): [t(f"alerts.status.{r.status}") for r in rows],
        }
        picked = st.dataframe(
            table, hide_index=True, on_select="rerun", selection_mode="multi-row", key="alerts_table", height=420
        )
        selected = [rows[i].id for i in picked.selection.rows if i < len(rows)]
        st.caption(t("alerts.count", count=len(rows)))
        if len(selected) > 1 and principal.can("alert.act"):
            with st.container(border=True):
                st.markdown(f"**{t('alerts.bulk.title', count=len(selected))}**")
                bulk = st.columns([2, 2, 2])
                if bulk[0].button(t("alerts.bulk.ack"), icon=":material/done_all:", key="alerts_bulk_ack"):
                    with transaction(ctx.engine) as session:
                        result = lifecycle.bulk_acknowledge(session, principal, selected, now=now)
                    st.success(t("alerts.bulk.done", done=len(result.done), skipped=len(result.skipped)))
                    st.rerun()
                owner = bulk[1].selectbox(
                    t("alerts.assign.user"),
                    [None, *names],
                    format_func=lambda u: names.get(u, t("alerts.assign.none")),
                    key="alerts_bulk_owner",
                )
                team = bulk[2].selectbox(
                    t("alerts.assign.team"),
                    [None, *teams],
                    format_func=lambda x: x or t("alerts.assign.none"),
                    key="alerts_bulk_team",
                )
                if st.button(t("alerts.bulk.assign"), icon=":material/group:", key="alerts_bulk_assign"):
                    with transaction(ctx.engine) as session:
                        result = lifecycle.bulk_assign(
                            session, principal, selected, owner_user_id=owner, owner_team=team, now=now
                        )
                    if result.skipped:
                        st.warning("\n".join(f"#{i}: {md_escape(why)}" for i, why in result.skipped.items()))
                    st.success(t("alerts.bulk.done", done=len(result.done), skipped=len(result.skipped)))

requested = st.query_params.get("alert")
current = selected[0] if selected else (int(requested) if requested and requested.isdigit() else None)


def render_detail(detail: AlertDetail) -> None:
    alert = detail.alert
    st.subheader(md_escape(alert.title), anchor=False)
    st.markdown(f"{level_label(alert.level)} · **{t(f'alerts.status.{alert.status}')}** · #{alert.id}")
    facts = st.columns(3)
    facts[0].metric(t("alerts.detail.owner"), md_escape(detail.owner_name or alert.owner_team or t("alerts.unowned")))
    left_s = (alert.due_at - now).total_seconds() if alert.due_at and alert.status in OPEN_STATUSES else None
    facts[1].metric(t("alerts.detail.due"), time_left(left_s))
    facts[2].metric(t("alerts.detail.raised"), alert.created_at.astimezone(tz).strftime("%m-%d %H:%M"))
    if alert.origin == "manual":
        st.caption(t("alerts.detail.manual", name=md_escape(detail.creator_name or "–")))
    else:
        st.caption(t("alerts.detail.rule", rule=md_escape(detail.rule_name or "–")))
    if detail.metrics:
        st.markdown(f"**{t('alerts.detail.why')}**")
        st.dataframe(
            {
                t("alerts.detail.metric"): list(detail.metrics),
                t("alerts.detail.value"): [
                    fmt_score(v) if isinstance(v, int | float) else str(v) for v in detail.metrics.values()
                ],
            },
            hide_index=True,
        )
    with transaction(ctx.engine) as session:
        series = metric_series(session, principal, alert.id, ctx.settings.timezone)
    if series:
        figure = go.Figure()
        for kpi_key in sorted({row["kpi"] for row in series}):
            for period in ("current", "baseline"):
                points = [row for row in series if row["kpi"] == kpi_key and row["period"] == period]
                if points:
                    figure.add_trace(
                        go.Scatter(
                            x=[p["day"] for p in points],
                            y=[p["value"] for p in points],
                            name=f"{t(f'kpi.{kpi_key}')} · {t(f'alerts.period.{period}')}",
                            line={"dash": "dot" if period == "baseline" else "solid"},
                        )
                    )
        figure.update_layout(height=260)
        st.plotly_chart(figure, width="stretch")
    if detail.evidence:
        st.markdown(f"**{t('alerts.detail.evidence')}**")
        st.dataframe(
            {
                t("alerts.ev.time"): [e.occurred_at.astimezone(tz).strftime("%Y-%m-%d %H:%M") for e in detail.evidence],
                t("alerts.ev.channel"): [t(f"channel.{e.channel}") if e.channel else "–" for e in detail.evidence],
                t("alerts.ev.kind"): [e.kind or "–" for e in detail.evidence],
                t("alerts.ev.touchpoint"): [e.touchpoint or "–" for e in detail.evidence],
                t("alerts.ev.text"): [e.text or "" for e in detail.evidence],
            },
            hide_index=True,
        )
    if alert.details and alert.details.get("note"):
        st.markdown(f"**{t('alerts.detail.note')}**")
        st.text(alert.details["note"])
    if detail.customer:
        c = detail.customer
        with st.container(border=True):
            st.markdown(f"**{t('alerts.detail.customer')}**")
            st.text(f"{c.name or c.profile_id} · {c.member_tier or '–'}")
            st.caption(
                t(
                    "alerts.detail.customer_line",
                    interactions=c.interactions,
                    complaints=c.complaints,
                    nps=c.latest_nps if c.latest_nps is not None else "–",
                    csat=c.latest_csat if c.latest_csat is not None else "–",
                )
            )
            if (PAGES_DIR / PAGE_SPECS["customers"].file).is_file() and principal.may_open("customers"):
                st.page_link(
                    str(PAGES_DIR / PAGE_SPECS["customers"].file),
                    label=t("alerts.detail.open_profile"),
                    icon=":material/person:",
                    query_params={"profile": c.profile_id},
                )
    if detail.rule:
        with st.expander(t("alerts.detail.rule_definition"), icon=":material/rule:"):
            st.code(rule_yaml(detail.rule), language="yaml")
    st.markdown(f"**{t('alerts.detail.timeline')}**")
    for item in detail.timeline:
        who = md_escape(item.actor or t("alerts.system"))
        change = (
            f" · {t(f'alerts.status.{item.from_status}')} → {t(f'alerts.status.{item.to_status}')}"
            if item.from_status and item.to_status
            else ""
        )
        st.markdown(
            f"`{item.at.astimezone(tz).strftime('%m-%d %H:%M')}` {t(f'alerts.event.{item.kind}')} · {who}{change}"
        )
        if item.note:
            st.text(item.note)
    if detail.notifications:
        with st.expander(t("alerts.detail.notifications", count=len(detail.notifications))):
            st.dataframe(
                {
                    t("alerts.nt.method"): [n["method"] for n in detail.notifications],
                    t("alerts.nt.event"): [n["event"] for n in detail.notifications],
                    t("alerts.nt.status"): [t(f"alerts.delivery.{n['status']}") for n in detail.notifications],
                    t("alerts.nt.attempts"): [n["attempts"] for n in detail.notifications],
                    t("alerts.nt.error"): [n["error"] or "" for n in detail.notifications],
                },
                hide_index=True,
            )
    if principal.can("alert.act"):
        render_actions(detail)


def render_actions(detail: AlertDetail) -> None:
    alert = detail.alert
    possible = [name for name, (sources, _to) in TRANSITIONS.items() if alert.status in sources]
    simple = [
        ("acknowledge", lifecycle.acknowledge, ":material/check:"),
        ("start", lifecycle.start, ":material/play_arrow:"),
        ("close", lifecycle.close, ":material/archive:"),
    ]
    buttons = st.columns(len(simple))
    for column, (name, action, icon) in zip(buttons, simple, strict=True):
        clicked = name in possible and column.button(
            t(f"alerts.action.{name}"),
            type="primary" if name == "acknowledge" else "secondary",
            icon=icon,
            key=f"alerts_{name}",
        )
        if clicked and run_action(action, alert.id, now=utcnow()):
            st.rerun()
    with st.form("alerts_comment_form", clear_on_submit=True, border=True):
        text = st.text_area(t("alerts.comment.label"), key="alerts_comment", max_chars=4000, height=80)
        if st.form_submit_button(t("alerts.comment.submit"), icon=":material/chat:") and run_action(
            lifecycle.comment, alert.id, text, now=utcnow()
        ):
            st.rerun()
    if alert.status in OPEN_STATUSES:
        with st.form("alerts_assign_form", border=True):
            cols = st.columns(2)
            owner = cols[0].selectbox(
                t("alerts.assign.user"),
                [None, *names],
                format_func=lambda u: names.get(u, t("alerts.assign.none")),
                key="alerts_owner",
            )
            team = cols[1].selectbox(
                t("alerts.assign.team"),
                [None, *teams],
                format_func=lambda x: x or t("alerts.assign.none"),
                key="alerts_team",
            )
            if st.form_submit_button(t("alerts.assign.submit"), icon=":material/person_add:") and run_action(
                lifecycle.assign, alert.id, owner_user_id=owner, owner_team=team, now=utcnow()
            ):
                st.rerun()
    if "resolve" in possible:
        with st.form("alerts_resolve_form", border=True):
            cause = st.text_area(t("alerts.resolve.cause"), key="alerts_cause", max_chars=4000, height=80)
            if st.form_submit_button(t("alerts.resolve.submit"), icon=":material/task_alt:") and run_action(
                lifecycle.resolve, alert.id, cause, now=utcnow()
            ):
                st.rerun()
    if "reopen" in possible:
        with st.form("alerts_reopen_form", border=True):
            reason = st.text_input(t("alerts.reopen.reason"), key="alerts_reopen_reason", max_chars=4000)
            if st.form_submit_button(t("alerts.reopen.submit"), icon=":material/replay:") and run_action(
                lifecycle.reopen, alert.id, reason, now=utcnow()
            ):
                st.rerun()


with right:
    if current is None:
        st.caption(t("alerts.pick"))
    else:
        try:
            first_view = state.get("alerts_viewed") != current
            with transaction(ctx.engine) as session:
                detail = alert_detail(session, principal, current, record_view=first_view)
            state["alerts_viewed"] = current
            render_detail(detail)
        except CxError as exc:
            st.warning(md_escape(exc), icon=":material/search_off:")
