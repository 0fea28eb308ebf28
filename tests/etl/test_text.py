"""The text-analysis ETL step against a real store: insights, filled kinds, FAQ groups, keyword facts, re-runs."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import polars as pl
import pytest
from sqlalchemy import Engine, func, select

from cx.db import transaction
from cx.errors import EtlError
from cx.models import FaqCandidate, Interaction, TextInsight, UserDictionaryTerm, VocKeyword
from etl import text as text_step
from etl.text import analyse_texts, demo_dictionary, reanalyse_store, seed_dictionary

TZ = "Asia/Shanghai"
START = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)  # 09:00 in Shanghai
ROWS = [
    # text, source kind, channel, touchpoint
    ("如何修改收货地址", None, "wechat", "shipping"),
    ("怎么改收货地址？", None, "chat", "shipping"),
    ("收货地址填错了，怎么修改？", "inquiry", "phone", "shipping"),
    ("快递一周了还没到，太慢了！", None, "phone", "shipping"),
    ("The X1 phone screen flickers constantly, clearly a defect.", None, "email", "product_quality"),
    ("建议App增加深色模式", None, "app", "app_usage"),
    ("客服很耐心，一次就解决了，感谢", "survey", "survey", "service_hotline"),
    ("好的，收到", None, "wechat", None),
    (None, None, "web", "web_browse"),
    ("   ", None, "web", "web_browse"),
]


def batch(rows: list[tuple[str | None, str | None, str, str | None]] = ROWS, start: datetime = START) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "interaction_id": [f"s:{i}" for i in range(len(rows))],
            "record_id": [str(i) for i in range(len(rows))],
            "source": ["s"] * len(rows),
            "occurred_at": [start + timedelta(hours=20 * i) for i in range(len(rows))],
            "text": [r[0] for r in rows],
            "kind": [r[1] for r in rows],
            "channel": [r[2] for r in rows],
            "touchpoint": [r[3] for r in rows],
        },
        schema_overrides={"occurred_at": pl.Datetime("us", "UTC")},
    )


def load(engine: Engine, frame: pl.DataFrame) -> None:
    with transaction(engine) as session:
        session.add_all([Interaction(**row) for row in frame.to_dicts()])


@pytest.fixture
def analysed(engine: Engine) -> text_step.TextRunResult:
    frame = batch()
    load(engine, frame)
    with transaction(engine) as session:
        seed_dictionary(session, demo_dictionary())
        return analyse_texts(session, frame, timezone=TZ)


def test_one_insight_per_text_and_the_run_summary(engine: Engine, analysed: text_step.TextRunResult) -> None:
    assert analysed.texts == 8 and analysed.unique_texts == 8
    assert analysed.labels == {"inquiry": 3, "complaint": 2, "suggestion": 1, "praise": 1, "other": 1}
    with transaction(engine) as session:
        insights = {row.interaction_id: row for row in session.scalars(select(TextInsight))}
    assert set(insights) == {f"s:{i}" for i in range(8)}  # no insight for empty texts
    assert insights["s:4"].terms.startswith("|") and "|x1 phone|" in insights["s:4"].terms
    assert "|product_quality|" in insights["s:4"].topics
    assert insights["s:3"].sentiment < 0 < insights["s:6"].sentiment
    assert 0 < insights["s:3"].confidence <= 1


def test_kinds_are_filled_only_where_the_source_gave_none(engine: Engine, analysed: text_step.TextRunResult) -> None:
    with transaction(engine) as session:
        kinds = dict(session.execute(select(Interaction.interaction_id, Interaction.kind)).all())
        filled = set(session.scalars(select(TextInsight.interaction_id).where(TextInsight.kind_filled)))
    assert kinds["s:0"] == "inquiry" and kinds["s:3"] == "complaint" and kinds["s:5"] == "suggestion"
    assert kinds["s:2"] == "inquiry" and kinds["s:6"] == "survey"  # given by the source: untouched
    assert kinds["s:7"] is None  # "other" is no kind
    assert kinds["s:8"] is None  # no text
    assert filled == {"s:0", "s:1", "s:3", "s:4", "s:5"}
    assert dict(analysed.kinds.iter_rows()) == {
        "s:0": "inquiry",
        "s:1": "inquiry",
        "s:3": "complaint",
        "s:4": "complaint",
        "s:5": "suggestion",
        "s:7": None,
    }
    assert analysed.kinds_filled == 5


def test_without_fill_kind_the_pipeline_writes_kinds_itself(engine: Engine) -> None:
    frame = batch()
    load(engine, frame)
    with transaction(engine) as session:
        result = analyse_texts(session, frame, timezone=TZ, fill_kind=False)
        assert session.scalar(select(Interaction.kind).where(Interaction.interaction_id == "s:0")) is None
    assert result.kinds.filter(pl.col("interaction_id") == "s:0")["kind"].item() == "inquiry"


def test_the_three_address_questions_become_one_faq_candidate(
    engine: Engine, analysed: text_step.TextRunResult
) -> None:
    with transaction(engine) as session:
        candidates = session.scalars(select(FaqCandidate)).all()
        members = dict(session.execute(select(TextInsight.interaction_id, TextInsight.faq_id)).all())
    address = next(c for c in candidates if "地址" in c.title)
    assert address.texts == 3 and address.lang == "zh"
    assert {k for k, v in members.items() if v == address.id} == {"s:0", "s:1", "s:2"}
    assert address.example_interaction_id in {"s:0", "s:1", "s:2"}
    assert "|地址|" in address.keywords


def test_keyword_facts_count_texts_per_local_day(engine: Engine, analysed: text_step.TextRunResult) -> None:
    with transaction(engine) as session:
        totals = session.scalar(select(func.sum(VocKeyword.texts)).where(VocKeyword.term_type == "total"))
        days = sorted(session.scalars(select(VocKeyword.day).distinct()))
        delivery = session.scalar(
            select(func.sum(VocKeyword.texts)).where(VocKeyword.term_type == "topic", VocKeyword.term == "delivery")
        )
        untouched = session.scalar(
            select(func.count()).where(VocKeyword.touchpoint == "", VocKeyword.term_type == "total")
        )
    assert totals == 8
    assert days == sorted(analysed.days) and days[0] == date(2026, 3, 2)
    assert delivery == 1  # "快递 ... 还没到" (the address questions are order changes)
    assert untouched == 1  # a text without touchpoint is counted under ''


def test_running_the_same_batch_again_changes_nothing(engine: Engine, analysed: text_step.TextRunResult) -> None:
    def snapshot() -> tuple[object, ...]:
        with transaction(engine) as session:
            return (
                session.execute(
                    select(TextInsight.interaction_id, TextInsight.label, TextInsight.faq_id).order_by(
                        TextInsight.interaction_id
                    )
                ).all(),
                session.scalar(select(func.count()).select_from(FaqCandidate)),
                session.execute(
                    select(VocKeyword.day, VocKeyword.term_type, VocKeyword.term, VocKeyword.texts).order_by(
                        VocKeyword.id
                    )
                ).all(),
                session.execute(
                    select(Interaction.interaction_id, Interaction.kind).order_by(Interaction.interaction_id)
                ).all(),
            )

    before = snapshot()
    with transaction(engine) as session:
        analyse_texts(session, batch(), timezone=TZ)
    after = snapshot()
    assert after[0] == before[0] and after[1] == before[1] and after[3] == before[3]
    assert sorted(after[2]) == sorted(before[2])


def test_a_later_batch_joins_existing_faq_groups(engine: Engine, analysed: text_step.TextRunResult) -> None:
    later = batch([("请问收货地址怎么修改", None, "app", "shipping")], START + timedelta(days=40)).with_columns(
        pl.lit("s:later").alias("interaction_id"), pl.lit("later").alias("record_id")
    )
    load(engine, later)
    with transaction(engine) as session:
        result = analyse_texts(session, later, timezone=TZ)
        faq_id = session.scalar(select(TextInsight.faq_id).where(TextInsight.interaction_id == "s:later"))
        group = session.get(FaqCandidate, faq_id)
        assert group is not None and group.texts == 4
    assert result.faq_joined == 1 and result.faq_new == 0


def test_reanalysing_applies_a_new_dictionary_term_and_keeps_source_kinds(
    engine: Engine, analysed: text_step.TextRunResult
) -> None:
    with transaction(engine) as session:
        session.add(UserDictionaryTerm(term="深色模式", topic="app_website"))
    result = reanalyse_store(engine, timezone=TZ, workers=1)
    assert result.texts == 8
    with transaction(engine) as session:
        terms = session.scalar(select(TextInsight.terms).where(TextInsight.interaction_id == "s:5"))
        kinds = dict(session.execute(select(Interaction.interaction_id, Interaction.kind)).all())
        dark_mode = session.scalar(
            select(func.sum(VocKeyword.texts)).where(VocKeyword.term_type == "word", VocKeyword.term == "深色模式")
        )
        faq_total = session.scalar(select(func.sum(FaqCandidate.texts)))
    assert "|深色模式|" in terms and dark_mode == 1
    assert kinds["s:6"] == "survey" and kinds["s:2"] == "inquiry" and kinds["s:0"] == "inquiry"
    assert faq_total == 3


def test_reanalysing_from_a_date_leaves_earlier_texts_alone(engine: Engine, analysed: text_step.TextRunResult) -> None:
    with transaction(engine) as session:
        before = session.scalar(select(TextInsight.analysed_at).where(TextInsight.interaction_id == "s:0"))
    result = reanalyse_store(engine, timezone=TZ, since=date(2026, 3, 5), workers=1)
    with transaction(engine) as session:
        after = session.scalar(select(TextInsight.analysed_at).where(TextInsight.interaction_id == "s:0"))
    assert after == before
    assert result.texts == 4 and min(result.days) >= date(2026, 3, 5)


def test_a_batch_without_texts_does_nothing(engine: Engine) -> None:
    with transaction(engine) as session:
        result = analyse_texts(session, batch([(None, None, "web", None)]), timezone=TZ)
        assert session.scalar(select(func.count()).select_from(TextInsight)) == 0
    assert result.texts == 0


def test_missing_columns_are_named(engine: Engine) -> None:
    with transaction(engine) as session, pytest.raises(EtlError, match=r"\['occurred_at'\]"):
        analyse_texts(session, pl.DataFrame({"interaction_id": ["a"], "text": ["hi"]}), timezone=TZ)


def test_command_line_needs_a_scope(capsys: pytest.CaptureFixture[str]) -> None:
    assert text_step.main([]) == 2
    assert "--all" in capsys.readouterr().err


def test_a_record_reloaded_without_text_loses_its_insight(engine: Engine, analysed: text_step.TextRunResult) -> None:
    again = batch()[:1].with_columns(pl.lit(None, pl.String).alias("text"))
    with transaction(engine) as session:
        analyse_texts(session, again, timezone=TZ)
        assert session.get(TextInsight, "s:0") is None


def test_fill_kinds_is_a_pure_step_for_the_pipeline() -> None:
    frame = batch().lazy()
    filled = text_step.fill_kinds(frame, text_step.TextResources.default()).collect()
    assert filled.height == len(ROWS) and filled["interaction_id"].to_list() == [f"s:{i}" for i in range(len(ROWS))]
    kinds = dict(zip(filled["interaction_id"], filled["kind"], strict=True))
    assert kinds["s:0"] == "inquiry" and kinds["s:3"] == "complaint" and kinds["s:6"] == "survey"
    assert kinds["s:7"] is None and kinds["s:8"] is None
    assert filled["source_kind"].to_list() == batch()["kind"].to_list()
