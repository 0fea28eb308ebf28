"""A small store with one customer to erase (identifiers in several raw forms), a stranger, and a scanner."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine, MetaData, select

from cx.access import Principal, Role
from cx.db import transaction
from cx.models import (
    Alert,
    AlertEvent,
    Identifier,
    IdentityLink,
    IdentityOverride,
    Interaction,
    LoadBatch,
    Notification,
    Profile,
    ProfileNote,
    QuarantinedRow,
)

ADMIN = Principal(user_id=9001, username="privacy-admin", display_name="Privacy admin", role=Role.ADMIN)
CX_OWNER = Principal(user_id=9002, username="privacy-cx", display_name="CX owner", role=Role.CX_OWNER)
AGENT = Principal(user_id=9003, username="privacy-agent", display_name="Agent", role=Role.AGENT)

PHONE = "+8613800138000"
EMAIL = "zhang.wei@example.com"
WECHAT = "wx_zhangwei_01"
CRM = "CRM-000777"
MEMBER = "M-1000777"
DEVICE = "dev-aaa-111-zw"
SOCIAL = "@zhangwei_lumio"
PLACEHOLDER = "+8613800000000"
#: Every form of the customer's identifiers that appears somewhere in the seeded store.
CUSTOMER_FORMS = (
    PHONE,
    "13800138000",
    "138-0013-8000",
    "138 0013 8000",
    "１３８００１３８０００",
    EMAIL,
    "ZHANG.WEI@EXAMPLE.COM",
    WECHAT,
    CRM,
    MEMBER,
    DEVICE,
    SOCIAL,
)
T0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)


def _interaction(interaction_id: str, profile_id: str | None, **fields: Any) -> Interaction:
    source, record_id = interaction_id.split(":")
    channel = {"hotline": "phone", "email": "email", "wechat": "wechat", "app": "app", "web": "web"}.get(source, "chat")
    return Interaction(
        interaction_id=interaction_id,
        record_id=record_id,
        source=source,
        channel=channel,
        occurred_at=fields.pop("occurred_at", T0),
        profile_id=profile_id,
        batch_id=1,
        **fields,
    )


def seed(engine: Engine) -> None:
    """Customer P-A (to erase), stranger P-B (shares only a placeholder phone with A), and their traces."""
    with transaction(engine) as s:
        s.add(LoadBatch(id=1, status="succeeded"))
        s.flush()
        s.add_all(
            [
                Profile(
                    profile_id="P-A",
                    display_name="张伟",
                    name_key="张伟",
                    primary_phone=PHONE,
                    primary_email=EMAIL,
                    wechat_id=WECHAT,
                    interaction_count=5,
                ),
                Profile(profile_id="P-B", display_name="李娜", name_key="李娜", primary_phone="+8613900139000"),
            ]
        )
        s.add_all(
            [
                _interaction("hotline:H1", "P-A", phone=PHONE, name="张伟", text="快递还没到，电话 13800138000"),
                _interaction("email:E1", "P-A", email=EMAIL, crm_id=CRM, name="Zhang Wei", text="Where is my order?"),
                _interaction("wechat:W1", "P-A", wechat_id=WECHAT, phone=PLACEHOLDER, text="你好"),
                _interaction("app:A1", "P-A", device_id=DEVICE, member_id=MEMBER, kind="complaint"),
                _interaction("social:S1", "P-A", social_handle=SOCIAL, text="bad service"),
                _interaction("web:X1", None, email=EMAIL, text="newsletter"),
                _interaction("hotline:H2", "P-B", phone="+8613900139000", name="李娜"),
                _interaction("wechat:W2", "P-B", phone=PLACEHOLDER, wechat_id="wx_lina"),
            ]
        )
        for profile_id, id_type, value in (
            ("P-A", "phone", PHONE),
            ("P-A", "email", EMAIL),
            ("P-A", "wechat_id", WECHAT),
            ("P-A", "crm_id", CRM),
            ("P-A", "member_id", MEMBER),
            ("P-A", "device_id", DEVICE),
            ("P-A", "social_handle", SOCIAL),
            ("P-B", "phone", "+8613900139000"),
            ("P-B", "wechat_id", "wx_lina"),
        ):
            s.add(Identifier(profile_id=profile_id, id_type=id_type, value=value, records=1))
        for interaction_id, profile_id in (
            ("hotline:H1", "P-A"),
            ("email:E1", "P-A"),
            ("wechat:W1", "P-A"),
            ("app:A1", "P-A"),
            ("social:S1", "P-A"),
            ("hotline:H2", "P-B"),
            ("wechat:W2", "P-B"),
        ):
            s.add(IdentityLink(interaction_id=interaction_id, profile_id=profile_id, rule="shared_identifier"))
        s.add(
            IdentityLink(
                interaction_id="web:X2", profile_id="P-B", rule="fuzzy", matched_interaction_id="hotline:H1", score=0.9
            )
        )
        s.add(IdentityOverride(kind="split", interaction_ids=["app:A1"], note="wrong merge"))
        s.add(IdentityOverride(kind="split", interaction_ids=["hotline:H2"], note="keep"))
        s.add(ProfileNote(profile_id="P-A", text="客户张伟要求回电 138 0013 8000"))
        s.add(ProfileNote(profile_id="P-B", text="VIP"))
        raws = [
            {"call_id": "H9", "caller_number": "138-0013-8000", "start_time": "yesterday"},
            {"msg_id": "W9", "customer_phone": "１３８００１３８０００", "create_time": None},
            {"ticket_id": "E9", "from_address": "ZHANG.WEI@EXAMPLE.COM ", "received_at": "31/02/2026"},
            {"event_id": "A9", "device_id": DEVICE, "event_time": "bad"},
            {"call_id": "H8", "caller_number": "139 0013 9000", "start_time": "bad"},
            {"call_id": "H7", "caller_number": "13800000000", "start_time": "bad"},
        ]
        for line, raw in enumerate(raws, start=2):
            s.add(
                QuarantinedRow(
                    batch_id=1,
                    source="q",
                    line=line,
                    rule="bad_timestamp",
                    reason="occurred_at is not a date",
                    raw=json.dumps(raw, ensure_ascii=False),
                )
            )
        s.add(
            QuarantinedRow(
                batch_id=1,
                source="survey",
                rule="bad_email",
                reason=f"email {EMAIL}x@ is not an address",
                raw=json.dumps({"response_id": "R1"}),
            )
        )
        s.flush()
        alert = Alert(
            dedup_key="manual:P-A:1",
            origin="manual",
            title="客户投诉",
            level="warning",
            entity_type="customer",
            entity_id="P-A",
            profile_id="P-A",
        )
        other = Alert(
            dedup_key="rule:1:touchpoint:shipping",
            title="shipping",
            level="info",
            entity_type="touchpoint",
            entity_id="shipping",
        )
        about_interaction = Alert(
            dedup_key="rule:2:interaction:app:A1",
            title="crash",
            level="critical",
            entity_type="interaction",
            entity_id="app:A1",
        )
        s.add_all([alert, other, about_interaction])
        s.flush()
        s.add(AlertEvent(alert_id=alert.id, kind="commented", note="called 13800138000"))
        s.add(AlertEvent(alert_id=other.id, kind="created"))
        s.add(
            Notification(
                alert_id=alert.id,
                dedup_key=alert.dedup_key,
                event="created",
                method="inapp",
                target="user:1",
                payload={"title": "客户投诉", "phone": PHONE},
            )
        )
        s.add(
            Notification(
                alert_id=other.id,
                dedup_key=other.dedup_key,
                event="created",
                method="inapp",
                target="user:1",
                payload={"title": "shipping"},
            )
        )


def scan_store(engine: Engine, needles: tuple[str, ...], *, skip_tables: tuple[str, ...] = ()) -> list[str]:
    """Every (table.column = value) in the whole store whose text contains one of ``needles``."""
    metadata = MetaData()
    metadata.reflect(engine)
    hits = []
    with engine.connect() as connection:
        for table in metadata.sorted_tables:
            if table.name in skip_tables or table.name == "alembic_version":
                continue
            for row in connection.execute(select(table)):
                for column, value in row._mapping.items():
                    if value is None:
                        continue
                    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)
                    found = [n for n in needles if n in text or n.lower() in text.lower()]
                    if found:
                        hits.append(f"{table.name}.{column} holds {found}")
    return hits
