"""Voice-of-the-customer queries over a real store: keywords, trends, TF-IDF, FAQ, masked verbatims, alert/profile
helpers and the user dictionary."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import polars as pl
import pytest
from sqlalchemy import Engine, func, select, text

from cx import voc
from cx import voc_dictionary as vd
from cx.access import Principal, Role
from cx.db import transaction
from cx.errors import ConflictError, PermissionDenied, ValidationError
from cx.filters import Filters
from cx.models import AuditEntry, Interaction, Profile, TextInsight
from etl.text import analyse_texts

TZ = "Asia/Shanghai"
DAY = date(2026, 4, 10)
# (days before DAY, touchpoint, channel, profile, text)
ROWS = [
    (0, "shipping", "phone", "p1", "快递太慢了，一周还没到，请回电 13812345678"),
    (1, "shipping", "chat", "p1", "快递员态度差，东西也没收到"),
    (2, "shipping", "wechat", "p2", "快递什么时候到？"),
    (3, "repair", "email", "p2", "How long is the warranty? write to me at wei.wang@example.com — Wei Wang"),
    (4, "repair", "email", "p3", "How long is the warranty?"),
    (5, "app_usage", "app", "p3", "App闪退，根本用不了"),
    (6, "app_usage", "app", "p3", "建议App增加深色模式"),
    (9, "shipping", "phone", "p1", "快递很快，点赞"),
    # the previous 10-day period
    (12, "repair", "email", "p2", "How long is the warranty?"),
    (15, "app_usage", "app", "p3", "App 很好用"),
]


@pytest.fixture
def store(engine: Engine) -> Engine:
    rows = [
        {
            "interaction_id": f"s:{i}",
            "record_id": str(i),
            "source": "s",
            "occurred_at": datetime(DAY.year, DAY.month, DAY.day, 4, tzinfo=UTC) - timedelta(days=days),
            "touchpoint": touchpoint,
            "channel": channel,
            "profile_id": profile,
            "name": "Wei Wang" if i == 3 else None,
            "text": text,
            "kind": None,
        }
        for i, (days, touchpoint, channel, profile, text) in enumerate(ROWS)
    ]
    with transaction(engine) as session:
        session.add_all([Profile(profile_id=p, segment="vip" if p == "p1" else "mass") for p in ("p1", "p2", "p3")])
        session.add_all([Interaction(**row) for row in rows])
        session.flush()
        analyse_texts(session, pl.DataFrame(rows), timezone=TZ)
    return engine


PERIOD = Filters(DAY - timedelta(days=9), DAY)
ADMIN = Principal(user_id=1, username="admin", display_name="Admin", role=Role.ADMIN)
OWNER = Principal(user_id=2, username="owner", display_name="Owner", role=Role.CX_OWNER)


def as_role(role: Role) -> Principal:
    return Principal(user_id=9, username=role.value, display_name=role.value, role=role)


def test_summary_counts_classes_now_and_before(store: Engine) -> None:
    with transaction(store) as session:
        summary = voc.summary(session, ADMIN, PERIOD, TZ)
    assert summary.texts == 8 and summary.previous_texts == 2
    assert summary.by_label["complaint"] == 3 and summary.by_label["inquiry"] == 3
    assert summary.share("complaint") == pytest.approx(37.5)
    assert summary.previous_by_label == {"inquiry": 1, "praise": 1}
    assert -1 < summary.sentiment < 0 < summary.previous_sentiment


def test_top_terms_and_topics(store: Engine) -> None:
    with transaction(store) as session:
        words = voc.top_terms(session, ADMIN, PERIOD, TZ, limit=3)
        complaints = voc.top_terms(session, ADMIN, PERIOD, TZ, label="complaint", limit=5)
        topics = voc.top_terms(session, ADMIN, PERIOD, TZ, term_type="topic")
    assert words.row(0, named=True) | {"sentiment": 0} == {
        "term": "快递",
        "texts": 4,
        "share": 50.0,
        "sentiment": 0,
        "previous": 0,
        "change": 4,
        "complaint_share": 50.0,
    }
    assert set(complaints["term"]) >= {"快递", "app"}
    assert dict(topics.select("term", "texts").iter_rows())["delivery"] == 4


def test_with_a_segment_filter_figures_come_from_the_texts(store: Engine) -> None:
    vip = Filters(PERIOD.start, PERIOD.end, segments=("vip",))
    with transaction(store) as session:
        summary = voc.summary(session, ADMIN, vip, TZ)
        words = voc.top_terms(session, ADMIN, vip, TZ, limit=1)
        everyone = voc.summary(session, ADMIN, Filters(PERIOD.start, PERIOD.end, segments=("vip", "mass")), TZ)
        unfiltered = voc.summary(session, ADMIN, PERIOD, TZ)
    assert summary.texts == 3 and words["term"].to_list() == ["快递"]
    assert everyone.texts == 8 and everyone.by_label == unfiltered.by_label


def test_label_mix_by_touchpoint_and_week(store: Engine) -> None:
    with transaction(store) as session:
        by_touchpoint = voc.label_mix(session, ADMIN, PERIOD, TZ, by="touchpoint")
        by_week = voc.label_mix(session, ADMIN, PERIOD, TZ, by="week")
        with pytest.raises(ValidationError, match="Unknown breakdown"):
            voc.label_mix(session, ADMIN, PERIOD, TZ, by="agent")
    shipping = dict(by_touchpoint.filter(pl.col("key") == "shipping").select("label", "texts").iter_rows())
    assert shipping == {"complaint": 2, "inquiry": 1, "praise": 1}
    assert by_week["texts"].sum() == 8


def test_trend_fills_days_without_mentions(store: Engine) -> None:
    with transaction(store) as session:
        trend = voc.term_trend(session, ADMIN, PERIOD, TZ, ["快递", "warranty"])
    assert trend.height == 20 and trend.filter(pl.col("term") == "快递")["texts"].sum() == 4
    assert trend.filter((pl.col("term") == "warranty") & (pl.col("texts") == 0)).height == 8


def test_a_term_trend_reads_the_term_index(store: Engine) -> None:
    """SQLite gathers no statistics: without a nudge it reads every term of the period through (term_type, day)."""
    if store.dialect.name != "sqlite":
        pytest.skip("a SQLite query plan")
    for terms, index in ((["快递"], "ix_voc_keywords_term_day"), (None, "ix_voc_keywords_type_day")):
        query = voc.keyword_facts_query(PERIOD, dims=["day"], term_type="word", terms=terms)
        sql = str(query.compile(store, compile_kwargs={"literal_binds": True}))
        with transaction(store) as session:
            plan = " ".join(str(row[-1]) for row in session.execute(text(f"EXPLAIN QUERY PLAN {sql}")))
        assert f"INDEX {index}" in plan, plan


def test_trending_terms_adjust_for_volume(store: Engine) -> None:
    with transaction(store) as session:
        moving = voc.trending_terms(session, ADMIN, PERIOD, TZ, min_texts=2)
    status = dict(moving.select("term", "status").iter_rows())
    assert status["快递"] == "new"
    assert status["warranty"] == "steady"  # 2 now vs 1 before, with 4x the texts: no rise


def test_tfidf_finds_what_sets_a_touchpoint_apart(store: Engine) -> None:
    with transaction(store) as session:
        distinctive = voc.distinctive_terms(session, ADMIN, PERIOD, TZ, by="touchpoint", per_group=1)
        by_channel = voc.distinctive_terms(session, ADMIN, PERIOD, TZ, by="channel")
    best = dict(distinctive.select("group", "term").iter_rows())
    assert best["shipping"] == "快递" and best["repair"] in {"long", "warranty"} and best["app_usage"] == "app"
    assert set(by_channel["group"]) == {"phone", "chat", "wechat", "email", "app"}


def test_faq_table_counts_the_period_and_the_one_before(store: Engine) -> None:
    with transaction(store) as session:
        table = voc.faq_table(session, ADMIN, PERIOD, TZ)
    warranty = table.row(0, named=True)
    assert table.height == 1  # single questions are not FAQ candidates
    assert warranty["title"] == "How long is the warranty?"
    assert (warranty["texts"], warranty["previous"], warranty["change"]) == (2, 1, 1)
    assert warranty["touchpoints"] == ["repair"] and warranty["channels"] == ["email"]


@pytest.mark.parametrize(
    ("role", "visible", "hidden"),
    [
        (Role.ADMIN, ["13812345678", "wei.wang@example.com", "Wei Wang"], []),
        (Role.AGENT, ["138****5678", "w***@example.com", "Wei Wang"], ["13812345678", "wei.wang@example.com"]),
        (Role.DEPARTMENT_HEAD, ["138****5678", "W** W***"], ["13812345678", "Wei Wang", "wei.wang@example.com"]),
    ],
)
def test_verbatims_are_masked_for_the_role(store: Engine, role: Role, visible: list[str], hidden: list[str]) -> None:
    with transaction(store) as session:
        found = voc.verbatims(session, as_role(role), PERIOD, TZ)
    text = "\n".join(found.rows["text"].to_list()) + "\n" + "\n".join(x or "" for x in found.rows["customer"])
    assert found.total == 8
    for value in visible:
        assert value in text
    for value in hidden:
        assert value not in text


def test_verbatims_for_a_selection(store: Engine) -> None:
    with transaction(store) as session:
        complaints = voc.verbatims(session, as_role(Role.ADMIN), PERIOD, TZ, voc.Selection(label="complaint"))
        topic = voc.verbatims(
            session, as_role(Role.ADMIN), PERIOD, TZ, voc.Selection(topic="delivery", channel="phone")
        )
        term = voc.verbatims(session, as_role(Role.ADMIN), PERIOD, TZ, voc.Selection(term="快递"), limit=2, offset=2)
        faq_id = session.scalar(select(TextInsight.faq_id).where(TextInsight.interaction_id == "s:4"))
        questions = voc.verbatims(session, as_role(Role.ADMIN), PERIOD, TZ, voc.Selection(faq_id=faq_id))
        negative = voc.verbatims(session, as_role(Role.ADMIN), PERIOD, TZ, voc.Selection(sentiment_below=-0.2))
    assert complaints.total == 3 and set(complaints.rows["label"]) == {"complaint"}
    assert topic.total == 2
    assert term.total == 4 and term.rows.height == 2
    assert questions.total == 2
    assert negative.total == complaints.total
    assert complaints.rows["occurred_at"].is_sorted(descending=True)
    with pytest.raises(ValidationError):
        voc.Selection(term="a|b")


def test_keyword_hits_for_alert_rules(store: Engine) -> None:
    start = datetime(2026, 3, 30, tzinfo=UTC)
    with transaction(store) as session:
        hits = voc.keyword_hits(
            session, start, start + timedelta(days=12), terms=["快递"], topics=["app_website"], by=("touchpoint",)
        )
        complaints_only = voc.keyword_hits(
            session, start, start + timedelta(days=12), terms=["快递"], labels=["complaint"], by=("channel",)
        )
        with pytest.raises(ValidationError, match="cannot group by"):
            voc.keyword_hits(session, start, start, terms=["x"], by=("name",))
    rows = {(r["term"], r["touchpoint"]): (r["texts"], r["complaints"]) for r in hits.iter_rows(named=True)}
    assert rows[("快递", "shipping")] == (4, 2)
    assert rows[("app_website", "app_usage")][0] >= 1
    assert complaints_only["texts"].sum() == 2


def test_profile_topics_and_interaction_insights(store: Engine) -> None:
    with transaction(store) as session:
        topics = voc.topics_for_profile(session, "p1")
        insights = voc.interaction_insights(session, ["s:0", "s:4", "nope"])
    assert topics[0].topic == "delivery" and topics[0].texts == 3 and topics[0].complaints == 2
    assert set(insights) == {"s:0", "s:4"}
    assert insights["s:0"].label == "complaint" and "delivery" in insights["s:0"].topics
    assert insights["s:4"].faq_id is not None


def test_forgetting_interactions_removes_their_insights(store: Engine) -> None:
    with transaction(store) as session:
        assert voc.forget_interactions(session, ["s:3", "s:4", "s:8"]) == 3
        assert session.scalar(select(func.count()).select_from(TextInsight)) == len(ROWS) - 3


def test_has_insights_and_data_stamp(store: Engine) -> None:
    with transaction(store) as session:
        assert voc.has_insights(session, ADMIN)
        stamp = voc.data_stamp(session, ADMIN)
        assert stamp.startswith(f"{len(ROWS)}:")
        assert voc.segments(session, ADMIN) == ["mass", "vip"]


def test_mask_free_text_rules() -> None:
    text = "call +86 138-1234-5678 or 13912345678, mail a.b@example.com, @handle_01, 王伟说"
    masked = voc.mask_free_text(text, Role.DEPARTMENT_HEAD, ["王伟"])
    assert "1234-5678" not in masked and "13912345678" not in masked and "a.b@" not in masked
    assert "@ha*****01" in masked and "王*说" in masked
    assert voc.mask_free_text(text, Role.ADMIN, ["王伟"]) == text
    assert voc.mask_free_text(None, Role.AGENT) is None


# --------------------------------------------------------------------------------------------- the user dictionary


def test_admins_add_change_and_remove_terms_and_every_change_is_audited(engine: Engine) -> None:
    with transaction(engine) as session:
        from cx import auth
        from cx.settings import load_settings

        auth.ensure_first_admin(session, load_settings(environ={"CX_ADMIN_PASSWORD": "x-admin-pw-1"}))
        admin_id = session.scalar(select(func.min(AuditEntry.id)))  # noqa: F841 - users exist now
    with transaction(engine) as session:
        entry = vd.save_term(
            session, ADMIN, "  Ｘ1   Pro ", canonical="x1 pro", topic="Product_Quality", category="product"
        )
        assert (entry.term, entry.canonical, entry.topic) == ("x1 pro", None, "product_quality")
        changed = vd.save_term(
            session, ADMIN, "x1 pro", canonical=None, topic=None, category="product", entry_id=entry.id
        )
        assert changed.topic is None
        with pytest.raises(ConflictError, match="already"):
            vd.save_term(session, ADMIN, "X1 PRO")
        vd.delete_term(session, ADMIN, entry.id)
        assert vd.list_terms(session, ADMIN) == []
        actions = list(session.scalars(select(AuditEntry.action).order_by(AuditEntry.id)))
    assert actions[-3:] == ["voc.dictionary_add", "voc.dictionary_change", "voc.dictionary_delete"]


def test_only_admins_may_edit_the_dictionary(engine: Engine) -> None:
    with transaction(engine) as session, pytest.raises(PermissionDenied):
        vd.save_term(session, OWNER, "璐米")


def test_invalid_entries_list_every_problem() -> None:
    with pytest.raises(ValidationError) as caught:
        vd.validate("a|b", "", "Not A Topic!", "gadget", "x" * 201)
    assert len(caught.value.problems) == 4


def test_every_page_query_checks_the_principal(store: Engine) -> None:
    nobody = None
    with transaction(store) as session:
        for call in (
            lambda: voc.summary(session, nobody, PERIOD, TZ),  # type: ignore[arg-type]
            lambda: voc.verbatims(session, nobody, PERIOD, TZ),  # type: ignore[arg-type]
            lambda: vd.list_terms(session, as_role(Role.CX_OWNER)),
            lambda: voc.record_view(session, as_role(Role.AGENT), "voc.export", PERIOD, voc.Selection(), 1),
        ):
            with pytest.raises(PermissionDenied):
                call()
