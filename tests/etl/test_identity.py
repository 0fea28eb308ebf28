"""Tests of etl.identity: linking, over-merge guards, fuzzy links, evidence and stable ids."""

from __future__ import annotations

import json
from datetime import date

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from polars.testing import assert_frame_equal

from cx.errors import EtlError
from etl.identity import resolve
from etl.identity_config import IdentityConfig
from etl.identity_ids import new_profile_id
from tests.etl.identity_fixtures import BIRTH, clusters, profile_of, records, together


def run(frame: pl.DataFrame, previous: pl.DataFrame | None = None, **kwargs):  # type: ignore[no-untyped-def]
    return resolve(
        frame.lazy(), previous=previous, overrides=kwargs.pop("overrides", []), config=kwargs.pop("config", None)
    )


# ------------------------------------------------------------------------------------------------ linking


def test_phone_formats_and_email_case_link_one_customer() -> None:
    frame = records(
        {"iid": "crm:1", "crm_id": "C1", "phone": "13800138000", "email": "Wang.Lei@Example.com"},
        {"iid": "hotline:1", "phone": "+86 138 0013 8000"},
        {"iid": "hotline:2", "phone": "008613800138000"},
        {"iid": "web:1", "email": "  wang.lei@EXAMPLE.com "},
        {"iid": "chat:1", "phone": "138-0013-8000", "device_id": "dev-9"},
        {"iid": "app:1", "device_id": "dev-9"},
    )
    result = run(frame)
    assert clusters(result.assignments) == {frozenset(frame.get_column("interaction_id"))}


def test_strangers_stay_apart() -> None:
    frame = records(
        {"iid": "crm:1", "crm_id": "C1", "phone": "13800138001"},
        {"iid": "crm:2", "crm_id": "C2", "phone": "13800138002"},
    )
    assert len(clusters(run(frame).assignments)) == 2


def test_duplicate_interaction_ids_are_refused() -> None:
    frame = records({"iid": "crm:1", "crm_id": "C1"}, {"iid": "crm:1", "crm_id": "C2"})
    with pytest.raises(EtlError, match="duplicated: \\['crm:1'\\]"):
        run(frame)


# ------------------------------------------------------------------------------------------------ guards


def test_placeholder_phone_links_nobody() -> None:
    frame = records(
        {"iid": "crm:1", "crm_id": "C1", "phone": "13800138001"},
        {"iid": "crm:2", "crm_id": "C2", "phone": "13800138002"},
        {"iid": "hotline:1", "phone": "13800000000"},
        {"iid": "hotline:2", "phone": "138 0000 0000"},
        {"iid": "survey:1", "phone": "13800000000", "email": "a@example.com"},
        {"iid": "survey:2", "phone": "13800000000", "email": "b@example.com"},
    )
    result = run(frame)
    assert len(clusters(result.assignments)) == 6
    detail = json.loads(result.links.filter(pl.col("interaction_id") == "hotline:1").item(0, "detail"))
    assert detail["ignored"] == [{"id_type": "phone", "reason": "placeholder"}]


def test_test_email_links_nobody() -> None:
    frame = records(
        {"iid": "web:1", "email": "test@test.com", "device_id": "d1"},
        {"iid": "web:2", "email": "TEST@test.com ", "device_id": "d2"},
        {"iid": "survey:1", "email": "test@test.com"},
    )
    assert len(clusters(run(frame).assignments)) == 3


def test_blocklist_is_configurable_and_normalised() -> None:
    frame = records({"iid": "hotline:1", "phone": "13912345678"}, {"iid": "hotline:2", "phone": "139 1234 5678"})
    assert len(clusters(run(frame).assignments)) == 1
    config = IdentityConfig(blocklist={"phone": ("139-1234-5678",)})
    assert len(clusters(run(frame, config=config).assignments)) == 2


def test_shared_kiosk_device_is_not_a_link() -> None:
    people = [
        {"iid": f"app:{i}", "device_id": "KIOSK-1", "member_id": f"M{i}"} for i in range(6)
    ]  # six members on one store kiosk
    own = [{"iid": f"app:own{i}", "device_id": f"phone-{i}", "member_id": f"M{i}"} for i in range(6)]
    frame = records(*people, *own)
    result = run(frame)
    assert len(clusters(result.assignments)) == 6
    for i in range(6):
        assert together(result.assignments, f"app:{i}", f"app:own{i}")
    detail = json.loads(result.links.filter(pl.col("interaction_id") == "app:0").item(0, "detail"))
    assert {"id_type": "device_id", "reason": "shared"} in detail["ignored"]


def test_a_household_device_below_the_cap_still_links() -> None:
    frame = records(
        {"iid": "app:1", "device_id": "tablet", "member_id": "M1"},
        {"iid": "app:2", "device_id": "tablet"},
    )
    assert len(clusters(run(frame).assignments)) == 1


def test_family_phone_does_not_merge_two_crm_customers() -> None:
    frame = records(
        {"iid": "crm:1", "crm_id": "C1", "phone": "13800138000", "email": "lei@example.com", "name": "王磊"},
        {"iid": "crm:2", "crm_id": "C2", "phone": "13800138000", "email": "fang@example.com", "name": "王芳"},
        {"iid": "web:1", "email": "fang@example.com", "device_id": "cookie-f"},
        {"iid": "hotline:1", "phone": "13800138000"},  # who called? unknown
        {"iid": "hotline:2", "phone": "13800138000", "name": "王芳"},  # the name tells
        {"iid": "chat:1", "phone": "13800138000", "device_id": "cookie-f"},  # the device tells
    )
    result = run(frame)
    a = result.assignments
    assert not together(a, "crm:1", "crm:2")
    assert together(a, "crm:2", "web:1", "hotline:2", "chat:1")
    assert not together(a, "hotline:1", "crm:1") and not together(a, "hotline:1", "crm:2")
    assert result.stats.conflicted_components == 1
    by_name = result.links.filter(pl.col("interaction_id") == "hotline:2").row(0, named=True)
    assert by_name["rule"] == "shared_identifier_name" and by_name["matched_interaction_id"] == "crm:2"


def test_per_type_limit_splits_at_the_weakest_link() -> None:
    # two CRM customers glued only through a device used by both: the device (weakest) is cut, e-mails hold
    frame = records(
        {"iid": "crm:1", "crm_id": "C1", "email": "a@example.com"},
        {"iid": "crm:2", "crm_id": "C2", "email": "b@example.com"},
        {"iid": "web:1", "email": "a@example.com", "device_id": "shared-laptop"},
        {"iid": "web:2", "email": "b@example.com", "device_id": "shared-laptop"},
    )
    result = run(frame)
    assert clusters(result.assignments) == {frozenset({"crm:1", "web:1"}), frozenset({"crm:2", "web:2"})}
    config = IdentityConfig(limits={"crm_id": 2, "member_id": 1})
    assert len(clusters(run(frame, config=config).assignments)) == 1


def test_two_member_ids_in_one_component_are_split() -> None:
    frame = records(
        {"iid": "app:1", "member_id": "M1", "device_id": "d"},
        {"iid": "app:2", "member_id": "M2", "device_id": "d"},
    )
    assert len(clusters(run(frame).assignments)) == 2


# ------------------------------------------------------------------------------------------------ fuzzy


def test_fuzzy_name_typo_with_same_birth_date_links() -> None:
    frame = records(
        {"iid": "crm:1", "crm_id": "C1", "name": "Emily Chen", "birth_date": BIRTH, "postcode": "200001"},
        {"iid": "web:1", "name": "Emly Chen", "birth_date": BIRTH, "device_id": "c1"},
        {"iid": "web:2", "device_id": "c1"},
    )
    result = run(frame)
    assert together(result.assignments, "crm:1", "web:1", "web:2")
    link = result.links.filter(pl.col("interaction_id") == "web:1").row(0, named=True)
    assert link["rule"] == "fuzzy_name_birth_date" and link["matched_interaction_id"] == "crm:1"
    assert 0.9 < link["score"] < 1.0


def test_fuzzy_needs_the_same_birth_date() -> None:
    frame = records(
        {"iid": "crm:1", "crm_id": "C1", "name": "Emily Chen", "birth_date": BIRTH},
        {"iid": "web:1", "name": "Emly Chen", "birth_date": date(1986, 3, 14)},
    )
    assert len(clusters(run(frame).assignments)) == 2


def test_fuzzy_by_postcode_and_swapped_name_order() -> None:
    frame = records(
        {"iid": "crm:1", "crm_id": "C1", "name": "Chen Emily", "postcode": "200001", "address": "Rm 1, Bldg 2"},
        {"iid": "web:1", "name": "emily chen", "postcode": "200001", "address": "rm 1, bldg 2"},
    )
    link = run(frame).links.filter(pl.col("interaction_id") == "web:1").row(0, named=True)
    assert link["rule"] == "fuzzy_name_postcode" and link["score"] == 1.0


def test_family_member_at_the_same_address_is_not_fuzzy_linked() -> None:
    frame = records(
        {"iid": "crm:1", "crm_id": "C1", "name": "王磊", "birth_date": BIRTH, "postcode": "200001"},
        {"iid": "web:1", "name": "王芳", "postcode": "200001", "address": "上海市静安区学院路1号"},
    )
    assert len(clusters(run(frame).assignments)) == 2


def test_fuzzy_never_joins_two_anchored_customers() -> None:
    frame = records(
        {"iid": "crm:1", "crm_id": "C1", "name": "Emily Chen", "birth_date": BIRTH},
        {"iid": "crm:2", "crm_id": "C2", "name": "Emily Chen", "birth_date": BIRTH},
        {"iid": "web:1", "name": "Emily Chen", "birth_date": BIRTH},
    )
    result = run(frame)
    assert not together(result.assignments, "crm:1", "crm:2")
    assert not together(result.assignments, "web:1", "crm:1")  # an exact tie between two customers: no link


def test_fuzzy_can_be_switched_off() -> None:
    frame = records(
        {"iid": "crm:1", "crm_id": "C1", "name": "Emily Chen", "birth_date": BIRTH},
        {"iid": "web:1", "name": "Emily Chen", "birth_date": BIRTH},
    )
    config = IdentityConfig.model_validate({"fuzzy": {"enabled": False}})
    assert len(clusters(run(frame, config=config).assignments)) == 2


# ------------------------------------------------------------------------------------------------ evidence


def test_every_record_has_one_evidence_row() -> None:
    frame = records(
        {"iid": "crm:1", "crm_id": "C1", "phone": "13800138000", "member_id": "M1"},
        {"iid": "hotline:1", "phone": "13800138000"},
        {"iid": "app:1", "member_id": "M1", "device_id": "d1"},
        {"iid": "app:2", "device_id": "d1"},
        {"iid": "web:9", "device_id": "lonely"},
    )
    result = run(frame)
    links = result.links.sort("interaction_id")
    assert links.get_column("interaction_id").to_list() == sorted(frame.get_column("interaction_id").to_list())
    assert_frame_equal(
        links.select("interaction_id", "profile_id"), result.assignments.sort("interaction_id"), check_row_order=True
    )
    rows = {r["interaction_id"]: r for r in links.iter_rows(named=True)}
    assert rows["hotline:1"]["rule"] == "shared_identifier" and rows["hotline:1"]["id_type"] == "phone"
    assert rows["hotline:1"]["matched_interaction_id"] == "crm:1"
    assert rows["crm:1"]["id_type"] == "member_id"  # the strongest identifier it shares
    assert rows["app:2"]["id_type"] == "device_id" and rows["app:2"]["matched_interaction_id"] == "app:1"
    assert rows["web:9"]["rule"] == "single_record" and rows["web:9"]["matched_interaction_id"] is None
    assert json.loads(rows["crm:1"]["detail"])["shared"] == ["member_id", "phone"]


def test_the_peer_is_the_first_record_seen_so_newer_records_leave_the_evidence_alone() -> None:
    older = [
        {"iid": "hotline:5", "phone": "13800138000", "day": 1},
        {"iid": "hotline:3", "phone": "13800138000", "day": 2},
        {"iid": "hotline:7", "phone": "13800138000", "day": 3},
    ]
    before = {r["interaction_id"]: r for r in run(records(*older)).links.iter_rows(named=True)}
    assert before["hotline:3"]["matched_interaction_id"] == "hotline:5"  # the first seen, not the smallest id
    assert before["hotline:7"]["matched_interaction_id"] == "hotline:5"
    assert before["hotline:5"]["matched_interaction_id"] == "hotline:3"  # the first's peer is the second seen
    # newer records, with ids below and above every stored one, share the phone
    newer = [
        {"iid": "hotline:1", "phone": "13800138000", "day": 4},
        {"iid": "hotline:9", "phone": "13800138000", "day": 5},
    ]
    after = {r["interaction_id"]: r for r in run(records(*older, *newer)).links.iter_rows(named=True)}
    for iid, row in before.items():
        assert after[iid] == {**row, "profile_id": after[iid]["profile_id"]}, iid
    assert after["hotline:1"]["matched_interaction_id"] == after["hotline:9"]["matched_interaction_id"] == "hotline:5"


def test_identifiers_rows() -> None:
    frame = records(
        {"iid": "crm:1", "crm_id": "C1", "phone": "13800138000", "day": 1},
        {"iid": "hotline:1", "phone": "138 0013 8000", "day": 5},
        {"iid": "hotline:2", "phone": "13800000000", "day": 6},
    )
    result = run(frame)
    pid = profile_of(result.assignments, "crm:1")
    phone = result.identifiers.filter((pl.col("profile_id") == pid) & (pl.col("id_type") == "phone")).row(0, named=True)
    assert phone["value"] == "+8613800138000" and phone["records"] == 2
    assert phone["sources"] == ["crm", "hotline"] and phone["channels"] == ["phone", "store"]
    assert (phone["last_seen"] - phone["first_seen"]).days == 4
    assert "+8613800000000" not in result.identifiers.get_column("value").to_list()  # placeholders are not kept


# ------------------------------------------------------------------------------------------------ stable ids


BASE = (
    {"iid": "crm:1", "crm_id": "C1", "phone": "13800138001", "day": 1},
    {"iid": "hotline:1", "phone": "13800138001", "day": 10},
    {"iid": "crm:2", "crm_id": "C2", "email": "b@example.com", "day": 2},
    {"iid": "web:2", "email": "b@example.com", "device_id": "dev-b", "day": 20},
)


def test_same_data_gives_the_same_ids() -> None:
    frame = records(*BASE)
    first = run(frame).assignments.sort("interaction_id")
    again = run(frame).assignments.sort("interaction_id")
    assert_frame_equal(first, again)
    assert profile_of(first, "crm:1") == new_profile_id("crm:1")  # from the smallest interaction id


def test_rerun_with_previous_keeps_ids_and_new_records_join_them() -> None:
    first = run(records(*BASE))
    grown = records(*BASE, {"iid": "app:7", "device_id": "dev-b", "day": 30}, {"iid": "crm:3", "crm_id": "C3"})
    second = run(grown, previous=first.assignments)
    old = first.assignments.join(second.assignments, on="interaction_id", suffix="_new")
    assert (old.get_column("profile_id") == old.get_column("profile_id_new")).all()
    assert profile_of(second.assignments, "app:7") == profile_of(first.assignments, "web:2")
    assert second.stats.created == 1 and second.stats.kept == 2 and second.stats.merged == 0
    assert second.retired_profile_ids == []


def test_a_merge_keeps_the_older_id() -> None:
    young = {"iid": "web:9", "email": "x@example.com", "device_id": "dev-x", "day": 50}
    old = {"iid": "app:5", "device_id": "dev-old", "day": 3}
    first = run(records(young, old, {"iid": "app:6", "device_id": "dev-old", "day": 4}))
    assert not together(first.assignments, "web:9", "app:5")
    bridge = {"iid": "chat:1", "email": "x@example.com", "device_id": "dev-old", "day": 60}
    second = run(
        records(young, old, {"iid": "app:6", "device_id": "dev-old", "day": 4}, bridge), previous=first.assignments
    )
    assert together(second.assignments, "web:9", "app:5", "chat:1")
    assert profile_of(second.assignments, "web:9") == profile_of(first.assignments, "app:5")
    assert second.stats.merged == 1
    assert second.retired_profile_ids == [profile_of(first.assignments, "web:9")]


def test_a_split_keeps_the_id_for_the_larger_part() -> None:
    rows = [
        {"iid": "crm:1", "crm_id": "C1", "email": "a@example.com"},
        {"iid": "web:1", "email": "a@example.com", "device_id": "laptop"},
        {"iid": "web:2", "email": "a@example.com"},
        {"iid": "app:1", "device_id": "laptop"},
    ]
    first = run(records(*rows))
    assert len(clusters(first.assignments)) == 1
    # later a second CRM customer appears on the same laptop: the cluster splits at the device
    rows += [
        {"iid": "crm:2", "crm_id": "C2", "email": "z@example.com"},
        {"iid": "web:3", "email": "z@example.com", "device_id": "laptop"},
    ]
    second = run(records(*rows), previous=first.assignments)
    assert profile_of(second.assignments, "crm:1") == profile_of(first.assignments, "crm:1")
    assert profile_of(second.assignments, "app:1") != profile_of(first.assignments, "crm:1")
    assert second.stats.split == 1


# ------------------------------------------------------------------------------------------------ properties


_ROWS = st.lists(
    st.fixed_dictionaries(
        {
            "phone": st.sampled_from([None, "13800138001", "13800138002", "13800000000"]),
            "email": st.sampled_from([None, "a@example.com", "b@example.com"]),
            "device_id": st.sampled_from([None, "d1", "d2", "d3"]),
            "crm_id": st.sampled_from([None, None, "C1", "C2"]),
            "member_id": st.sampled_from([None, None, "M1"]),
            "name": st.sampled_from([None, "Emily Chen", "Emly Chen", "王磊"]),
            "birth_date": st.sampled_from([None, BIRTH]),
        }
    ),
    min_size=1,
    max_size=14,
)


@settings(max_examples=60, deadline=None)
@given(_ROWS, st.randoms(use_true_random=False))
def test_resolve_is_invariant_to_row_order(rows: list[dict[str, object]], rnd) -> None:  # type: ignore[no-untyped-def]
    tagged = [{"iid": f"x:{i:03d}", **r} for i, r in enumerate(rows)]
    frame = records(*tagged)
    shuffled = frame.sample(fraction=1.0, shuffle=True, seed=rnd.randint(0, 10_000))
    a, b = run(frame), run(shuffled)
    assert_frame_equal(a.assignments.sort("interaction_id"), b.assignments.sort("interaction_id"))
    assert_frame_equal(a.links.sort("interaction_id"), b.links.sort("interaction_id"))
    assert_frame_equal(
        a.identifiers.sort("profile_id", "id_type", "value"), b.identifiers.sort("profile_id", "id_type", "value")
    )
    # and never two crm ids in one profile
    per_profile = (
        a.assignments.join(frame, on="interaction_id")
        .group_by("profile_id")
        .agg(pl.col("crm_id").drop_nulls().n_unique())
    )
    assert per_profile.get_column("crm_id").max() <= 1
