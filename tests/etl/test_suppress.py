"""The suppression step sets erased customers' records aside (counted), hashing unique values only."""

from __future__ import annotations

import polars as pl
import pytest
from polars.testing import assert_frame_equal
from sqlalchemy import Engine

from cx import privacy
from cx.db import transaction
from cx.suppression import SuppressionSet, hash_identifier, suppressed
from etl import suppress
from tests.cx.privacy_fixtures import ADMIN, seed

SALT = "test-salt"


def _set(*pairs: tuple[str, str]) -> SuppressionSet:
    return SuppressionSet(
        SALT, frozenset(hash_identifier(SALT, t, v) for t, v in pairs), frozenset(t for t, _ in pairs)
    )


RECORDS = pl.LazyFrame(
    {
        "record_id": ["1", "2", "3", "4", "5", "6"],
        "phone": ["138 0013 8000", "+86-138-0013-8000", "13900139000", None, "１３８００１３８０００", "junk"],
        "email": [None, None, "Other@Example.com", " ZHANG.WEI@example.com ", None, "a@b.cn"],
        "wechat_id": [None, None, None, None, None, "wx_keep"],
    }
)


def test_an_empty_list_costs_nothing() -> None:
    kept, removed = suppress.split_suppressed(RECORDS, SuppressionSet(SALT))
    assert kept is RECORDS
    assert removed.collect().height == 0
    assert suppress.drop_suppressed(RECORDS, SuppressionSet(SALT)) is RECORDS


def test_records_of_erased_customers_are_set_aside_in_any_format() -> None:
    gone = _set(("phone", "+8613800138000"), ("email", "zhang.wei@example.com"))
    kept, removed = suppress.split_suppressed(RECORDS, gone)
    assert removed.collect()["record_id"].to_list() == ["1", "2", "4", "5"]
    assert kept.collect()["record_id"].to_list() == ["3", "6"]
    assert_frame_equal(suppress.drop_suppressed(RECORDS, gone), kept)
    assert kept.collect_schema() == RECORDS.collect_schema()


def test_only_listed_identifier_types_are_hashed_and_each_unique_value_once(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[tuple[str, str]] = []
    real = suppress.hash_identifier

    def counting(salt: str, id_type: str, value: str) -> str:
        calls.append((id_type, value))
        return real(salt, id_type, value)

    monkeypatch.setattr(suppress, "hash_identifier", counting)
    many = pl.concat([RECORDS] * 500)
    kept, removed = suppress.split_suppressed(many, _set(("phone", "+8613800138000")))
    assert removed.collect().height == 4 * 500 - 500  # rows 1, 2, 5 (row 4 has no phone)
    assert {t for t, _ in calls} == {"phone"}, "e-mail and WeChat columns are not on the list: not hashed"
    assert len(calls) == len(set(calls)) <= 5


def test_suppression_list_from_an_erasure_drops_the_customers_old_records(engine: Engine) -> None:
    seed(engine)
    with transaction(engine) as session:
        privacy.erase_customer(session, ADMIN, identifier="138 0013 8000")
    with transaction(engine) as session:
        listed = suppressed(session)
    old_files = pl.LazyFrame(
        {
            "record_id": ["h1", "e1", "w1", "x1", "w2"],
            "phone": ["138-0013-8000", None, "13800000000", "13900139000", None],
            "email": [None, "Zhang.Wei@Example.com", None, None, None],
            "wechat_id": [None, None, "wx_zhangwei_01", None, "wx_lina"],
            "crm_id": [None, "CRM-000777", None, None, None],
        }
    )
    kept, removed = suppress.split_suppressed(old_files, listed)
    assert sorted(removed.collect()["record_id"]) == ["e1", "h1", "w1"]
    assert sorted(kept.collect()["record_id"]) == ["w2", "x1"]


def test_quarantined_rows_of_erased_customers_are_set_aside() -> None:
    gone = _set(("phone", "+8613800138000"), ("email", "zhang.wei@example.com"), ("wechat_id", "wx_zhang"))
    bad = pl.LazyFrame(
        {
            "record_id": ["q1", "q2", "q3", "q4", "q5", "q6"],
            "raw": [
                '{"caller_number":"138-0013-8000","start_time":"yesterday"}',
                '{"customer_phone":"１３８００１３８０００"}',
                '{"from_address":" ZHANG.WEI@Example.com","x":"say \\"hi\\""}',
                '{"mobile":13800138000}',
                '{"openid":"wx_keep","caller_number":"139 0013 9000"}',
                None,
            ],
            "reason": [None, None, None, None, 'phone: "x" is not a number', 'openid: "wx_zhang" is too long'],
        }
    )
    kept, removed = suppress.split_suppressed_quarantine(bad, gone)
    assert removed.collect()["record_id"].to_list() == ["q1", "q2", "q3", "q4", "q6"]
    assert kept.collect()["record_id"].to_list() == ["q5"]
    same, none = suppress.split_suppressed_quarantine(bad, SuppressionSet(SALT))
    assert same is bad and none.collect().height == 0
