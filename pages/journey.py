"""Journey map: stages with touchpoint cards by health, observed journeys, collaborative editing, history."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import plotly.graph_objects as go
import streamlit as st
import yaml

from alerts.visibility import visible_filter
from cx import journey as jm
from cx import journey_view as jv
from cx import paths
from cx.access import DEPARTMENTS, Principal
from cx.db import transaction
from cx.errors import CxError, PermissionDenied, ValidationError
from cx.journey_rules import OPS, RULE_FIELDS, describe, parse_rule
from cx.kpi import KPIS
from cx.schema import CHANNELS
from ui.charts import SERIES_COLOURS, STATUS_COLOURS, status_label
from ui.filters import filter_bar
from ui.format import fmt_count, fmt_duration, fmt_pct, fmt_score
from ui.guard import page_context
from ui.i18n import current_language, t
from ui.safe import md_escape

KEY = jm.DEFAULT_KEY
RULE_LABELLED = ("channel", "kind", "text", "direction", "team", "source", "nps", "csat", "ces")
BADGE_COLOURS = {"good": "green", "watch": "orange", "bad": "red", "neutral": "gray"}
TREND_SYMBOL = {"up": "↑", "down": "↓", "flat": "→"}
STATE_BASE, STATE_PENDING, STATE_CONFLICT, STATE_FLASH = "jm_base", "jm_pending", "jm_conflict", "jm_flash"

ctx = page_context("journey")
principal = ctx.principal
language = current_language()
can_edit = principal.can("journey.edit")

try:
    with transaction(ctx.engine) as session:
        journey = jm.open_default_journey(session, principal)
except CxError as exc:  # e.g. a stored map that no longer validates: say so instead of a traceback
    st.error(f"{t('journey.load_failed')}\n\n{md_escape(exc)}", icon=":material/error:")
    st.stop()

st.title(t("journey.title"))
st.caption(md_escape(journey.name(language)))


def stage_label(key: str) -> str:
    return next((s.name(language) for s in journey.stages if s.key == key), key)


def tp_label(key: str) -> str:
    return next((tp.name(language) for tp in journey.touchpoints if tp.key == key), key)


def step_label(by: str, key: str) -> str:
    if key == paths.END:
        return t("journey.paths.end")
    if by == "stage":
        return stage_label(key)
    if by == "channel":
        return t(f"channel.{key}")
    if by == "touchpoint_channel" and "·" in key:
        tp, channel = key.split("·", 1)
        return f"{tp_label(tp)} · {t(f'channel.{channel}')}"
    return tp_label(key)


def fmt_kpi(key: str, value: float | None) -> str:
    unit = KPIS[key].unit if key in KPIS else "score"
    if unit == "percent":
        return fmt_pct(value)
    if unit == "seconds":
        return fmt_duration(value)
    if unit == "count":
        return fmt_count(value)
    return fmt_score(value)


def rule_words(rule: Any) -> str:
    """A mapping rule in words of the current language."""
    words = {w: t(f"journey.rule.{w}") for w in ("and", "or", "is_null", "not_null", "in", "not_in", "contains_any")}
    return describe(rule, lambda f: t(f"journey.rule.field.{f}") if f in RULE_LABELLED else f, words)


def kpi_name(key: str) -> str:
    return t(KPIS[key].name_key) if key in KPIS else key


filters = filter_bar(
    ctx.settings.timezone,
    stages=[(s.key, s.name(language)) for s in journey.stages],
    touchpoints=[(tp.key, tp.name(language)) for tp in journey.touchpoints],
    key="journey_filters",
)

tab_labels = [t("journey.tab.map"), t("journey.tab.observed")]
if can_edit:
    tab_labels.append(t("journey.tab.edit"))
tab_labels.append(t("journey.tab.history"))
tabs = dict(zip(tab_labels, st.tabs(tab_labels, key="jm_tabs", on_change="rerun"), strict=True))


# --------------------------------------------------------------------------------------------- map


def render_card(tp: jm.TouchpointModel, card: jv.TouchpointCard) -> None:
    with st.container(border=True, key=f"jm_card_{tp.key}"):
        st.markdown(f"**{md_escape(tp.name(language))}**")
        if card.volume or any(r.value is not None for r in card.kpis):
            st.badge(status_label(card.health), color=BADGE_COLOURS[card.health])  # type: ignore[arg-type]
        else:
            st.badge(f"○ {t('journey.card.no_data')}", color="gray")
        headline = card.headline
        trend = ""
        if headline is not None and headline.trend is not None:
            word = {True: t("journey.trend.better"), False: t("journey.trend.worse"), None: t("journey.trend.same")}
            trend = f" · {kpi_name(headline.key)} {TREND_SYMBOL[headline.trend]} {word[headline.improved]}"
        st.caption(t("journey.card.volume", volume=fmt_count(card.volume)) + trend)
        lines = []
        for reading in card.kpis:
            target = f" / {fmt_kpi(reading.key, reading.target)}" if reading.target is not None else ""
            symbol = status_label(reading.status).split(" ")[0]
            lines.append(f"{symbol} {kpi_name(reading.key)}: {fmt_kpi(reading.key, reading.value)}{target}")
        st.text("\n".join(lines))
        alerts_text = t("journey.card.alerts", count=card.open_alerts)
        st.caption(("🔔 " if card.open_alerts else "") + alerts_text)
        if st.button(t("journey.card.open"), key=f"jm_open_{tp.key}", icon=":material/open_in_full:"):
            with transaction(ctx.engine) as session:
                jv.record_detail_view(session, principal, tp.key)
            detail_dialog(tp.key)


def card_styles(cards: dict[str, jv.TouchpointCard]) -> None:
    """Colour each card's left edge by its health (static CSS built from validated keys and the palette only)."""
    rules = "".join(
        f".st-key-jm_card_{key} {{border-left: 6px solid {STATUS_COLOURS[card.health]} !important;}}"
        for key, card in cards.items()
    )
    st.html(f"<style>{rules}</style>")


@st.dialog(t("journey.detail.dialog"), width="large")
def detail_dialog(tp_key: str) -> None:
    """The touchpoint's detail in a dialog over the map (a click on a card opens it)."""
    render_detail(tp_key)


def render_detail(tp_key: str) -> None:
    tp = journey.touchpoint(tp_key)
    st.subheader(t("journey.detail.title", name=md_escape(tp.name(language))), anchor=False)
    with transaction(ctx.engine) as session:
        owners = jv.user_names(session, principal, [tp.owner_user_id])
        series = jv.touchpoint_series(
            session, principal, tp.key, tp.kpis, filters.start, filters.end, channels=filters.channels
        )
        texts = jv.complaint_texts(session, principal, tp.key, filters.start, filters.end, ctx.settings.timezone)
        topics = jv.complaint_topics(session, principal, texts, tp, filters, ctx.settings.timezone)
        quotes = jv.verbatims(texts, principal)
        alerts = jv.touchpoint_alerts(session, principal, tp.key, visible_filter(principal))
    department = t(f"dept.{tp.owner_department}") if tp.owner_department else t("journey.detail.no_owner")
    person = owners.get(tp.owner_user_id) if tp.owner_user_id else None
    st.caption(
        t("journey.detail.owner", department=department, person=md_escape(person) if person else "–")
        + " · "
        + t("journey.detail.channels", channels=", ".join(t(f"channel.{c}") for c in tp.channels) or "–")
    )
    st.caption(t("journey.detail.rule", rule=md_escape(rule_words(tp.rule))))
    left, right = st.columns(2)
    with left:
        st.markdown(f"##### {t('journey.detail.over_time')}")
        shown = [k for k in tp.kpis if k in series.columns]
        if series.is_empty() or not shown:
            st.info(t("empty.no_data_period"))
        else:
            chosen = (
                st.segmented_control(
                    t("journey.detail.kpi"), shown, default=shown[0], format_func=kpi_name, key="jm_detail_kpi"
                )
                or shown[0]
            )
            figure = go.Figure(
                go.Scatter(
                    x=series["period"].to_list(),
                    y=series[chosen].to_list(),
                    mode="lines+markers",
                    name=kpi_name(chosen),
                )
            )
            target = tp.targets.get(chosen)
            if target is not None:
                figure.add_hline(y=target, line_dash="dash", annotation_text=t("journey.detail.target"))
            figure.update_layout(height=280, title=kpi_name(chosen))
            st.plotly_chart(figure, width="stretch")
    with right:
        st.markdown(f"##### {t('journey.detail.topics')}")
        if topics.is_empty():
            st.info(t("journey.detail.no_complaints"))
        else:
            bars = go.Figure(go.Bar(x=topics["complaints"].to_list(), y=topics["topic"].to_list(), orientation="h"))
            bars.update_layout(height=280, yaxis={"autorange": "reversed"})
            st.plotly_chart(bars, width="stretch")
    st.markdown(f"##### {t('journey.detail.verbatims')}")
    if not quotes:
        st.info(t("journey.detail.no_complaints"))
    else:
        st.dataframe(
            [
                {
                    t("journey.col.when"): q.occurred_at.astimezone(ctx.settings.tz).strftime("%Y-%m-%d %H:%M"),
                    t("journey.col.channel"): t(f"channel.{q.channel}") if q.channel else "–",
                    t("journey.col.text"): q.text,
                }
                for q in quotes
            ],
            hide_index=True,
            width="stretch",
        )
    st.markdown(f"##### {t('journey.detail.alerts')}")
    if not alerts:
        st.info(t("journey.detail.no_alerts"))
    else:
        st.dataframe(
            [
                {
                    "#": a.id,
                    t("journey.col.level"): a.level,
                    t("journey.col.title"): a.title,
                    t("journey.col.status"): a.status,
                    t("journey.col.owner"): a.owner or "–",
                }
                for a in alerts
            ],
            hide_index=True,
            width="stretch",
        )


with tabs[t("journey.tab.map")]:
    if tabs[t("journey.tab.map")].open:
        with transaction(ctx.engine) as session:
            cards = jv.touchpoint_cards(
                session,
                principal,
                journey,
                filters.start,
                filters.end,
                channels=filters.channels,
                segments=filters.segments,
            )
            reach = jv.stage_customers(
                session, principal, filters.start, filters.end, ctx.settings.timezone, channels=filters.channels
            )
            customers = jv.customers_in_period(session, principal, filters.start, filters.end, ctx.settings.timezone)
        if not any(card.volume for card in cards.values()):
            st.info(t("journey.map.empty"), icon=":material/info:")
        st.caption(t("journey.map.legend"))
        card_styles(cards)
        stages = [s for s in journey.stages if not filters.stages or s.key in filters.stages]
        for column, stage in zip(st.columns(max(len(stages), 1)), stages, strict=False):
            with column:
                st.markdown(f"**{md_escape(stage.name(language))}**")
                reached = reach.get(stage.key, 0)
                share = reached / customers if customers else 0.0
                st.progress(
                    min(share, 1.0),
                    text=t("journey.map.reach", customers=fmt_count(reached), share=fmt_pct(100 * share, 0)),
                )
                shown = [tp for tp in stage.touchpoints if not filters.touchpoints or tp.key in filters.touchpoints]
                if not shown:
                    st.caption(t("journey.map.no_touchpoints"))
                for tp in shown:
                    render_card(tp, cards[tp.key])


# --------------------------------------------------------------------------------------------- observed journeys


@st.cache_data(ttl=300, show_spinner=False)
def observed(
    database_url: str,
    role: str,
    _principal: Principal,
    stage_order: tuple[str, ...],
    chosen: paths.PathFilter,
    by: str,
    top_n: int,
    min_steps: int,
    stamp: tuple,
) -> paths.ObservedJourneys:
    """Observed journeys of one filter, cached per store, role (what cx.access decides on), map version and latest
    load (``stamp``); the service checks ``journey.view`` for the principal."""
    with transaction(ctx.engine) as session:
        return paths.observe_stored(session, _principal, stage_order, chosen, by=by, top_n=top_n, min_steps=min_steps)


def render_observed() -> None:
    c1, c2, c3, c4 = st.columns([2, 2, 1, 1.4])
    by = c1.segmented_control(
        t("journey.paths.by"), ["touchpoint", "stage", "channel"], default="touchpoint",
        format_func=lambda b: t(f"journey.paths.by.{b}"), key="jm_paths_by",
    ) or "touchpoint"  # fmt: skip
    outcome = c2.selectbox(
        t("journey.paths.outcome"), paths.OUTCOMES, format_func=lambda o: t(f"journey.outcome.{o}"), key="jm_outcome"
    )
    top_n = c3.number_input(t("journey.paths.top_n"), min_value=3, max_value=30, value=10, key="jm_top_n")
    several = c4.toggle(t("journey.paths.several_steps"), key="jm_several", help=t("journey.paths.several_steps_help"))
    chosen = paths.PathFilter(
        start=filters.start,
        end=filters.end,
        timezone=ctx.settings.timezone,
        outcome=outcome,
        segments=filters.segments,
        channels=filters.channels,
        stages=filters.stages,
        touchpoints=filters.touchpoints,
    )
    with st.spinner(t("journey.paths.computing")):
        with transaction(ctx.engine) as session:
            stamp = (journey.version, jv.data_stamp(session, principal))
        result = observed(
            ctx.settings.database_url,
            principal.role.value,
            principal,
            tuple(journey.stage_order()),
            chosen,
            by,
            int(top_n),
            2 if several else 1,
            stamp,
        )
    if result.customers == 0 or result.sankey.empty:
        st.info(t("journey.paths.empty"), icon=":material/info:")
        return
    m1, m2, m3 = st.columns(3)
    m1.metric(t("journey.paths.customers"), fmt_count(result.customers))
    m2.metric(t("journey.paths.interactions"), fmt_count(result.interactions))
    overall = result.times.row(0, named=True) if not result.times.is_empty() else None
    m3.metric(t("journey.paths.median_gap"), fmt_duration(overall["median_s"]) if overall else "–")
    sankey = result.sankey
    labels = [step_label(by, s) for s in sankey.steps]
    palette = {step: SERIES_COLOURS[i % len(SERIES_COLOURS)] for i, step in enumerate(sorted(set(sankey.steps)))}
    colours = [STATUS_COLOURS["neutral"] if s == paths.END else palette[s] for s in sankey.steps]
    figure = go.Figure(
        go.Sankey(
            node={"label": labels, "pad": 14, "thickness": 14, "color": colours},
            link={"source": sankey.sources, "target": sankey.targets, "value": sankey.values},
        )
    )
    figure.update_layout(
        height=460,
        title=t(
            "journey.paths.sankey_title", shown=fmt_count(sankey.customers), total=fmt_count(sankey.total_customers)
        ),
    )
    st.plotly_chart(figure, width="stretch")
    st.caption(t("journey.paths.collapsed_note"))
    st.markdown(f"##### {t('journey.paths.top')}")
    st.dataframe(
        [
            {
                t("journey.col.path"): " → ".join(step_label(by, s) for s in row["path"])
                + ("" if row["complete"] else " → …"),
                t("journey.col.customers"): row["customers"],
                t("journey.col.share"): 100 * row["share"],
            }
            for row in result.paths.iter_rows(named=True)
        ],
        column_config={
            t("journey.col.share"): st.column_config.ProgressColumn(format="%.1f %%", min_value=0, max_value=100)
        },
        hide_index=True,
        width="stretch",
    )
    left, right = st.columns(2)
    with left:
        st.markdown(f"##### {t('journey.paths.reach')}")
        st.dataframe(
            [
                {
                    t("journey.col.stage"): stage_label(row["stage"]),
                    t("journey.col.customers"): row["customers"],
                    t("journey.col.continued"): row["continued"],
                    t("journey.col.drop_off"): None if row["drop_off_rate"] is None else 100 * row["drop_off_rate"],
                }
                for row in result.reach.iter_rows(named=True)
            ],
            column_config={
                t("journey.col.drop_off"): st.column_config.ProgressColumn(format="%.1f %%", min_value=0, max_value=100)
            },
            hide_index=True,
            width="stretch",
        )
    with right:
        st.markdown(f"##### {t('journey.paths.switches')}")
        if result.switches.is_empty():
            st.info(t("journey.paths.no_switches"))
        else:
            st.dataframe(
                [
                    {
                        t("journey.col.switch"): step_label("channel", r["from_channel"])
                        + " → "
                        + step_label("channel", r["to_channel"]),
                        t("journey.col.switches"): r["switches"],
                        t("journey.col.customers"): r["customers"],
                        t("journey.col.median_gap"): fmt_duration(r["median_gap_s"]),
                    }
                    for r in result.switches.iter_rows(named=True)
                ],
                hide_index=True,
                width="stretch",
            )
    st.markdown(f"##### {t('journey.paths.times')}")
    st.dataframe(
        [
            {
                t("journey.col.from"): t("journey.paths.all_steps")
                if r["from_step"] == "*"
                else step_label(by, r["from_step"]),
                t("journey.col.to"): "" if r["to_step"] == "*" else step_label(by, r["to_step"]),
                t("journey.col.transitions"): r["transitions"],
                t("journey.col.median"): fmt_duration(r["median_s"]),
                t("journey.col.p90"): fmt_duration(r["p90_s"]),
            }
            for r in result.times.iter_rows(named=True)
        ],
        hide_index=True,
        width="stretch",
    )


with tabs[t("journey.tab.observed")]:
    if tabs[t("journey.tab.observed")].open:
        render_observed()


# --------------------------------------------------------------------------------------------- edit


def describe_change(change: jm.JourneyChange) -> str:
    if change.names:
        name = change.names[1] if language == "zh" else change.names[0]
    else:
        name = {"stage": stage_label, "touchpoint": tp_label}.get(change.object, lambda _k: journey.name(language))(
            change.key
        )
    what = f"{t(f'journey.object.{change.object}')} {name}"
    if change.kind == "changed":

        def short(value: Any) -> str:
            if value in (None, "", [], {}):
                return "–"
            if change.field == "owner_department":
                return t(f"dept.{value}")
            text = json.dumps(value, ensure_ascii=False) if isinstance(value, dict | list) else str(value)
            return text if len(text) <= 60 else text[:57] + "…"

        return t(
            "journey.change.changed",
            what=what,
            field=t(f"journey.field.{change.field}"),
            old=short(change.old),
            new=short(change.new),
        )
    if change.kind == "moved":

        def place(value: Any) -> str:
            return f"{stage_label(value[0])} #{value[1]}" if isinstance(value, tuple) else f"#{value}"

        return t("journey.change.moved", what=what, old=place(change.old), new=place(change.new))
    return t(f"journey.change.{change.kind}", what=what)


def save(
    form: str,
    values: dict[str, Any],
    build: Callable[[jm.JourneyModel], tuple[jm.JourneyModel, str]],
    initial: dict[str, Any] | None = None,
) -> None:
    """Apply ``build`` to the version this editor is based on and save it, refusing it if that version is stale.

    On a conflict only the fields the user changed (``values`` differing from ``initial``) are kept as pending
    input, so re-applying them onto the newer version never reverts what someone else changed meanwhile.
    """
    base = st.session_state[STATE_BASE]
    try:
        with transaction(ctx.engine) as session:
            based_on = jm.journey_at_version(session, principal, KEY, base)
            edited, summary = build(based_on)
            saved = jm.replace_journey(session, principal, KEY, base, edited, summary, op=form)
    except jm.JourneyConflictError as exc:
        st.session_state[STATE_PENDING][form] = {
            k: v for k, v in values.items() if initial is None or v != initial.get(k)
        }
        st.session_state[STATE_CONFLICT] = {
            "expected": exc.expected_version,
            "current": exc.current_version,
            "since": [(v.version, v.changed_by_name, v.changed_at, v.summary) for v in exc.since],
            "changes": exc.changes,
        }
        with transaction(ctx.engine) as session:
            jm.record_refused_edit(session, principal, KEY, "conflict", form)
        st.rerun()  # show the conflict above the forms; the forms keep what the user typed
    except jm.NothingChangedError:
        st.info(t("journey.edit.nothing_changed"))
        return
    except (ValidationError, PermissionDenied) as exc:
        problems = getattr(exc, "problems", []) or [str(exc)]
        st.error(t("journey.edit.invalid") + "\n\n" + "\n".join(f"- {md_escape(p)}" for p in problems))
        return
    st.session_state[STATE_PENDING].pop(form, None)
    st.session_state[STATE_BASE] = saved.version
    st.session_state.pop(STATE_CONFLICT, None)
    st.session_state[STATE_FLASH] = t("journey.edit.saved", version=saved.version)
    st.cache_data.clear()
    st.rerun()


def pending(form: str) -> dict[str, Any]:
    return st.session_state[STATE_PENDING].get(form, {})


def render_conflict(current_version: int) -> None:
    conflict = st.session_state.get(STATE_CONFLICT)
    if not conflict:
        return
    who = ", ".join(sorted({name or "system" for _v, name, _at, _s in conflict["since"]})) or "–"
    lines = [
        t("journey.conflict.message", expected=conflict["expected"], current=conflict["current"], who=md_escape(who))
    ]
    for version, name, at, _summary in conflict["since"]:
        when = at.astimezone(ctx.settings.tz).strftime("%Y-%m-%d %H:%M")
        lines.append(f"- {t('journey.conflict.version', version=version, who=md_escape(name or 'system'), when=when)}")
    for change in conflict["changes"][:15]:
        lines.append(f"- {md_escape(describe_change(change))}")
    lines.append(t("journey.conflict.kept"))
    st.error("\n".join(lines), icon=":material/sync_problem:")
    if st.button(t("journey.conflict.reload", version=current_version), key="jm_reload", type="primary"):
        st.session_state[STATE_BASE] = current_version
        st.session_state.pop(STATE_CONFLICT, None)
        st.rerun()


def render_edit() -> None:
    st.session_state.setdefault(STATE_PENDING, {})
    if STATE_BASE not in st.session_state:
        st.session_state[STATE_BASE] = journey.version
    base = st.session_state[STATE_BASE]
    flash = st.session_state.pop(STATE_FLASH, None)
    if flash:
        st.success(flash, icon=":material/check_circle:")
    with transaction(ctx.engine) as session:
        draft = jm.journey_at_version(session, principal, KEY, base)
        owners = jv.assignable_owners(session, principal)
    editor = md_escape(journey.updated_by_name or "system")
    when = journey.updated_at.astimezone(ctx.settings.tz).strftime("%Y-%m-%d %H:%M") if journey.updated_at else "–"
    st.caption(t("journey.edit.version", version=base, editor=editor, when=when))
    render_conflict(journey.version)
    if base < journey.version and not st.session_state.get(STATE_CONFLICT):
        st.warning(t("journey.edit.newer", version=journey.version), icon=":material/update:")
        if st.button(t("journey.edit.load_newer"), key="jm_load_newer"):
            st.session_state[STATE_BASE] = journey.version
            st.rerun()
    stage_keys = [s.key for s in draft.stages]
    draft_stage_label = {s.key: s.name(language) for s in draft.stages}

    # ---- touchpoints
    st.subheader(t("journey.edit.touchpoints"))
    tp_keys = [tp.key for tp in draft.touchpoints]
    tp_names = {tp.key: tp.name(language) for tp in draft.touchpoints}
    if tp_keys:
        chosen = st.selectbox(
            t("journey.edit.pick_touchpoint"), tp_keys, format_func=lambda k: tp_names[k], key="jm_edit_tp"
        )
        render_touchpoint_form(draft, chosen, base, stage_keys, draft_stage_label, owners)
    with st.expander(t("journey.edit.add_touchpoint"), icon=":material/add:"):
        render_add_touchpoint(base, stage_keys, draft_stage_label)

    # ---- stages
    st.subheader(t("journey.edit.stages"))
    chosen_stage = st.selectbox(
        t("journey.edit.pick_stage"), stage_keys, format_func=lambda k: draft_stage_label[k], key="jm_edit_stage"
    )
    if chosen_stage:
        render_stage_form(draft, chosen_stage, base)
    with st.expander(t("journey.edit.add_stage"), icon=":material/add:"):
        render_add_stage(base, len(stage_keys))

    # ---- journey name
    with st.expander(t("journey.edit.journey_name")):
        form = "rename_journey"
        initial = {"name_en": draft.name_en, "name_zh": draft.name_zh}
        values = {**initial, **pending(form)}
        with st.form(f"jm_form_{form}_{base}"):
            name_en = st.text_input(t("journey.edit.name_en"), value=values["name_en"], key=f"jm_{form}_en_{base}")
            name_zh = st.text_input(t("journey.edit.name_zh"), value=values["name_zh"], key=f"jm_{form}_zh_{base}")
            if st.form_submit_button(t("journey.edit.save"), type="primary"):
                save(form, {"name_en": name_en, "name_zh": name_zh},
                     lambda j: (jm.edit_rename_journey(j, name_en, name_zh), "Renamed the journey"), initial)  # fmt: skip


def render_touchpoint_form(
    draft: jm.JourneyModel,
    key: str,
    base: int,
    stage_keys: list[str],
    stage_names: dict[str, str],
    owners: dict[int, str],
) -> None:
    tp = draft.touchpoint(key)
    form = f"touchpoint_{key}"
    current_stage = draft.stage_of()[key]
    initial = {
        "name_en": tp.name_en, "name_zh": tp.name_zh, "stage": current_stage,
        "position": [x.key for x in draft.stage(current_stage).touchpoints].index(key) + 1,
        "owner_department": tp.owner_department or "", "owner_user_id": tp.owner_user_id or 0,
        "channels": list(tp.channels), "kpis": list(tp.kpis),
        "targets": yaml.safe_dump(dict(tp.targets), sort_keys=False) if tp.targets else "",
        "rule": yaml.safe_dump(tp.rule.to_dict(), allow_unicode=True, sort_keys=False) if tp.rule else "",
    }  # fmt: skip
    values = {**initial, **pending(form)}
    with st.form(f"jm_form_{form}_{base}"):
        c1, c2 = st.columns(2)
        name_en = c1.text_input(t("journey.edit.name_en"), value=values["name_en"], key=f"jm_{form}_en_{base}")
        name_zh = c2.text_input(t("journey.edit.name_zh"), value=values["name_zh"], key=f"jm_{form}_zh_{base}")
        c3, c4 = st.columns(2)
        stage = c3.selectbox(
            t("journey.edit.stage"), stage_keys, index=stage_keys.index(values["stage"]) if values["stage"] in stage_keys else 0,
            format_func=lambda k: stage_names[k], key=f"jm_{form}_stage_{base}",
        )  # fmt: skip
        position = c4.number_input(
            t("journey.edit.position"), min_value=1, max_value=50,
            value=int(values["position"]),
            key=f"jm_{form}_pos_{base}",
        )  # fmt: skip
        c5, c6 = st.columns(2)
        departments = ["", *DEPARTMENTS]
        department = c5.selectbox(
            t("journey.edit.owner_department"), departments,
            index=departments.index(values["owner_department"]),
            format_func=lambda d: t(f"dept.{d}") if d else "–", key=f"jm_{form}_dept_{base}",
        )  # fmt: skip
        people = [0, *owners]
        owner_default = values["owner_user_id"]
        owner = c6.selectbox(
            t("journey.edit.owner_person"), people, index=people.index(owner_default) if owner_default in people else 0,
            format_func=lambda u: owners.get(u, "–"), key=f"jm_{form}_owner_{base}",
        )  # fmt: skip
        channels = st.multiselect(
            t("journey.edit.channels"), CHANNELS, default=values["channels"],
            format_func=lambda c: t(f"channel.{c}"), key=f"jm_{form}_channels_{base}",
        )  # fmt: skip
        kpis = st.multiselect(
            t("journey.edit.kpis"), list(KPIS), default=values["kpis"], format_func=kpi_name,
            key=f"jm_{form}_kpis_{base}",
        )  # fmt: skip
        targets_text = st.text_area(
            t("journey.edit.targets"), value=values["targets"],
            help=t("journey.edit.targets_help"), key=f"jm_{form}_targets_{base}",
        )  # fmt: skip
        rule_text = st.text_area(
            t("journey.edit.rule"),
            value=values["rule"],
            height=160, help=t("journey.edit.rule_help", fields=", ".join(RULE_FIELDS), ops=", ".join(OPS)),
            key=f"jm_{form}_rule_{base}",
        )  # fmt: skip
        b1, b2 = st.columns(2)
        preview = b1.form_submit_button(t("journey.edit.preview"), icon=":material/preview:")
        submitted = b2.form_submit_button(t("journey.edit.save"), type="primary", icon=":material/save:")
    entered = {
        "name_en": name_en, "name_zh": name_zh, "stage": stage, "position": int(position),
        "owner_department": department, "owner_user_id": owner, "channels": channels, "kpis": kpis,
        "targets": targets_text, "rule": rule_text,
    }  # fmt: skip
    if preview:
        render_preview(rule_text)
    if submitted:
        try:
            rule = parse_rule(yaml.safe_load(rule_text)) if rule_text.strip() else None
            targets = yaml.safe_load(targets_text) if targets_text.strip() else {}
            if not isinstance(targets, dict):
                raise ValidationError(t("journey.edit.targets_invalid"))
        except (ValidationError, yaml.YAMLError) as exc:
            problems = getattr(exc, "problems", []) or [str(exc)]
            st.error(t("journey.edit.invalid") + "\n\n" + "\n".join(f"- {md_escape(p)}" for p in problems))
            return

        def build(j: jm.JourneyModel) -> tuple[jm.JourneyModel, str]:
            edited = jm.edit_update_touchpoint(
                j, key, name_en=name_en, name_zh=name_zh, owner_department=department or None,
                owner_user_id=owner or None, channels=channels, kpis=kpis, targets=targets, rule=rule,
            )  # fmt: skip
            edited = jm.edit_move_touchpoint(edited, key, stage, int(position) - 1)
            return edited, f"Changed touchpoint {key}"

        save(form, entered, build, initial)
    if st.button(t("journey.edit.delete_touchpoint"), key=f"jm_delete_{key}_{base}", icon=":material/delete:"):
        save(f"delete_{key}", {}, lambda j: (jm.edit_delete_touchpoint(j, key), f"Deleted touchpoint {key}"))


def render_preview(rule_text: str) -> None:
    try:
        rule = parse_rule(yaml.safe_load(rule_text))
    except (ValidationError, yaml.YAMLError) as exc:
        problems = getattr(exc, "problems", []) or [str(exc)]
        st.error(t("journey.edit.invalid") + "\n\n" + "\n".join(f"- {md_escape(p)}" for p in problems))
        return
    with transaction(ctx.engine) as session:
        result = jm.rule_preview(
            session, principal, rule, start=filters.start, end=filters.end, timezone=ctx.settings.timezone
        )
    st.info(
        t("journey.edit.preview_result", matched=fmt_count(result.matched), total=fmt_count(result.total),
          share=fmt_pct(100 * result.matched / result.total if result.total else None), rule=md_escape(rule_words(rule))),
        icon=":material/preview:",
    )  # fmt: skip


def render_add_touchpoint(base: int, stage_keys: list[str], stage_names: dict[str, str]) -> None:
    form = "add_touchpoint"
    values = pending(form)
    with st.form(f"jm_form_{form}_{base}"):
        key = st.text_input(
            t("journey.edit.key"),
            value=values.get("key", ""),
            help=t("journey.edit.key_help"),
            key=f"jm_{form}_key_{base}",
        )
        c1, c2 = st.columns(2)
        name_en = c1.text_input(t("journey.edit.name_en"), value=values.get("name_en", ""), key=f"jm_{form}_en_{base}")
        name_zh = c2.text_input(t("journey.edit.name_zh"), value=values.get("name_zh", ""), key=f"jm_{form}_zh_{base}")
        stage = st.selectbox(
            t("journey.edit.stage"), stage_keys, format_func=lambda k: stage_names[k], key=f"jm_{form}_stage_{base}"
        )
        department = st.selectbox(
            t("journey.edit.owner_department"), ["", *DEPARTMENTS], format_func=lambda d: t(f"dept.{d}") if d else "–",
            key=f"jm_{form}_dept_{base}",
        )  # fmt: skip
        rule_text = st.text_area(t("journey.edit.rule"), value=values.get("rule", ""), key=f"jm_{form}_rule_{base}")
        submitted = st.form_submit_button(t("journey.edit.add"), type="primary")
    if submitted:
        try:
            rule = parse_rule(yaml.safe_load(rule_text)) if rule_text.strip() else None
        except (ValidationError, yaml.YAMLError) as exc:
            st.error(t("journey.edit.invalid") + "\n\n" + md_escape(str(exc)))
            return
        touchpoint = jm.TouchpointModel(key.strip(), name_en, name_zh, department or None, rule=rule)
        save(form, {"key": key, "name_en": name_en, "name_zh": name_zh, "rule": rule_text},
             lambda j: (jm.edit_add_touchpoint(j, stage, touchpoint), f"Added touchpoint {key.strip()}"))  # fmt: skip


def render_stage_form(draft: jm.JourneyModel, key: str, base: int) -> None:
    stage = draft.stage(key)
    form = f"stage_{key}"
    initial = {"name_en": stage.name_en, "name_zh": stage.name_zh, "position": draft.stage_order().index(key) + 1}
    values = {**initial, **pending(form)}
    with st.form(f"jm_form_{form}_{base}"):
        c1, c2, c3 = st.columns([2, 2, 1])
        name_en = c1.text_input(t("journey.edit.name_en"), value=values["name_en"], key=f"jm_{form}_en_{base}")
        name_zh = c2.text_input(t("journey.edit.name_zh"), value=values["name_zh"], key=f"jm_{form}_zh_{base}")
        position = c3.number_input(
            t("journey.edit.position"), min_value=1, max_value=len(draft.stages),
            value=int(values["position"]), key=f"jm_{form}_pos_{base}",
        )  # fmt: skip
        submitted = st.form_submit_button(t("journey.edit.save"), type="primary")
    if submitted:

        def build(j: jm.JourneyModel) -> tuple[jm.JourneyModel, str]:
            edited = jm.edit_rename_stage(j, key, name_en, name_zh)
            return jm.edit_move_stage(edited, key, int(position) - 1), f"Changed stage {key}"

        save(form, {"name_en": name_en, "name_zh": name_zh, "position": int(position)}, build, initial)
    if st.button(t("journey.edit.delete_stage"), key=f"jm_delete_stage_{key}_{base}", icon=":material/delete:"):
        save(f"delete_stage_{key}", {}, lambda j: (jm.edit_delete_stage(j, key), f"Deleted stage {key}"))


def render_add_stage(base: int, count: int) -> None:
    form = "add_stage"
    values = pending(form)
    with st.form(f"jm_form_{form}_{base}"):
        key = st.text_input(
            t("journey.edit.key"),
            value=values.get("key", ""),
            help=t("journey.edit.key_help"),
            key=f"jm_{form}_key_{base}",
        )
        c1, c2, c3 = st.columns([2, 2, 1])
        name_en = c1.text_input(t("journey.edit.name_en"), value=values.get("name_en", ""), key=f"jm_{form}_en_{base}")
        name_zh = c2.text_input(t("journey.edit.name_zh"), value=values.get("name_zh", ""), key=f"jm_{form}_zh_{base}")
        position = c3.number_input(
            t("journey.edit.position"), min_value=1, max_value=count + 1, value=count + 1, key=f"jm_{form}_pos_{base}"
        )
        submitted = st.form_submit_button(t("journey.edit.add"), type="primary")
    if submitted:
        save(form, {"key": key, "name_en": name_en, "name_zh": name_zh},
             lambda j: (jm.edit_add_stage(j, key.strip(), name_en, name_zh, int(position) - 1), f"Added stage {key.strip()}"))  # fmt: skip


if can_edit:
    with tabs[t("journey.tab.edit")]:
        if tabs[t("journey.tab.edit")].open:
            try:
                render_edit()
            except CxError as exc:
                st.error(md_escape(str(exc)))


# --------------------------------------------------------------------------------------------- history


def restore(version: int, shown_version: int) -> None:
    """on_click of a restore button: restore ``version`` if the map is still at the version the button was shown for."""
    try:
        with transaction(ctx.engine) as session:
            saved = jm.restore_version(session, principal, KEY, version, expected_version=shown_version)
    except jm.JourneyConflictError as exc:
        st.session_state[STATE_FLASH + "_history"] = ("error", t("journey.history.stale", current=exc.current_version))
        return
    except CxError as exc:
        st.session_state[STATE_FLASH + "_history"] = ("error", md_escape(str(exc)))
        return
    st.session_state[STATE_BASE] = saved.version
    st.session_state.pop(STATE_CONFLICT, None)
    st.session_state[STATE_FLASH + "_history"] = (
        "success",
        t("journey.history.restored", version=version, new=saved.version),
    )
    st.cache_data.clear()


def summary_of(version: int, changes: list[jm.JourneyChange] | None) -> str:
    """What a version changed, in the current language (the first version: created from the default map)."""
    if version == 1 or changes is None:
        return t("journey.history.created") if version == 1 else "…"
    if not changes:
        return t("journey.history.no_change")
    shown = "; ".join(describe_change(c) for c in changes[:3])
    return shown + (t("journey.history.more", count=len(changes) - 3) if len(changes) > 3 else "")


def render_history() -> None:
    flash = st.session_state.pop(STATE_FLASH + "_history", None)
    if flash:
        (st.success if flash[0] == "success" else st.error)(flash[1])
    with transaction(ctx.engine) as session:
        history = jm.journey_history(session, principal, KEY)
        changed = jm.history_changes(session, principal, KEY)
    if not history:
        st.info(t("journey.history.empty"))
        return
    st.dataframe(
        [
            {
                t("journey.col.version"): h.version,
                t("journey.col.when"): h.changed_at.astimezone(ctx.settings.tz).strftime("%Y-%m-%d %H:%M"),
                t("journey.col.who"): h.changed_by_name or "system",
                t("journey.col.summary"): summary_of(h.version, changed.get(h.version)),
            }
            for h in history
        ],
        hide_index=True,
        width="stretch",
    )
    versions = [h.version for h in history]
    version = st.selectbox(t("journey.history.pick"), versions, key="jm_history_version")
    with transaction(ctx.engine) as session:
        old = jm.journey_at_version(session, principal, KEY, version)
    changes = jm.diff_journeys(old, journey)
    if version == journey.version:
        st.caption(t("journey.history.is_current"))
    elif not changes:
        st.caption(t("journey.history.same"))
    else:
        st.markdown(t("journey.history.diff", version=version, current=journey.version))
        st.text("\n".join(describe_change(c) for c in changes[:50]))
        if can_edit:
            st.button(
                t("journey.history.restore", version=version), key=f"jm_restore_{version}", type="primary",
                on_click=restore, args=(version, journey.version), icon=":material/restore:",
            )  # fmt: skip
    st.download_button(
        t("journey.history.download"),
        data=jm.journey_to_yaml(old).encode("utf-8"),
        file_name=f"journey-{KEY}-v{version}.yaml",
        mime="application/x-yaml",
        key="jm_download",
    )


with tabs[t("journey.tab.history")]:
    if tabs[t("journey.tab.history")].open:
        render_history()
