"""Customer lookup: every identifier format finds the same profile, typos in names still find the customer,
the disambiguation list is masked, searches are audited without the searched value."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine, select

from cx import audit
from cx.access import Role
from cx.db import transaction
from cx.errors import PermissionDenied
from cx.lookup import (
    classify,
    invalidate_name_index,
    name_index,
    name_key,
    normalise_email,
    normalise_phone,
    search_customers,
)
from cx.models import AuditEntry, LoadBatch, Profile
from tests.cx.customer_fixtures import (
    EMILY,
    ZWM,
    ZWM_EMAIL_FORMATS,
    ZWM_IDS,
    ZWM_PHONE_FORMATS,
    World,
    build_world,
)


@pytest.fixture
def world(engine: Engine) -> World:
    invalidate_name_index()
    with transaction(engine) as session:
        return build_world(session)


def _search(engine: Engine, world: World, query: str, role: Role = Role.AGENT):
    with transaction(engine) as session:
        return search_customers(session, world[role], query)


@pytest.mark.parametrize(
    ("query", "kind"),
    [
        ("138 0013 8000", "phone"),
        ("+86-138-0013-8000", "phone"),
        ("008613800138000", "phone"),
        (" Zhang.Weiming@Example.COM ", "email"),
        ("wxid_zwm2024", "id"),
        ("M1000234567", "id"),
        ("@weiming_z", "id"),
        ("张伟明", "name"),
        ("Emily Chen", "name"),
        ("x", "empty"),
        ("138", "empty"),
        ("", "empty"),
    ],
)
def test_classify(query: str, kind: str) -> None:
    assert classify(query).kind == kind


def test_normalisation_rules() -> None:
    assert {normalise_phone(p) for p in ZWM_PHONE_FORMATS} == {"+8613800138000"}
    assert normalise_phone("028-8888-6666") == "+862888886666"
    assert normalise_phone("12345") is None and normalise_phone("not a phone") is None
    assert normalise_phone("+1 650 253 0000", "CN") == "+16502530000"
    assert {normalise_email(e) for e in ZWM_EMAIL_FORMATS} == {"zhang.weiming@example.com"}
    assert normalise_email("   ") is None
    assert name_key("  Emily   CHEN ") == "chen emily" and name_key("Ｅｍｉｌｙ") == "emily"
    assert name_key("王 磊") == "王磊" and name_key("Chen, Emily") == "chen emily" and name_key("·") is None


@pytest.mark.parametrize("query", ZWM_PHONE_FORMATS + ZWM_EMAIL_FORMATS + ZWM_IDS)
def test_each_identifier_format_finds_the_same_profile(engine: Engine, world: World, query: str) -> None:
    result = _search(engine, world, query)
    assert result.unique is not None, f"{query!r} found {result.total} profiles"
    assert result.unique.profile_id == ZWM
    assert result.unique.score == 100


def test_name_with_a_typo_finds_the_right_customer_among_similar_names(engine: Engine, world: World) -> None:
    # 明 -> 民 (same pinyin, the typical input-method slip); 张伟, 张维明 and 李伟明 are near too
    result = _search(engine, world, "张伟民")
    assert result.candidates[0].profile_id == ZWM
    assert {c.profile_id for c in result.candidates} >= {ZWM, "p-zw-0002"}
    # Latin: a dropped letter, and family name first
    for query in ("Emly Chen", "chen emily", "EMILY  CHEN"):
        assert _search(engine, world, query).candidates[0].profile_id == EMILY, query


def test_exact_name_shared_by_two_customers_gives_a_list(engine: Engine, world: World) -> None:
    result = _search(engine, world, "王芳")
    assert result.unique is None and result.total == 2
    # most recent contact first, then the other one
    assert [c.profile_id for c in result.candidates] == ["p-wf-0008", "p-wf-0009"]
    assert [c.city for c in result.candidates] == ["成都", "武汉"]


def test_shared_phone_offers_both_profiles(engine: Engine, world: World) -> None:
    result = _search(engine, world, "028 8888 6666")
    assert result.kind == "phone" and result.total == 2 and result.unique is None


def test_disambiguation_list_is_masked(engine: Engine, world: World) -> None:
    for role in (Role.AGENT, Role.CX_OWNER):
        candidate = _search(engine, world, "王芳", role).candidates[0]
        assert candidate.phone == "136****5678"  # always masked in the list
        assert candidate.name == "王芳"  # names are visible to both roles
        assert candidate.last_contact is not None


def test_unknown_values_find_nothing(engine: Engine, world: World) -> None:
    for query in ("139 9999 9999", "nobody@example.com", "wxid_nobody", "欧阳娜娜"):
        result = _search(engine, world, query)
        assert result.total == 0 and result.candidates == [], query


def test_search_is_audited_without_the_searched_value(engine: Engine, world: World) -> None:
    _search(engine, world, "138 0013 8000")
    _search(engine, world, "张伟民")
    with transaction(engine) as session:
        rows = audit.search(session, action="profile.search")
        searched_tag = audit.pseudonym(session, "+8613800138000")
    assert len(rows) == 2
    by_kind = {row.detail["kind"]: row for row in rows}
    assert by_kind["phone"].object_id == ZWM and by_kind["phone"].username == "t-agent"
    assert by_kind["phone"].detail["query"] == searched_tag
    assert by_kind["name"].object_id is None  # a list, not one profile
    for row in rows:
        text = repr(row.detail) + repr(row.object_id)
        for raw in ("13800138000", "138 0013", "张伟", "zhang"):
            assert raw not in text


def test_roles_without_profile_search_are_refused(engine: Engine, world: World) -> None:
    with pytest.raises(PermissionDenied), transaction(engine) as session:
        search_customers(session, world[Role.DEPARTMENT_HEAD], "138 0013 8000")


def test_name_index_is_rebuilt_after_an_etl_run(engine: Engine, world: World) -> None:
    with transaction(engine) as session:
        first = name_index(session)
        assert name_index(session) is first  # cached
        session.add(Profile(profile_id="p-new-0010", display_name="欧阳娜娜", name_key="欧阳娜娜"))
        session.add(LoadBatch(status="succeeded"))
    with transaction(engine) as session:
        assert name_index(session) is not first
        assert search_customers(session, world[Role.AGENT], "欧阳娜娜").unique.profile_id == "p-new-0010"
        second = name_index(session)
        session.delete(session.get(Profile, "p-new-0010"))  # an erasure (cx.privacy) deletes the profile ...
        session.add(AuditEntry(action="privacy.erase"))  # ... and logs it: the name leaves the index at once
    with transaction(engine) as session:
        assert name_index(session) is not second
        assert search_customers(session, world[Role.AGENT], "欧阳娜娜").total == 0


def test_lookups_do_not_touch_the_interactions_table(engine: Engine, world: World) -> None:
    from sqlalchemy import event

    statements: list[str] = []

    def capture(_conn, _cursor, statement, *_args) -> None:
        statements.append(statement)

    event.listen(engine, "before_cursor_execute", capture)
    try:
        for query in ("138 0013 8000", "zhang.weiming@example.com", "wxid_zwm2024", "张伟民", "Emly Chen"):
            _search(engine, world, query)
    finally:
        event.remove(engine, "before_cursor_execute", capture)
    assert statements and not [s for s in statements if "interactions" in s]
    with transaction(engine) as session:
        assert session.scalar(select(AuditEntry.id).limit(1)) is not None


AGREEMENT_SAMPLES = {
    "phone": [*ZWM_PHONE_FORMATS, "028-8888-6666", "+1 650 253 0000", "12345", "not a phone", " +86 139 1234 5678 "],
    "email": [*ZWM_EMAIL_FORMATS, "Ｅｍｉｌｙ．Ｃｈｅｎ＠ｅｘａｍｐｌｅ．ｃｏｍ", " Mixed.Case@Sub.Example.ORG\t"],
    "name": ["张伟明", "王 磊", "  Emily   CHEN ", "Chen, Emily", "lei·wang", "Ｅｍｉｌｙ", "Straße", "O'Brien-Smith"],
    "wechat_id": [" wxid_zwm2024 ", "oAbC-12_xyz"],
}


@pytest.mark.parametrize("id_type", sorted(AGREEMENT_SAMPLES))
def test_lookup_normalises_like_the_etl(id_type: str) -> None:
    """cx.lookup may not import etl, so it has its own one-value normalisation: it must agree with etl.normalise."""
    etl_normalise = pytest.importorskip("etl.normalise")
    from cx.lookup import normalise_id

    ours = {"phone": normalise_phone, "email": normalise_email, "name": name_key, "wechat_id": normalise_id}[id_type]
    for value in AGREEMENT_SAMPLES[id_type]:
        theirs = etl_normalise.normalise_value(id_type, value, "CN")
        mine = ours(value)
        if id_type == "phone" and mine is None:
            # invalid numbers: the ETL keeps the trimmed text (and flags it invalid); the lookup tries that text too
            assert theirs == value.strip(), value
        else:
            assert mine == theirs, value


def test_one_exact_name_opens_at_once(engine: Engine, world: World) -> None:
    # 张伟 is exact for one customer; 张伟明 / 张维明 are only similar, so they are not offered besides
    result = _search(engine, world, "张伟")
    assert result.unique is not None and result.unique.profile_id == "p-zw-0002"
    # ... but a near-identical name (one letter apart) is still offered next to the exact one
    result = _search(engine, world, "Emily Chen")
    assert [c.profile_id for c in result.candidates] == [EMILY, "p-emily-0006"] and result.unique is None
