"""Erasure by any identifier leaves nothing behind, suppresses the identifiers, and exports are complete; audited."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import Engine, func, select

from cx import privacy
from cx.db import transaction
from cx.errors import NotFoundError, PermissionDenied, ValidationError
from cx.models import AuditEntry, Identifier, Interaction, Profile, QuarantinedRow, Suppression
from cx.suppression import SALT_KEY, hash_identifier, normalise, normalise_email, normalise_phone, suppressed
from tests.cx.privacy_fixtures import (
    ADMIN,
    AGENT,
    CRM,
    CUSTOMER_FORMS,
    CX_OWNER,
    DEVICE,
    EMAIL,
    MEMBER,
    PHONE,
    PLACEHOLDER,
    SOCIAL,
    WECHAT,
    scan_store,
    seed,
)


@pytest.fixture
def store(engine: Engine) -> Engine:
    seed(engine)
    return engine


def _erase(engine: Engine, identifier: str, **kwargs) -> privacy.ErasureReceipt:
    with transaction(engine) as session:
        return privacy.erase_customer(session, ADMIN, identifier=identifier, **kwargs)


@pytest.mark.parametrize(
    "identifier",
    [
        "138 0013 8000",
        "+86-138-0013-8000",
        "008613800138000",
        "１３８００１３８０００",
        " Zhang.Wei@Example.COM ",
        WECHAT,
        CRM,
        MEMBER,
        DEVICE,
        SOCIAL,
        "P-A",
    ],
)
def test_erasure_by_any_identifier_leaves_no_trace(store: Engine, identifier: str) -> None:
    receipt = _erase(store, identifier)
    assert receipt.profiles == 1
    assert receipt.counts == {
        "profiles": 1,
        "identifiers": 7,
        "identity_links": 5,
        "identity_overrides": 1,
        "interactions": 6,  # five linked + the unlinked web record with the same e-mail
        "quarantine": 5,
        "alerts": 2,
        "alert_events": 1,
        "notifications": 1,
        "profile_notes": 1,
    }
    assert scan_store(store, (*CUSTOMER_FORMS, "P-A", "张伟", "Zhang Wei")) == []
    # the stranger is untouched, including the placeholder phone both had
    with transaction(store) as session:
        assert session.get(Profile, "P-B") is not None
        assert session.scalar(select(func.count()).select_from(Interaction)) == 2
        assert session.scalar(select(func.count()).select_from(Identifier)) == 2
        assert session.scalar(select(func.count()).select_from(QuarantinedRow)) == 2


def test_receipt_and_audit_hold_no_personal_data(store: Engine) -> None:
    receipt = _erase(store, "138 0013 8000")
    text = json.dumps(receipt.as_dict(), ensure_ascii=False)
    assert not [form for form in (*CUSTOMER_FORMS, "P-A") if form in text]
    assert receipt.identifier_type == "phone" and receipt.suppressed == 7 and receipt.total == 30
    with transaction(store) as session:
        entry = session.scalar(select(AuditEntry).where(AuditEntry.action == "privacy.erase"))
    assert entry.outcome == "ok" and entry.username == ADMIN.username and entry.object_id == receipt.erasure_id
    assert entry.detail["counts"] == receipt.counts
    assert not [form for form in (*CUSTOMER_FORMS, "P-A") if form in json.dumps(entry.detail, ensure_ascii=False)]


def test_suppression_list_holds_salted_hashes_of_every_identifier_but_not_shared_ones(store: Engine) -> None:
    _erase(store, EMAIL)
    with transaction(store) as session:
        listed = suppressed(session)
        salt = session.get(__import__("cx.models", fromlist=["AppSetting"]).AppSetting, SALT_KEY).value
        rows = session.execute(select(Suppression.id_type, Suppression.value_hash)).all()
    assert listed.salt == salt and len(salt) == 64
    assert {t for t, _ in rows} == {"phone", "email", "wechat_id", "crm_id", "member_id", "device_id", "social_handle"}
    for id_type, value in (
        ("phone", PHONE),
        ("email", EMAIL),
        ("wechat_id", WECHAT),
        ("crm_id", CRM),
        ("member_id", MEMBER),
        ("device_id", DEVICE),
        ("social_handle", SOCIAL),
    ):
        assert listed.contains(id_type, value)
    assert not listed.contains("phone", PLACEHOLDER), "a placeholder shared with a stranger must not be suppressed"
    import hashlib

    assert hashlib.sha256(PHONE.encode()).hexdigest() not in listed.hashes
    assert hash_identifier(salt, "phone", PHONE) in listed.hashes


def test_erasing_twice_is_harmless_and_unknown_identifiers_erase_nothing(store: Engine) -> None:
    _erase(store, WECHAT)
    again = _erase(store, WECHAT)
    assert again.profiles == 0 and again.total == 0 and again.suppressed == 0
    with transaction(store) as session:
        outcomes = [e.outcome for e in session.scalars(select(AuditEntry).where(AuditEntry.action == "privacy.erase"))]
    assert outcomes == ["ok", "not_found"]


def test_an_identifier_shared_by_several_profiles_is_refused(store: Engine) -> None:
    with transaction(store) as session:
        assert privacy.find_customer(session, ADMIN, "13800000000") == 2
    with pytest.raises(ValidationError, match="matches 2 customer profiles"):
        _erase(store, "13800000000")
    with transaction(store) as session:
        assert session.scalar(select(func.count()).select_from(Profile)) == 2


@pytest.mark.parametrize("principal", [CX_OWNER, AGENT, None])
def test_only_admins_erase_and_refusals_are_audited_despite_rollback(store: Engine, principal) -> None:
    with pytest.raises(PermissionDenied), transaction(store) as session:
        privacy.erase_customer(session, principal, identifier=PHONE)
    with transaction(store) as session:
        assert session.get(Profile, "P-A") is not None
        denied = session.scalars(select(AuditEntry).where(AuditEntry.outcome == "denied")).all()
    assert [(e.action, e.username) for e in denied] == [("privacy.erase", principal.username if principal else None)]


def test_export_holds_everything_about_one_customer_and_is_audited(store: Engine) -> None:
    with transaction(store) as session:
        data = privacy.export_customer(session, CX_OWNER, "P-A")
    blob = privacy.export_json(data).decode("utf-8")
    json.loads(blob)
    assert data["profile"]["primary_phone"] == PHONE and data["profile"]["display_name"] == "张伟"
    assert {i["id_type"] for i in data["identifiers"]} >= {"phone", "email", "wechat_id", "crm_id"}
    assert sorted(i["interaction_id"] for i in data["interactions"]) == [
        "app:A1",
        "email:E1",
        "hotline:H1",
        "social:S1",
        "wechat:W1",
    ]
    assert len(data["notes"]) == 1 and len(data["alerts"]) == 2 and len(data["quarantine"]) == 5
    assert data["alerts"][0]["events"] or data["alerts"][1]["events"]
    assert "李娜" not in blob and "+8613900139000" not in blob
    with transaction(store) as session:
        entry = session.scalar(select(AuditEntry).where(AuditEntry.action == "profile.export"))
    assert (entry.object_id, entry.username, entry.outcome) == ("P-A", CX_OWNER.username, "ok")


def test_export_refuses_agents_and_unknown_profiles(store: Engine) -> None:
    with pytest.raises(PermissionDenied), transaction(store) as session:
        privacy.export_customer(session, AGENT, "P-A")
    with pytest.raises(NotFoundError, match="search the customer again"), transaction(store) as session:
        privacy.export_customer(session, ADMIN, "P-Z")
    with transaction(store) as session:
        denied = session.scalars(select(AuditEntry).where(AuditEntry.outcome == "denied")).all()
    assert [(e.action, e.object_id) for e in denied] == [("profile.export", "P-A")]


def test_classify_reads_phones_emails_and_plain_ids() -> None:
    assert privacy.classify("138 0013 8000")[0] == ("phone", PHONE)
    assert privacy.classify("A@B.cn")[0] == ("email", "a@b.cn")
    assert privacy.classify("wxid_13800138000")[0] == ("wechat_id", "wxid_13800138000")
    with pytest.raises(ValidationError):
        privacy.classify("   ")


SAMPLE_PHONES = [
    "13800138000",
    "138 0013 8000",
    "+86-138-0013-8000",
    "008613800138000",
    "+86 138 0013 8000",
    "+8613800138000",
    "138-0013-8000",
    "１３８００１３８０００",
    "(021) 6123 4567",
]
SAMPLE_EMAILS = [
    " Zhang.Wei@Example.COM ",
    "ZHANG.WEI@EXAMPLE.COM\t",
    "zhang.wei@example.com",
    "ｚｈａｎｇ＠example.com",
]


def test_normalisation_equals_the_etls() -> None:
    etl_normalise = pytest.importorskip("etl.normalise")
    for value in SAMPLE_PHONES:
        assert normalise_phone(value) == etl_normalise.normalise_value("phone", value), value
    for value in SAMPLE_EMAILS:
        assert normalise_email(value) == etl_normalise.normalise_value("email", value), value
    for id_type in ("wechat_id", "device_id", "crm_id", "member_id", "social_handle"):
        assert normalise(id_type, "  oXy_123 ") == etl_normalise.normalise_value(id_type, "  oXy_123 ")
