"""Tests of etl.normalise: phones to E.164, e-mails, names and plain identifiers."""

from __future__ import annotations

import phonenumbers
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from polars.testing import assert_frame_equal

from cx.errors import ConfigError
from etl.normalise import (
    email_expr,
    email_valid_expr,
    name_key_expr,
    normalise_identifiers,
    normalise_phones,
    normalise_value,
    normalise_values,
    phone_lookup,
)

SAME_NUMBER = [
    "138 0013 8000",
    "+86-138-0013-8000",
    "008613800138000",
    "13800138000",
    "+86 138 0013 8000",
    "+8613800138000",
    "138-0013-8000",
    "８６１３８００１３８０００",  # full-width digits, country code without +
    "１３８００１３８０００",
    " (+86) 138.0013.8000 ",
]


@pytest.mark.parametrize("text", SAME_NUMBER)
def test_every_phone_format_gives_the_same_e164(text: str) -> None:
    out = normalise_phones(pl.LazyFrame({"phone": [text]}), region="CN").collect()
    assert out.to_dicts() == [{"phone": "+8613800138000", "phone_valid": True}]


def test_invalid_and_empty_phones_keep_text_and_are_flagged() -> None:
    out = normalise_phones(pl.LazyFrame({"phone": ["000000", " N/A ", "", None, "12345"]}), region="CN").collect()
    expected = pl.DataFrame(
        {"phone": ["000000", "N/A", None, None, "12345"], "phone_valid": [False, False, None, None, False]}
    )
    assert_frame_equal(out, expected)


def test_other_regions_and_landlines() -> None:
    texts = ["010-12345678", "+1 650 253 0000", "+44 20 7946 0958", "+41 (0) 78 927 2696", "(650) 253-0000"]
    out = normalise_phones(pl.LazyFrame({"phone": texts}), region="CN").collect()
    assert out.get_column("phone").to_list()[:4] == ["+861012345678", "+16502530000", "+442079460958", "+41789272696"]
    assert out.get_column("phone_valid").to_list() == [True, True, True, True, False]  # US number without +1 in CN
    us = normalise_phones(pl.LazyFrame({"phone": ["(650) 253-0000"]}), region="US").collect()
    assert us.item(0, "phone") == "+16502530000"


def test_region_per_row() -> None:
    lf = pl.LazyFrame({"phone": ["(650) 253-0000", "13800138000", "020 7946 0958"], "r": ["US", None, "GB"]})
    out = normalise_phones(lf, region="CN", region_column="r").collect()
    assert out.get_column("phone").to_list() == ["+16502530000", "+8613800138000", "+442079460958"]


def test_unknown_region_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="unknown phone region 'XX'"):
        normalise_phones(pl.LazyFrame({"phone": ["1"]}), region="XX").collect()


_PHONE_TEXT = st.one_of(
    st.text(alphabet="0123456789 +-()．０１２３４５６７８９", max_size=18),
    st.builds(
        lambda p, n, sep: sep.join([p, n[:3], n[3:7], n[7:]]),
        st.sampled_from(["", "+86", "0086", "86", "0", "+1", "+44", "+852", "+7"]),
        st.text(alphabet="0123456789", min_size=11, max_size=11),
        st.sampled_from(["", " ", "-"]),
    ),
)


@settings(max_examples=300, deadline=None)
@given(st.lists(_PHONE_TEXT, min_size=1, max_size=20), st.sampled_from(["CN", "US", "GB", "DE"]))
def test_fast_path_agrees_with_phonenumbers(texts: list[str], region: str) -> None:
    table = phone_lookup(pl.Series(texts, dtype=pl.String), region)
    got = dict(zip(table.get_column("raw").to_list(), table.get_column("e164").to_list(), strict=True))
    for text in set(texts):
        try:
            number = phonenumbers.parse(text, region)
            expected = (
                phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
                if phonenumbers.is_valid_number(number)
                else None
            )
        except phonenumbers.NumberParseException:
            expected = None
        assert got[text] == expected, text


def test_emails_trimmed_lowercased_and_checked() -> None:
    lf = pl.LazyFrame({"email": [" Foo.Bar@Example.COM\t", "ＡＢ＠ｃ.com", "x@y", "a..b@c.com", "", None, "a@b.co"]})
    out = lf.select(email_expr().alias("email")).with_columns(email_valid_expr().alias("ok")).collect()
    expected = pl.DataFrame(
        {
            "email": ["foo.bar@example.com", "ab@c.com", "x@y", "a..b@c.com", None, None, "a@b.co"],
            "ok": [True, True, False, False, None, None, True],
        }
    )
    assert_frame_equal(out, expected)


def test_name_keys() -> None:
    names = ["Wang  Lei", "LEI WANG", "lei·wang", "王 磊", "王磊", "Straße", "  ", None, "Ｌｅｉ Wang"]
    out = pl.LazyFrame({"name": names}).select(name_key_expr()).collect().get_column("name").to_list()
    assert out == ["lei wang", "lei wang", "lei wang", "王磊", "王磊", "strasse", None, None, "lei wang"]


def test_normalise_identifiers_all_fields() -> None:
    lf = pl.LazyFrame(
        {
            "phone": ["+86 138 0013 8000"],
            "email": [" A@B.COM "],
            "wechat_id": ["  oAbC  "],
            "device_id": [""],
            "crm_id": ["C1 "],
            "member_id": [None],
            "social_handle": ["Lei_Wang"],
            "name": [" Lei   Wang "],
            "address": ["Rm 1,\u3000Bldg 2"],
            "postcode": [" 100 001 "],
        },
        schema_overrides={"member_id": pl.String},
    )
    row = normalise_identifiers(lf, region="CN").collect().to_dicts()[0]
    assert row == {
        "phone": "+8613800138000",
        "email": "a@b.com",
        "wechat_id": "oAbC",
        "device_id": None,
        "crm_id": "C1",
        "member_id": None,
        "social_handle": "Lei_Wang",
        "name": "Lei Wang",
        "address": "Rm 1, Bldg 2",
        "postcode": "100001",
        "phone_valid": True,
        "name_key": "lei wang",
        "email_valid": True,
    }


def test_normalise_values_for_config_and_lookup() -> None:
    assert normalise_value("phone", "138 0000 0000") == "+8613800000000"
    assert normalise_value("email", " Test@Test.com ") == "test@test.com"
    assert normalise_value("name", "Wang Lei") == "lei wang"
    assert normalise_values("crm_id", [" N/A ", "", "x"]) == ["N/A", "x"]
