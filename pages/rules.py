"""Warning rules: the list, a condition builder (or YAML), a backtest before saving, YAML export and import."""

from __future__ import annotations

import plotly.graph_objects as go
import streamlit as st
import yaml

from alerts import rulebook
from alerts.backtest import MAX_DAYS, backtest_rule
from alerts.builder import Leaf, RuleForm, document_from_form, form_from_document
from alerts.routing import assignable_users, known_teams
from alerts.rules import (
    COMPARISONS,
    DAYS,
    FACT_FILTER_FIELDS,
    GROUP_BY,
    INTERACTION_FILTER_FIELDS,
    METRIC_OPS,
    SCOPES,
    TREND_OF,
    metrics_for,
    rule_problems,
)
from alerts.states import LEVELS
from cx import journey_rules
from cx.db import transaction
from cx.errors import CxError, RuleConfigError
from cx.types import utcnow
from ui.charts import STATUS_SYMBOL
from ui.format import fmt_count
from ui.guard import page_context
from ui.i18n import t
from ui.safe import md_escape

LEVEL_STATUS = {"critical": "bad", "warning": "watch", "info": "neutral"}
WEBHOOKS = ("webhook", "wecom", "dingtalk", "slack")
OWNER_KINDS = ("user", "team", "touchpoint_owner")

ctx = page_context("rules")
principal, state = ctx.principal, st.session_state
can_edit = principal.can("rule.edit")

st.title(t("rules.title"))
st.caption(t("rules.intro"))

with transaction(ctx.engine) as session:
    rules = rulebook.list_rules(session, principal)
    people = assignable_users(session, principal)
    teams = known_teams(session, principal)
usernames = sorted({name for _id, name, _team in people})


def level_label(level: str) -> str:
    return f"{STATUS_SYMBOL[LEVEL_STATUS.get(level, 'neutral')]} {t(f'alerts.level.{level}')}"


def load_into_editor(rule_id: int | None) -> None:
    """Put a stored rule (or a blank one) into the editor's session state."""
    state["rules_editing"] = rule_id
    if rule_id is None:
        state["rules_form"] = RuleForm(conditions=[Leaf("contacts", "ge", "3")])
        state["rules_yaml"] = ""
        return
    rule = next(r for r in rules if r.id == rule_id)
    document = {**rule.definition, "name": rule.name, "level": rule.level, "enabled": rule.enabled}
    state["rules_form"] = form_from_document(document) or RuleForm(name=rule.name)
    state["rules_yaml"] = yaml.safe_dump(document, allow_unicode=True, sort_keys=False)
    state["rules_version"] = rule.version
    state.pop("rules_backtest", None)


# --------------------------------------------------------------------------------------------- the list

top = st.columns([4, 1, 1])
if not rules:
    top[0].info(t("rules.empty"), icon=":material/rule:")
else:
    picked = top[0].dataframe(
        {
            t("rules.col.name"): [r.name for r in rules],
            t("rules.col.level"): [level_label(r.level) for r in rules],
            t("rules.col.scope"): [rulebook.scope_summary(r) for r in rules],
            t("rules.col.enabled"): [r.enabled for r in rules],
            t("rules.col.version"): [r.version for r in rules],
        },
        hide_index=True,
        on_select="rerun",
        selection_mode="single-row",
        key="rules_table",
        column_config={t("rules.col.enabled"): st.column_config.CheckboxColumn()},
    )
    if picked.selection.rows:
        chosen = rules[picked.selection.rows[0]].id
        if state.get("rules_editing") != chosen:
            load_into_editor(chosen)
if can_edit and top[1].button(t("rules.new"), icon=":material/add:", key="rules_new"):
    load_into_editor(None)
with transaction(ctx.engine) as session:
    exported = rulebook.export_yaml(session, principal)
top[2].download_button(
    t("rules.export"),
    exported,
    file_name="cx-rules.yaml",
    mime="application/x-yaml",
    icon=":material/download:",
    key="rules_export",
)
if can_edit:
    with st.expander(t("rules.import.title"), icon=":material/upload:"):
        upload = st.file_uploader(t("rules.import.file"), type=["yaml", "yml"], key="rules_import_file")
        if upload is not None and st.button(t("rules.import.submit"), key="rules_import"):
            try:
                with transaction(ctx.engine) as session:
                    result = rulebook.import_yaml(session, principal, upload.getvalue().decode("utf-8", "replace"))
                st.success(t("rules.import.done", created=len(result.created), updated=len(result.updated)))
            except RuleConfigError as exc:
                st.error(t("rules.import.failed"))
                for problem in exc.problems or [str(exc)]:
                    st.text(problem)

if "rules_form" not in state:
    st.stop()

# --------------------------------------------------------------------------------------------- the editor

form: RuleForm = state["rules_form"]
editing = state.get("rules_editing")
st.divider()
st.subheader(t("rules.edit_title", name=md_escape(form.name)) if editing else t("rules.new_title"), anchor=False)
builder, preview = st.columns([3, 2], gap="large")

with builder:
    use_yaml = st.toggle(t("rules.yaml_mode"), key="rules_use_yaml", value=not form.conditions and bool(editing))
    if use_yaml:
        text = st.text_area(
            t("rules.yaml"),
            value=state.get("rules_yaml")
            or yaml.safe_dump(document_from_form(form), allow_unicode=True, sort_keys=False),
            height=420,
            key="rules_yaml_text",
        )
        try:
            document = rulebook.load_rule_yaml(text)
        except RuleConfigError as exc:
            st.error(md_escape(exc))
            document = {}
    else:
        cols = st.columns([3, 1, 1])
        form.name = cols[0].text_input(t("rules.name"), value=form.name, max_chars=200, key="rules_name")
        form.level = cols[1].selectbox(
            t("rules.level"), LEVELS, index=LEVELS.index(form.level), format_func=level_label, key="rules_level"
        )
        form.enabled = cols[2].toggle(t("rules.enabled"), value=form.enabled, key="rules_enabled")
        form.description = st.text_input(
            t("rules.description"), value=form.description, max_chars=2000, key="rules_description"
        )
        cols = st.columns(4)
        form.scope = cols[0].selectbox(
            t("rules.scope"),
            SCOPES,
            index=SCOPES.index(form.scope),
            format_func=lambda s: t(f"rules.scope.{s}"),
            key="rules_scope",
        )
        if form.scope in ("customer", "aggregate", "trend"):
            form.window = cols[1].text_input(
                t("rules.window"), value=form.window, key="rules_window", help=t("rules.duration_help")
            )
        if form.scope in ("aggregate", "trend"):
            form.by = cols[2].selectbox(
                t("rules.by"),
                GROUP_BY,
                index=GROUP_BY.index(form.by) if form.by in GROUP_BY else 0,
                format_func=lambda b: t(f"rules.by.{b}"),
                key="rules_by",
            )
        if form.scope == "trend":
            form.compare = cols[3].selectbox(
                t("rules.compare"),
                COMPARISONS,
                index=COMPARISONS.index(form.compare),
                format_func=lambda c: t(f"rules.compare.{c}"),
                key="rules_compare",
            )
        if form.scope == "interaction":
            form.max_age = cols[1].text_input(
                t("rules.max_age"), value=form.max_age, key="rules_max_age", help=t("rules.duration_help")
            )
        if form.scope == "sla":
            form.lookback = cols[1].text_input(
                t("rules.lookback"), value=form.lookback, key="rules_lookback", help=t("rules.duration_help")
            )
        metric_scope = form.scope != "interaction"
        field_names = list(FACT_FILTER_FIELDS if form.scope in ("aggregate", "trend") else INTERACTION_FILTER_FIELDS)
        if metric_scope:
            st.markdown(f"**{t('rules.filter')}**")
            form.filter_mode = (
                st.segmented_control(
                    t("rules.mode"),
                    ["all", "any"],
                    default=form.filter_mode,
                    key="rules_filter_mode",
                    format_func=lambda m: t(f"rules.mode.{m}"),
                    label_visibility="collapsed",
                )
                or "all"
            )
            rows = st.data_editor(
                [{"name": f.name, "op": f.op, "value": f.value} for f in form.filters]
                or [{"name": None, "op": None, "value": ""}],
                num_rows="dynamic",
                key="rules_filters",
                hide_index=True,
                column_config={
                    "name": st.column_config.SelectboxColumn(t("rules.col.field"), options=field_names),
                    "op": st.column_config.SelectboxColumn(t("rules.col.op"), options=list(journey_rules.OPS)),
                    "value": st.column_config.TextColumn(t("rules.col.value"), help=t("rules.value_help")),
                },
            )
            form.filters = [Leaf(r["name"], r["op"] or "eq", r.get("value") or "") for r in rows if r.get("name")]
        st.markdown(f"**{t('rules.condition')}**")
        form.condition_mode = (
            st.segmented_control(
                t("rules.mode"),
                ["all", "any"],
                default=form.condition_mode,
                key="rules_condition_mode",
                format_func=lambda m: t(f"rules.mode.{m}"),
                label_visibility="collapsed",
            )
            or "all"
        )
        names = list(metrics_for(form.scope)) if metric_scope else field_names
        ops = list(METRIC_OPS) if metric_scope else list(journey_rules.OPS)
        columns = {
            "name": st.column_config.SelectboxColumn(
                t("rules.col.metric") if metric_scope else t("rules.col.field"), options=names
            ),
            "op": st.column_config.SelectboxColumn(t("rules.col.op"), options=ops),
            "value": st.column_config.TextColumn(t("rules.col.value"), help=t("rules.value_help")),
        }
        if form.scope == "trend":
            columns["of"] = st.column_config.SelectboxColumn(t("rules.col.of"), options=list(TREND_OF))
        rows = st.data_editor(
            [
                {
                    "name": c.name if c.name in names else None,
                    "op": c.op if c.op in ops else None,
                    "value": c.value,
                    **({"of": c.of} if form.scope == "trend" else {}),
                }
                for c in form.conditions
            ]
            or [{"name": None, "op": None, "value": ""}],
            num_rows="dynamic",
            key=f"rules_conditions_{form.scope}",
            hide_index=True,
            column_config=columns,
        )
        form.conditions = [
            Leaf(r["name"], r["op"] or ops[0], r.get("value") or "", r.get("of") or "value")
            for r in rows
            if r.get("name")
        ]
        st.markdown(f"**{t('rules.routing')}**")
        cols = st.columns(2)
        form.inapp = cols[0].checkbox(t("rules.notify.inapp"), value=form.inapp, key="rules_inapp")
        form.email = cols[1].checkbox(t("rules.notify.email"), value=form.email, key="rules_email")
        hooks = st.data_editor(
            [{"method": m, "url": u} for m, u in form.webhooks] or [{"method": None, "url": ""}],
            num_rows="dynamic",
            key="rules_webhooks",
            hide_index=True,
            column_config={
                "method": st.column_config.SelectboxColumn(t("rules.col.method"), options=list(WEBHOOKS)),
                "url": st.column_config.TextColumn(t("rules.col.url"), max_chars=500),
            },
        )
        form.webhooks = [(h["method"], h.get("url") or "") for h in hooks if h.get("method")]
        owner_rows = st.data_editor(
            [{"kind": k, "value": v} for k, v in form.owners] or [{"kind": "touchpoint_owner", "value": ""}],
            num_rows="dynamic",
            key="rules_owners",
            hide_index=True,
            column_config={
                "kind": st.column_config.SelectboxColumn(t("rules.col.owner_kind"), options=list(OWNER_KINDS)),
                "value": st.column_config.SelectboxColumn(t("rules.col.owner"), options=["", *usernames, *teams]),
            },
        )
        form.owners = [(o["kind"], o.get("value") or "") for o in owner_rows if o.get("kind")]
        st.markdown(f"**{t('rules.escalation')}**")
        steps = st.data_editor(
            [{"after": a, "kind": k, "value": v} for a, k, v in form.steps]
            or [{"after": "", "kind": None, "value": ""}],
            num_rows="dynamic",
            key="rules_steps",
            hide_index=True,
            column_config={
                "after": st.column_config.TextColumn(t("rules.col.after"), help=t("rules.duration_help")),
                "kind": st.column_config.SelectboxColumn(t("rules.col.owner_kind"), options=list(OWNER_KINDS)),
                "value": st.column_config.SelectboxColumn(t("rules.col.owner"), options=["", *usernames, *teams]),
            },
        )
        form.steps = [(s.get("after") or "", s["kind"], s.get("value") or "") for s in steps if s.get("kind")]
        cols = st.columns(3)
        form.repeat = int(cols[0].number_input(t("rules.repeat"), 0, 20, form.repeat, key="rules_repeat"))
        form.ack_within = cols[1].text_input(
            t("rules.ack_within"), value=form.ack_within, key="rules_ack", help=t("rules.duration_help")
        )
        form.cooldown = cols[2].text_input(
            t("rules.cooldown"), value=form.cooldown, key="rules_cooldown", help=t("rules.cooldown_help")
        )
        form.business_hours = st.toggle(t("rules.business_hours"), value=form.business_hours, key="rules_bh")
        if form.business_hours:
            cols = st.columns([3, 1, 1])
            form.days = cols[0].multiselect(
                t("rules.days"), DAYS, default=form.days, format_func=lambda d: t(f"rules.day.{d}"), key="rules_days"
            )
            form.start = cols[1].text_input(t("rules.start"), value=form.start, key="rules_start")
            form.end = cols[2].text_input(t("rules.end"), value=form.end, key="rules_end")
        state["rules_form"] = form
        document = document_from_form(form)

problems = rule_problems(document) if document else [t("rules.yaml_empty")]
with preview:
    st.markdown(f"**{t('rules.check')}**")
    if problems:
        st.warning(t("rules.problems", count=len(problems)), icon=":material/warning:")
        for problem in problems:
            st.text(problem)
    else:
        st.success(t("rules.valid"), icon=":material/check_circle:")
    days = st.slider(t("rules.backtest_days"), 7, MAX_DAYS, 30, key="rules_backtest_days")
    if st.button(t("rules.backtest"), icon=":material/history:", disabled=bool(problems), key="rules_backtest_run"):
        with st.spinner(t("rules.backtesting")):
            try:
                with transaction(ctx.engine) as session:
                    state["rules_backtest"] = backtest_rule(
                        session, principal, document, days=days, now=utcnow(), timezone=ctx.settings.timezone
                    )
            except CxError as exc:
                st.error(md_escape(exc))
    result = state.get("rules_backtest")
    if result is not None:
        st.metric(t("rules.backtest_fired", days=result.days), fmt_count(result.fired))
        st.caption(t("rules.backtest_per_day", value=f"{result.per_day_average:.1f}"))
        figure = go.Figure(go.Bar(x=[d for d, _c in result.per_day], y=[c for _d, c in result.per_day]))
        figure.update_layout(height=220, showlegend=False)
        st.plotly_chart(figure, width="stretch")
        if result.examples:
            st.dataframe(
                {
                    t("rules.ex.when"): [
                        e["fired_at"].astimezone(ctx.settings.tz).strftime("%Y-%m-%d %H:%M") for e in result.examples
                    ],
                    t("rules.ex.entity"): [e["entity"] for e in result.examples],
                    t("rules.ex.metrics"): [
                        ", ".join(f"{k}={v}" for k, v in e["metrics"].items()) for e in result.examples
                    ],
                },
                hide_index=True,
            )
        else:
            st.info(t("rules.backtest_none"))
    if can_edit:
        save = st.button(
            t("rules.save"), type="primary", icon=":material/save:", disabled=bool(problems), key="rules_save"
        )
        if save:
            try:
                with transaction(ctx.engine) as session:
                    saved = rulebook.save_rule(
                        session,
                        principal,
                        document,
                        rule_id=editing,
                        expected_version=state.get("rules_version") if editing else None,
                    )
                state["rules_editing"], state["rules_version"] = saved.id, saved.version
                st.success(t("rules.saved", name=md_escape(saved.name), version=saved.version), icon=":material/check:")
            except RuleConfigError as exc:
                for problem in exc.problems or [str(exc)]:
                    st.error(md_escape(problem))
            except CxError as exc:
                st.error(md_escape(exc))
        if editing and st.button(t("rules.delete"), icon=":material/delete:", key="rules_delete"):
            try:
                with transaction(ctx.engine) as session:
                    rulebook.delete_rule(session, principal, editing)
                state.pop("rules_form", None)
                state.pop("rules_editing", None)
                st.rerun()
            except CxError as exc:
                st.error(md_escape(exc))
