"""Cleaning and tokenising customer texts: mixed Chinese/English, user-dictionary terms kept whole, keyword view."""

from __future__ import annotations

import polars as pl
import pytest

from cx.errors import ValidationError
from etl import text_tokenise as tt
from etl.text_tokenise import DictionaryTerm, Tokenizer, clean_texts, content_terms, question_sentence, tokenise


def words(tokens: list[str]) -> list[str]:
    return [token for token in tokens if token != tt.BOUNDARY]


def cleaned(text: str) -> str:
    return clean_texts(pl.LazyFrame({"text": [text]})).collect()["clean"][0]


def test_mixed_chinese_english_text_is_split_into_words_of_both_languages() -> None:
    tokens = words(Tokenizer().cut("我的iPhone 15屏幕有坏点，can't return it？请尽快处理"))
    assert tokens[:2] == ["我", "的"]
    assert {"iphone", "15", "屏幕", "坏点", "can", "not", "return", "it", "请", "尽快", "处理"} <= set(tokens)
    assert all(token == token.lower() for token in tokens)


def test_full_width_letters_and_punctuation_are_normalised() -> None:
    assert cleaned("Ｘ１手机怎么样？ＯＫ！") == "x1手机怎么样?ok!"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("访客：App 闪退怎么办？\n客服：请更新到最新版本", "app 闪退怎么办?"),
        ("Visitor: where is my parcel?\n[system] visitor left before an agent joined", "where is my parcel?"),
        ("Hi,\n\nMy refund is late.\n\nThanks,\nEmily Chen", "my refund is late."),
        ("您好，\n发票开错了\n谢谢！\n王伟", "发票开错了"),
        ("客户来电：退款多久到账？（已解决）", "退款多久到账?"),
        ("Caller: charged twice (escalated, callback pending)", "charged twice"),
        ("请回电 138 0013 8000 或发邮件到 wei.w@example.com，订单号 SO202604050001", "请回电 或发邮件到 ,订单号 so"),
        ("@LumioGlobal the app won't start #lumio", "the app will not start lumio"),
        ("It's broken and I'd like a refund", "it broken and i would like a refund"),
    ],
)
def test_cleaning_keeps_the_customers_words_only(raw: str, expected: str) -> None:
    assert cleaned(raw) == expected


def test_language_of_a_text() -> None:
    frame = clean_texts(pl.LazyFrame({"text": ["退款多久到账", "refund please", "X1 手机", "12345", None]})).collect()
    assert frame["lang"].to_list() == ["zh", "en", "zh", "", ""]


def test_user_dictionary_terms_are_kept_whole_in_any_script_width_or_case() -> None:
    tokenizer = Tokenizer(
        [
            DictionaryTerm("X1 Pro"),
            DictionaryTerm("璐米"),
            DictionaryTerm("Aurora 路由器"),
            DictionaryTerm("丰巢"),
            DictionaryTerm("pro"),
        ]
    )
    tokens = words(
        tokenizer.cut("我在璐米官网买的Ｘ１ ＰＲＯ手机和aurora 路由器，放丰巢了。The product is a pro model")
    )
    assert {"x1 pro", "璐米", "aurora 路由器", "丰巢", "pro", "product"} <= set(tokens)
    assert "x1" not in tokens and "路由器" not in tokens and "丰" not in tokens


def test_without_the_dictionary_the_same_terms_fall_apart() -> None:
    tokens = words(Tokenizer().cut("我的X1 Pro手机放丰巢了"))
    assert "x1 pro" not in tokens and {"x1", "pro"} <= set(tokens)


def test_synonyms_map_to_their_canonical_term() -> None:
    tokenizer = Tokenizer([DictionaryTerm("x1pro", canonical="X1 Pro"), DictionaryTerm("X1 Pro")])
    docs = pl.LazyFrame(
        {"doc": [0, 1], "clean": ["x1pro坏了", "x1 pro坏了"]}, schema={"doc": pl.UInt32, "clean": pl.String}
    )
    terms = content_terms(tokenise(docs, tokenizer), tokenizer).collect()
    assert terms.filter(pl.col("term") == "x1 pro")["doc"].to_list() == [0, 1]


def test_token_rows_are_numbered_and_mark_sentence_ends_and_questions() -> None:
    docs = pl.LazyFrame(
        {"doc": [0, 1], "clean": ["发票开错了。能重开吗?", "ok"]}, schema={"doc": pl.UInt32, "clean": pl.String}
    )
    rows = tokenise(docs, Tokenizer()).collect()
    first = rows.filter(pl.col("doc") == 0)
    assert first["pos"].to_list() == list(range(first.height))
    assert first.filter(pl.col("end"))["token"].to_list() == [",", ","]
    assert first.filter(pl.col("qmark"))["pos"].to_list() == [first.height - 1]
    assert rows.filter(pl.col("doc") == 1)["pos"].to_list() == [0]


def test_question_sentence_is_the_first_question() -> None:
    docs = pl.LazyFrame(
        {"doc": [0, 1], "clean": ["我上周买了手机。请问保修期多久?谢谢", "地址填错了"]},
        schema={"doc": pl.UInt32, "clean": pl.String},
    )
    rows = question_sentence(tokenise(docs, Tokenizer())).collect()
    assert words(rows.filter(pl.col("doc") == 0)["token"].to_list()) == ["请问", "保修期", "多久"]
    assert words(rows.filter(pl.col("doc") == 1)["token"].to_list()) == ["地址", "填错", "了"]


def test_keyword_view_drops_stop_words_numbers_and_single_characters() -> None:
    tokenizer = Tokenizer([DictionaryTerm("鲜")])
    docs = pl.LazyFrame(
        {"doc": [0], "clean": ["请问我的快递 sf1234567 the parcels and deliveries were late 鲜 2 个 x1"]},
        schema={"doc": pl.UInt32, "clean": pl.String},
    )
    terms = set(content_terms(tokenise(docs, tokenizer), tokenizer).collect()["term"])
    assert terms == {"快递", "parcel", "delivery", "late", "鲜", "x1"}


def test_a_process_pool_gives_the_same_tokens(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tt, "POOL_MIN_TEXTS", 10)
    texts = [f"第{i}个订单的X1 Pro还没发货, order {i} is late" for i in range(40)]
    single = Tokenizer([DictionaryTerm("X1 Pro")]).cut_series(pl.Series(texts)).to_list()
    pooled = Tokenizer([DictionaryTerm("X1 Pro")], workers=2).cut_series(pl.Series(texts)).to_list()
    assert pooled == single


@pytest.mark.parametrize(
    ("value", "message"),
    [("", "empty"), ("   ", "empty"), ("!!!", "no letters"), ("a,b", "one term per row"), ("x" * 101, "longer")],
)
def test_invalid_dictionary_terms_are_refused(value: str, message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        tt.validate_term(value)


def test_stop_word_files_cover_both_languages() -> None:
    words_ = tt.stop_words()
    assert {"的", "了", "请问", "the", "and", "not"} <= words_
    assert "退款" not in words_ and "refund" not in words_
