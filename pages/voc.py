"""Voice of the customer: what customers ask, suggest, praise and complain about, in their own words."""

from __future__ import annotations

import streamlit as st

from cx import voc
from cx import voc_dictionary as vd
from cx.access import sees_unmasked
from cx.db import transaction
from cx.errors import CxError
from cx.export import to_csv_bytes, to_excel_bytes
from cx.schema import CHANNELS
from ui import voc_data as vdata
from ui.filters import filter_bar
from ui.format import fmt_count
from ui.guard import page_context
from ui.i18n import current_language, t
from ui.safe import md_escape

ctx = page_context("voc")
principal = ctx.principal
timezone = ctx.settings.timezone
url = ctx.settings.database_url
language = current_language()
can_edit = principal.can("voc.edit_dictionary")
can_export = principal.can("data.export")
LABEL_OPTIONS = ["all", *voc.LABELS]

st.title(t("voc.title"))
st.caption(t("voc.caption"))
role = principal.role.value
stamp = vdata.stamp(url, role, principal)
names = vdata.labels(url, role, principal, language)
filters = filter_bar(
    timezone,
    stages=list(names.stages),
    touchpoints=list(names.touchpoints),
    segments=vdata.segments(url, stamp, role, principal),
    key="voc_filters",
)


def clear_caches() -> None:
    for loader in (vdata.stamp, vdata.has_insights, vdata.summary, vdata.top_terms, vdata.label_mix):
        loader.clear()
    for loader in (vdata.term_trend, vdata.trending, vdata.distinctive, vdata.faq, vdata.segments):
        loader.clear()


def show_verbatims(selection: voc.Selection, key: str, *, limit: int = 50) -> None:
    """The texts behind ``selection`` (masked for the role), paged, with an audited export."""
    page = int(st.number_input(t("voc.verbatims.page"), min_value=1, value=1, step=1, key=f"{key}_page"))
    with transaction(ctx.engine) as session:
        found = voc.verbatims(session, principal, filters, timezone, selection, limit=limit, offset=(page - 1) * limit)
        marker = repr((filters, selection, page))
        if found.total and st.session_state.get(f"{key}_audited") != marker:
            voc.record_view(session, principal, "voc.view_verbatims", filters, selection, len(found.rows))
            st.session_state[f"{key}_audited"] = marker
    if not found.total:
        st.info(t("voc.verbatims.none"), icon=":material/info:")
        return
    st.caption(t("voc.verbatims.count", shown=fmt_count(len(found.rows)), total=fmt_count(found.total)))
    st.dataframe(
        vdata.verbatim_display(found.rows, names, timezone),
        hide_index=True,
        column_config={
            t("voc.col.text"): st.column_config.TextColumn(width="large"),
            t("voc.col.confidence"): st.column_config.NumberColumn(format="%d %%"),
        },
        key=f"{key}_table",
    )
    if not all(sees_unmasked(principal.role, field) for field in ("name", "phone", "email")):
        st.caption(t("voc.verbatims.masked"))
    if can_export:
        if st.button(t("voc.export.prepare"), key=f"{key}_prepare", icon=":material/download:"):
            with transaction(ctx.engine) as session:
                rows = voc.verbatims(session, principal, filters, timezone, selection, limit=voc.MAX_VERBATIMS)
                voc.record_view(session, principal, "voc.export", filters, selection, len(rows.rows))
            st.session_state[f"{key}_export"] = vdata.export_frame(rows.rows, names, timezone)
        prepared = st.session_state.get(f"{key}_export")
        if prepared is not None:
            left, right = st.columns(2)
            left.download_button(
                t("voc.export.csv"), to_csv_bytes(prepared), "voc_verbatims.csv", "text/csv", key=f"{key}_csv"
            )
            right.download_button(
                t("voc.export.excel"),
                to_excel_bytes(prepared, "verbatims"),
                "voc_verbatims.xlsx",
                "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                key=f"{key}_xlsx",
            )


def label_of(choice: str | None) -> str | None:
    return None if choice in (None, "all") else choice


def render_dictionary() -> None:
    from etl.text import preview_tokens, reanalyse_as
    from etl.text_classify import topic_keys

    st.caption(t("voc.dict.help"))
    with transaction(ctx.engine) as session:
        entries = vd.list_terms(session, principal)
    if entries:
        st.dataframe(
            [
                {
                    t("voc.dict.term"): e.term,
                    t("voc.dict.canonical"): e.canonical or "",
                    t("voc.dict.topic"): vdata.topic_name(e.topic) if e.topic else "",
                    t("voc.dict.category"): t(f"voc.dict.category.{e.category}"),
                    t("voc.dict.note"): e.note or "",
                }
                for e in entries
            ],
            hide_index=True,
            key="voc_dict_table",
        )
    else:
        st.info(t("voc.dict.empty"), icon=":material/info:")
    with st.form("voc_dict_add", clear_on_submit=True):
        left, middle, right = st.columns(3)
        term = left.text_input(t("voc.dict.term"), key="voc_dict_term")
        canonical = middle.text_input(t("voc.dict.canonical"), key="voc_dict_canonical")
        topic = right.selectbox(
            t("voc.dict.topic"),
            [None, *topic_keys()],
            format_func=lambda k: "–" if k is None else vdata.topic_name(k),
            key="voc_dict_topic",
            accept_new_options=True,
        )
        category = left.selectbox(
            t("voc.dict.category"),
            vd.CATEGORIES,
            format_func=lambda c: t(f"voc.dict.category.{c}"),
            key="voc_dict_category",
        )
        note = middle.text_input(t("voc.dict.note"), key="voc_dict_note")
        if st.form_submit_button(t("voc.dict.add"), icon=":material/add:"):
            try:
                with transaction(ctx.engine) as session:
                    saved = vd.save_term(
                        session, principal, term, canonical=canonical, topic=topic, category=category, note=note
                    )
                st.success(t("voc.dict.added", term=md_escape(saved.term)))
            except CxError as exc:
                st.error(md_escape(exc), icon=":material/error:")
    if entries:
        left, right = st.columns([3, 1])
        remove = left.selectbox(
            t("voc.dict.remove_pick"),
            [None, *[e.id for e in entries]],
            format_func=lambda i: "–" if i is None else next(e.term for e in entries if e.id == i),
            key="voc_dict_remove_pick",
        )
        if right.button(t("voc.dict.remove"), key="voc_dict_remove", disabled=remove is None, icon=":material/delete:"):
            try:
                with transaction(ctx.engine) as session:
                    vd.delete_term(session, principal, remove)
                st.success(t("voc.dict.removed"))
                st.rerun()
            except CxError as exc:
                st.error(md_escape(exc), icon=":material/error:")
    sample = st.text_input(t("voc.dict.preview"), help=t("voc.dict.preview_help"), key="voc_dict_preview")
    if sample.strip():
        with transaction(ctx.engine) as session:
            tokens = preview_tokens(session, principal, sample)
        st.code(" | ".join(tokens), language=None)
    if st.button(
        t("voc.dict.reanalyse"), help=t("voc.dict.reanalyse_help"), key="voc_reanalyse", icon=":material/autorenew:"
    ):
        bar = st.progress(0.0, text=t("voc.dict.reanalysing"))
        try:
            result = reanalyse_as(
                ctx.engine,
                principal,
                timezone=timezone,
                progress=lambda fraction, _message: bar.progress(
                    min(max(fraction, 0.0), 1.0), text=t("voc.dict.reanalysing")
                ),
            )
        except CxError as exc:
            bar.empty()
            st.error(md_escape(exc), icon=":material/error:")
            return
        clear_caches()
        st.success(
            t(
                "voc.dict.reanalysed",
                texts=fmt_count(result.texts),
                complaints=fmt_count(result.labels.get("complaint", 0)),
                questions=fmt_count(result.labels.get("inquiry", 0)),
                faq=fmt_count(result.faq_new),
            )
        )


# --------------------------------------------------------------------------------------------- empty store

if not vdata.has_insights(url, stamp, role, principal):
    st.info(t("voc.empty.none"), icon=":material/forum:")
    if can_edit:
        render_dictionary()
    st.stop()

summary = vdata.summary(url, stamp, role, principal, filters, timezone)
for column, (label, value, delta, colour) in zip(st.columns(5), vdata.summary_metrics(summary), strict=True):
    column.metric(label, value, delta, delta_color=colour, help=t("voc.metric.help"))  # type: ignore[arg-type]

if summary.texts == 0:
    st.info(t("voc.empty.period"), icon=":material/date_range:")
    if can_edit:
        with st.expander(t("voc.tab.dictionary")):
            render_dictionary()
    st.stop()

tab_keys = ["keywords", "trends", "breakdown", "faq", "verbatims"] + (["dictionary"] if can_edit else [])
tab_labels = [t(f"voc.tab.{k}") for k in tab_keys]
tabs = dict(zip(tab_keys, st.tabs(tab_labels, key="voc_tabs", on_change="rerun"), strict=True))

# --------------------------------------------------------------------------------------------- keywords & topics

with tabs["keywords"]:
    if tabs["keywords"].open:
        left, right = st.columns([3, 2])
        label = label_of(
            left.segmented_control(
                t("voc.filter.label"), LABEL_OPTIONS, default="all", format_func=vdata.label_name, key="voc_kw_label"
            )
        )
        term_type = (
            right.segmented_control(
                t("voc.filter.view"),
                ["word", "topic"],
                default="word",
                format_func=lambda v: t(f"voc.view.{v}"),
                key="voc_kw_type",
            )
            or "word"
        )
        top = vdata.top_terms(url, stamp, role, principal, filters, timezone, term_type, label, 20)
        if top.is_empty():
            st.info(t("voc.keywords.none"), icon=":material/info:")
        else:
            st.subheader(t("voc.keywords.title"))
            st.plotly_chart(vdata.terms_chart(top, term_type), width="stretch", key="voc_kw_chart")
            table = vdata.terms_table(top, term_type)
            st.dataframe(
                table,
                hide_index=True,
                column_config={
                    t("voc.col.share"): st.column_config.ProgressColumn(format="%.1f %%", min_value=0, max_value=100),
                    t("voc.col.complaint_share"): st.column_config.NumberColumn(format="%.1f %%"),
                },
                key="voc_kw_table",
            )
            if can_export:
                st.download_button(
                    t("voc.keywords.export"), to_csv_bytes(table), "voc_keywords.csv", "text/csv", key="voc_kw_csv"
                )
            options = vdata.option_names(top["term"].to_list(), term_type)
            chosen = st.selectbox(
                t("voc.keywords.read"),
                [None, *options],
                format_func=lambda v: t("voc.keywords.pick") if v is None else options[v],
                key="voc_kw_pick",
            )
            if chosen:
                picked = voc.Selection(
                    label=label,
                    term=chosen if term_type == "word" else None,
                    topic=chosen if term_type == "topic" else None,
                )
                show_verbatims(picked, "voc_kw_texts")

# --------------------------------------------------------------------------------------------- trends

with tabs["trends"]:
    if tabs["trends"].open:
        left, middle, right = st.columns([2, 2, 3])
        grain = (
            left.segmented_control(
                t("voc.trend.grain"),
                list(voc.GRAINS),
                default="week" if filters.days > 45 else "day",
                format_func=lambda g: t(f"voc.grain.{g}"),
                key="voc_tr_grain",
            )
            or "day"
        )
        term_type = (
            middle.segmented_control(
                t("voc.filter.view"),
                ["word", "topic"],
                default="word",
                format_func=lambda v: t(f"voc.view.{v}"),
                key="voc_tr_type",
            )
            or "word"
        )
        label = label_of(
            right.segmented_control(
                t("voc.filter.label"), LABEL_OPTIONS, default="all", format_func=vdata.label_name, key="voc_tr_label"
            )
        )
        st.subheader(t("voc.trend.mix"))
        st.plotly_chart(
            vdata.mix_chart(vdata.label_mix(url, stamp, role, principal, filters, timezone, grain), grain),
            width="stretch",
            key="voc_tr_mix",
        )
        st.subheader(t("voc.trend.terms"))
        candidates = vdata.top_terms(url, stamp, role, principal, filters, timezone, term_type, label, 15)[
            "term"
        ].to_list()
        options = vdata.option_names(candidates, term_type)
        picked_terms = st.multiselect(
            t("voc.trend.pick"),
            list(options),
            default=list(options)[:5],
            format_func=lambda v: options.get(v, v),
            key=f"voc_tr_terms_{term_type}",
        )
        if picked_terms:
            trend = vdata.term_trend(
                url, stamp, role, principal, filters, timezone, tuple(picked_terms), term_type, label, grain
            )
            st.plotly_chart(vdata.trend_chart(trend, term_type), width="stretch", key="voc_tr_chart")
        else:
            st.info(t("voc.trend.pick_none"), icon=":material/info:")
        st.subheader(t("voc.trend.moving"))
        st.caption(t("voc.trend.moving_help"))
        moving = vdata.trending(url, stamp, role, principal, filters, timezone, term_type, label)
        if moving.is_empty():
            st.info(t("voc.trend.none"), icon=":material/info:")
        else:
            st.dataframe(vdata.trending_table(moving, term_type), hide_index=True, key="voc_tr_table")

# --------------------------------------------------------------------------------------------- breakdown

with tabs["breakdown"]:
    if tabs["breakdown"].open:
        by = (
            st.segmented_control(
                t("voc.breakdown.by"),
                ["touchpoint", "channel", "stage"],
                default="touchpoint",
                format_func=lambda b: t(f"voc.by.{b}"),
                key="voc_bd_by",
            )
            or "touchpoint"
        )
        st.subheader(t("voc.breakdown.mix"))
        st.plotly_chart(
            vdata.mix_chart(vdata.label_mix(url, stamp, role, principal, filters, timezone, by), by, names),
            width="stretch",
            key="voc_bd_chart",
        )
        st.subheader(t("voc.breakdown.distinctive"))
        st.caption(t("voc.breakdown.tfidf_help"))
        distinctive = vdata.distinctive(url, stamp, role, principal, filters, timezone, by, "word", None)
        st.dataframe(vdata.distinctive_table(distinctive, by, names, "word"), hide_index=True, key="voc_bd_table")

# --------------------------------------------------------------------------------------------- frequent questions

with tabs["faq"]:
    if tabs["faq"].open:
        questions = vdata.faq(url, stamp, role, principal, filters, timezone)
        if questions.is_empty():
            st.info(t("voc.faq.none"), icon=":material/info:")
        else:
            st.caption(t("voc.faq.help"))
            shown = vdata.faq_display(questions, names)
            st.dataframe(shown, hide_index=True, key="voc_faq_table")
            if can_export:
                st.download_button(
                    t("voc.faq.export"), to_csv_bytes(shown), "voc_questions.csv", "text/csv", key="voc_faq_csv"
                )
            titles = dict(zip(questions["faq_id"].to_list(), questions["title"].to_list(), strict=True))
            examples = dict(
                zip(questions["faq_id"].to_list(), questions["example_interaction_id"].to_list(), strict=True)
            )
            picked = st.selectbox(
                t("voc.faq.pick"),
                [None, *titles],
                format_func=lambda i: "–" if i is None else titles[i],
                key="voc_faq_pick",
            )
            if picked is not None:
                with transaction(ctx.engine) as session:
                    example = voc.example_texts(session, principal, [examples[picked]]).get(examples[picked])
                if example:
                    st.markdown(f"**{t('voc.faq.example')}**")
                    st.text(example)
                show_verbatims(voc.Selection(faq_id=picked), "voc_faq_texts")

# --------------------------------------------------------------------------------------------- verbatims

with tabs["verbatims"]:
    if tabs["verbatims"].open:
        columns = st.columns([2, 2, 2, 2, 2, 1])
        label = label_of(
            columns[0].selectbox(t("voc.filter.label"), LABEL_OPTIONS, format_func=vdata.label_name, key="voc_vb_label")
        )
        topics = vdata.top_terms(url, stamp, role, principal, filters, timezone, "topic", None, 50)["term"].to_list()
        topic = columns[1].selectbox(
            t("voc.verbatims.topic"),
            [None, *topics],
            format_func=lambda v: t("voc.verbatims.any") if v is None else vdata.topic_name(v),
            key="voc_vb_topic",
        )
        words = vdata.top_terms(url, stamp, role, principal, filters, timezone, "word", None, 50)["term"].to_list()
        term = columns[2].selectbox(
            t("voc.verbatims.term"),
            [None, *words],
            format_func=lambda v: t("voc.verbatims.any") if v is None else v,
            accept_new_options=True,
            key="voc_vb_term",
        )
        touchpoint = columns[3].selectbox(
            t("voc.verbatims.touchpoint"),
            [None, *[k for k, _ in names.touchpoints]],
            format_func=lambda v: t("voc.verbatims.any") if v is None else names.touchpoint(v),
            key="voc_vb_touchpoint",
        )
        channel = columns[4].selectbox(
            t("voc.verbatims.channel"),
            [None, *CHANNELS],
            format_func=lambda v: t("voc.verbatims.any") if v is None else vdata.channel_name(v),
            key="voc_vb_channel",
        )
        negative = columns[5].toggle(t("voc.verbatims.negative_only"), key="voc_vb_negative")
        try:
            selection = voc.Selection(
                label=label,
                term=(term or "").strip().lower() or None,
                topic=topic,
                touchpoint=touchpoint,
                channel=channel,
                sentiment_below=-0.2 if negative else None,
            )
        except CxError as exc:
            st.warning(md_escape(exc))
        else:
            show_verbatims(selection, "voc_vb_texts", limit=100)

# --------------------------------------------------------------------------------------------- dictionary (admins)

if can_edit:
    with tabs["dictionary"]:
        if tabs["dictionary"].open:
            render_dictionary()
