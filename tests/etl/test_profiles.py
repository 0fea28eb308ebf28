"""Profiles are a pure function of each customer's interactions: names, contacts, scores, trends and risk."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import polars as pl

from etl.profiles import build_profiles

T0 = datetime(2026, 3, 1, tzinfo=UTC)


def _rows() -> pl.DataFrame:
    def row(i: int, profile: str, days: int, **values: object) -> dict[str, object]:
        base = {
            "interaction_id": f"s:{i}",
            "profile_id": profile,
            "occurred_at": T0 + timedelta(days=days),
            "channel": "phone",
            "direction": "inbound",
            "kind": "inquiry",
        }
        return {**base, **values}

    rows = [
        row(
            1,
            "p1",
            0,
            name="王伟",
            phone="+8613800138000",
            kind="complaint",
            case_id="K1",
            resolved=False,
            nps=9,
            stage="delivery",
        ),
        row(2, "p1", 5, name="王伟", phone="+8613800138000", channel="chat", case_id="K1", resolved=False, csat=5),
        row(3, "p1", 10, name="Wang Wei", email="w@example.com", channel="survey", kind="survey", nps=3, csat=2, ces=2),
        row(4, "p1", 12, name="王伟", stage="after_sale", member_id="M1", extra=json.dumps({"city": "上海"})),
        row(5, "p2", 1, name="李娜", kind="complaint", case_id="K2", resolved=False),
        row(6, "p2", 2, name="李娜", case_id="K2", resolved=True, nps=10),
    ]
    return pl.DataFrame(rows, infer_schema_length=None)


def test_profile_fields_and_risk() -> None:
    now = datetime(2026, 4, 1, tzinfo=UTC)
    profiles = {r["profile_id"]: r for r in build_profiles(_rows(), updated_at=now).to_dicts()}
    p1, p2 = profiles["p1"], profiles["p2"]
    assert p1["display_name"] == "王伟" and p1["name_key"] == "王伟"
    assert p1["primary_phone"] == "+8613800138000" and p1["primary_email"] == "w@example.com"
    assert json.loads(p1["channels"]) == ["chat", "phone", "survey"]
    assert p1["first_seen"] == T0 and p1["last_seen"] == T0 + timedelta(days=12)
    assert (p1["interaction_count"], p1["complaint_count"], p1["open_complaints"]) == (4, 1, 1)
    assert (p1["latest_nps"], p1["latest_csat"], p1["latest_ces"]) == (3, 2, 2)
    assert p1["nps_trend"] == -6.0 and p1["csat_trend"] == -3.0 and p1["ces_trend"] is None
    assert p1["stage"] == "after_sale" and p1["city"] == "上海" and p1["segment"] == "member"
    codes = {r["code"]: r for r in json.loads(p1["risk_reasons"])}
    assert set(codes) == {
        "repeat_contacts",
        "open_complaints",
        "falling_scores",
        "detractor",
        "low_csat",
        "hard_effort",
    }
    assert codes["repeat_contacts"]["value"] == 3  # survey answers are not contacts
    assert p1["risk_score"] == 100.0 and p1["updated_at"] == now
    assert p2["open_complaints"] == 0 and p2["segment"] == "guest" and p2["latest_nps"] == 10
    assert p2["risk_score"] == 0.0 and json.loads(p2["risk_reasons"]) == []
    assert p2["experience_score"] == 100.0


def test_the_same_profile_from_any_subset_containing_its_records() -> None:
    rows = _rows()
    alone = build_profiles(rows.filter(pl.col("profile_id") == "p1"), updated_at=T0)
    together = build_profiles(rows, updated_at=T0).filter(pl.col("profile_id") == "p1")
    assert alone.equals(together)
