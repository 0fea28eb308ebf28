"""FAQ grouping on fixtures: near-identical questions in both languages become one candidate; others stay apart."""

from __future__ import annotations

import polars as pl
import pytest

from etl import faq
from etl.text import TextResources, analyse_frame
from etl.text_tokenise import DictionaryTerm

QUESTIONS = [
    # (text, group name in this fixture)
    ("如何修改收货地址", "address_zh"),
    ("怎么改收货地址？", "address_zh"),
    ("收货地址填错了，怎么修改？", "address_zh"),
    ("您好，我刚下单。请问收货地址怎么修改？谢谢", "address_zh"),
    ("How do I change my delivery address?", "address_en"),
    ("how to change delivery address", "address_en"),
    ("Hi, I moved last week. How can I change the delivery address on my order?", "address_en"),
    ("保修期多久？", "warranty_zh"),
    ("X1手机的保修期是多久", "warranty_zh"),
    ("How long is the warranty?", "warranty_en"),
    ("how long is warranty", "warranty_en"),
    ("How do I cancel my order?", "cancel_en"),
    ("How do I change my order?", "change_en"),
    ("发票怎么开？", "invoice_zh"),
    ("电子发票怎么开", "invoice_zh"),
    ("积分怎么用？", "points_zh"),
    ("人工客服工作时间是几点到几点？", "hours_zh"),
]


@pytest.fixture(scope="module")
def questions() -> pl.DataFrame:
    rows = pl.LazyFrame({"interaction_id": [f"q{i}" for i in range(len(QUESTIONS))], "text": [q for q, _ in QUESTIONS]})
    resources = TextResources.default([DictionaryTerm("X1", category="product")])
    analysed = analyse_frame(rows, resources).collect()
    return analysed.with_columns(pl.Series("expected", [g for _, g in QUESTIONS]))


def test_every_fixture_text_is_a_question_with_a_key(questions: pl.DataFrame) -> None:
    assert questions["label"].to_list() == ["inquiry"] * len(QUESTIONS)
    assert questions["question"].null_count() == 0


def test_question_keys_ignore_greetings_context_and_question_words(questions: pl.DataFrame) -> None:
    keys = dict(zip(questions["interaction_id"], questions["question"], strict=True))
    assert keys["q3"] == "修改 地址 收货"  # only the question sentence, not "您好，我刚下单" or "谢谢"
    assert keys["q6"] == "address change delivery order"
    assert keys["q8"] == "保修期 手机"  # the product name (a dictionary product) is not part of the question
    assert keys["q4"] == keys["q5"] == "address change delivery"


def grouped(questions: pl.DataFrame, **thresholds: float) -> dict[str, set[int]]:
    """expected group -> the group numbers its questions got."""
    result = faq.group_questions(questions.select("question", "lang"), **thresholds).groups
    joined = questions.join(result, on=["question", "lang"], how="left")
    return {
        name: set(part["group"].to_list())
        for name, part in joined.group_by("expected", maintain_order=True)
        for name in [name[0]]
    }


def test_near_identical_questions_form_one_group_and_different_ones_do_not(questions: pl.DataFrame) -> None:
    groups = grouped(questions)
    for name, numbers in groups.items():
        assert len(numbers) == 1, f"{name} was split into {numbers}"
    numbers = [next(iter(n)) for n in groups.values()]
    assert len(set(numbers)) == len(numbers), "two different questions were merged"


def test_a_strict_threshold_keeps_only_exact_keys_together(questions: pl.DataFrame) -> None:
    groups = grouped(questions, min_shared=1.0, min_chars=100.0)
    assert len(groups["address_zh"]) > 1


def test_one_word_keys_do_not_swallow_longer_questions() -> None:
    keys = pl.DataFrame({"question": ["地址", "修改 地址 收货", "地址 门牌 查询"], "lang": ["zh", "zh", "zh"]})
    assert faq.group_questions(keys).groups["group"].n_unique() == 3


@pytest.mark.parametrize(
    ("a", "b", "together"),
    [
        ("地址 收货", "修改 地址 收货", True),  # shared keywords
        ("adress change", "address change", True),  # a misspelling
        ("cancel order", "change order", False),  # one shared word of two, similar letters: different questions
        ("地址", "修改 地址 收货", False),
    ],
)
def test_pairs(a: str, b: str, together: bool) -> None:
    keys = pl.DataFrame({"question": [a, b], "lang": ["en", "en"]})
    assert (faq.group_questions(keys).groups["group"].n_unique() == 1) is together


def test_languages_never_share_a_group() -> None:
    keys = pl.DataFrame({"question": ["app crash", "app crash"], "lang": ["en", "zh"]})
    result = faq.group_questions(keys).groups
    assert result["group"].n_unique() == 2


def test_new_questions_join_existing_groups_first() -> None:
    existing = pl.DataFrame({"question": ["修改 地址 收货", "保修期"], "lang": ["zh", "zh"], "faq_id": [7, 9]})
    new = pl.DataFrame({"question": ["修改 地址 收货", "地址 收货", "保修期 手机", "积分"], "lang": ["zh"] * 4})
    grouping = faq.group_questions(new, existing)
    faq_id = dict(zip(grouping.groups["question"], grouping.groups["faq_id"], strict=True))
    assert faq_id["修改 地址 收货"] == 7  # exact key
    assert faq_id["地址 收货"] == 7  # similar to an existing key
    assert faq_id["积分"] is None
    assert grouping.new_groups == 2 - (faq_id["保修期 手机"] == 9)
    assert grouping.joined_existing == 4 - grouping.new_groups


def test_blocks_put_each_key_under_its_rarest_terms() -> None:
    keys = pl.DataFrame({"question": ["a b c", "a b", "a d", "a e"], "lang": ["en"] * 4})
    membership = faq.blocks(keys)
    per_key = membership.group_by("idx").agg(pl.col("block").sort()).sort("idx")["block"].to_list()
    assert per_key[0] == ["en:b", "en:c"]  # "a" is in every key: never a block when rarer terms exist
    assert all(len(blocks) <= faq.BLOCK_TERMS for blocks in per_key)


def test_large_blocks_are_sliced(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(faq, "MAX_BLOCK", 3)
    keys = pl.DataFrame({"question": [f"退款 到账 {i}" for i in range(8)], "lang": ["zh"] * 8})
    pairs = faq.similar_pairs(keys, min_shared=0.5)
    assert pairs.height > 0 and (pairs["a"] != pairs["b"]).all()
