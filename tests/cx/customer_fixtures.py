"""A small, hand-made store of customers for the lookup and profile tests (rows inserted directly).

Zhang Weiming (张伟明) is the customer the tests look up: five contacts on four channels, every identifier
type, an open alert and a note. Around him are customers with similar names (张伟, 张维明, 李伟明), two
customers called 王芳, and Latin names close to each other (Emily Chen, Emily Chan, Emma Chen).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from cx.access import Principal, Role
from cx.auth import principal_of
from cx.models import (
    Agent,
    Alert,
    AlertRule,
    Identifier,
    IdentityLink,
    Interaction,
    Profile,
    ProfileNote,
    User,
)

T0 = datetime(2026, 3, 1, 2, 0, tzinfo=UTC)
ZWM = "p-zwm-0001"
EMILY = "p-emily-0005"

#: Ways an agent may be given Zhang Weiming's identifiers (all must find ZWM).
ZWM_PHONE_FORMATS = (
    "138 0013 8000",
    "+86-138-0013-8000",
    "008613800138000",
    "+86 138 0013 8000",
    "+8613800138000",
    "138-0013-8000",
    "13800138000",
    "１３８００１３８０００",
    "(138) 0013 8000",
)
ZWM_EMAIL_FORMATS = ("zhang.weiming@example.com", "  Zhang.Weiming@EXAMPLE.com ", "ZHANG.WEIMING@EXAMPLE.COM")
ZWM_IDS = ("wxid_zwm2024", "M1000234567", "C10023456", "8F14E45F-CEEA-467F-A2D3-5C2B1E4F6A70", "@weiming_z")

USERS = (
    ("t-admin", "Ada Admin", Role.ADMIN, None),
    ("t-owner", "Olga Owner", Role.CX_OWNER, None),
    ("t-lead", "Liu Lead", Role.TEAM_LEAD, "hotline_a"),
    ("t-agent", "Andy Agent", Role.AGENT, "hotline_a"),
    ("t-head", "Hans Head", Role.DEPARTMENT_HEAD, None),
)


@dataclass(frozen=True)
class World:
    principals: dict[Role, Principal]
    users: dict[str, int]

    def __getitem__(self, role: Role) -> Principal:
        return self.principals[role]


def _profile(pid: str, name: str, city: str, phone: str | None, last_days: int, **extra: object) -> Profile:
    from cx.lookup import name_key

    return Profile(
        profile_id=pid,
        display_name=name,
        name_key=name_key(name),
        primary_phone=phone,
        city=city,
        first_seen=T0 - timedelta(days=400),
        last_seen=T0 - timedelta(days=last_days),
        interaction_count=extra.pop("interaction_count", 1),  # type: ignore[arg-type]
        **extra,
    )


def _identifier(pid: str, id_type: str, value: str, sources: list[str], channels: list[str]) -> Identifier:
    return Identifier(
        profile_id=pid,
        id_type=id_type,
        value=value,
        sources=sources,
        channels=channels,
        records=len(sources),
        first_seen=T0 - timedelta(days=300),
        last_seen=T0 - timedelta(days=1),
    )


def _contact(pid: str, source: str, rec: str, channel: str, days: float, **fields: object) -> Interaction:
    return Interaction(
        interaction_id=f"{source}:{rec}",
        record_id=rec,
        source=source,
        channel=channel,
        occurred_at=T0 - timedelta(days=days),
        profile_id=pid,
        **fields,
    )


def build_world(session: Session) -> World:
    """Insert users, profiles, identifiers, contacts, evidence, an alert and a note; return the principals."""
    users = {}
    for username, display, role, team in USERS:
        user = User(username=username, display_name=display, role=role.value, team=team)
        session.add(user)
        session.flush()
        users[username] = user.id
    session.add_all(
        [
            Agent(agent_id="A017", name="Li Na 李娜", team="hotline_a", department="service"),
            Agent(agent_id="A042", name="Chen Jie 陈杰", team="chat_b", department="service"),
        ]
    )
    session.add_all(
        [
            _profile(
                ZWM,
                "张伟明",
                "上海",
                "+8613800138000",
                1,
                primary_email="zhang.weiming@example.com",
                wechat_id="wxid_zwm2024",
                member_tier="金卡会员",
                channels=["phone", "wechat", "email", "chat", "survey"],
                interaction_count=5,
                complaint_count=2,
                open_complaints=1,
                latest_nps=3,
                latest_csat=2,
                latest_ces=6,
                nps_trend=-4.0,
                csat_trend=-1.0,
                ces_trend=1.5,
                experience_score=38.5,
                stage="after_sale",
                risk_score=55.0,
                risk_reasons=[
                    {"code": "detractor", "points": 15, "value": 3},
                    {"code": "open_complaints", "points": 25, "value": 1},
                    {"code": "falling_scores", "points": 20, "value": -4.0},
                ],
                birth_date=None,
            ),
            _profile("p-zw-0002", "张伟", "北京", "+8613912345678", 3),
            _profile("p-zwm-0003", "张维明", "广州", "+8613712345678", 10),
            _profile("p-lwm-0004", "李伟明", "深圳", "+8615012345678", 20),
            _profile(EMILY, "Emily Chen", "上海", "+8618612345678", 2, primary_email="emily.chen@example.com"),
            _profile("p-emily-0006", "Emily Chan", "北京", "+8618712345678", 30),
            _profile("p-emma-0007", "Emma Chen", "杭州", None, 40),
            _profile("p-wf-0008", "王芳", "成都", "+8613612345678", 5),
            _profile("p-wf-0009", "王芳", "武汉", "+8613512345678", 50),
        ]
    )
    session.add_all(
        [
            _identifier(ZWM, "phone", "+8613800138000", ["hotline", "crm"], ["phone"]),
            _identifier(ZWM, "email", "zhang.weiming@example.com", ["email_desk", "crm"], ["email"]),
            _identifier(ZWM, "wechat_id", "wxid_zwm2024", ["wechat"], ["wechat"]),
            _identifier(ZWM, "member_id", "M1000234567", ["crm", "app"], ["app"]),
            _identifier(ZWM, "crm_id", "C10023456", ["crm"], []),
            _identifier(ZWM, "device_id", "8F14E45F-CEEA-467F-A2D3-5C2B1E4F6A70", ["app"], ["app"]),
            _identifier(ZWM, "social_handle", "@weiming_z", ["social"], ["social"]),
            _identifier("p-zw-0002", "phone", "+8613912345678", ["hotline"], ["phone"]),
            _identifier("p-zwm-0003", "phone", "+8613712345678", ["hotline"], ["phone"]),
            _identifier(EMILY, "phone", "+8618612345678", ["hotline"], ["phone"]),
            _identifier(EMILY, "email", "emily.chen@example.com", ["email_desk"], ["email"]),
            _identifier("p-wf-0008", "phone", "+8613612345678", ["hotline"], ["phone"]),
            _identifier("p-wf-0009", "phone", "+8613512345678", ["hotline"], ["phone"]),
            # a family phone shared by both 王芳 profiles: the lookup must offer both
            _identifier("p-wf-0008", "phone", "+862888886666", ["hotline"], ["phone"]),
            _identifier("p-wf-0009", "phone", "+862888886666", ["hotline"], ["phone"]),
        ]
    )
    contacts = [
        _contact(
            ZWM,
            "hotline",
            "H-1001",
            "phone",
            1,
            kind="complaint",
            touchpoint="shipping",
            stage="after_sale",
            text="快递延误一周，客户要求回电 13800138000 或邮件 zhang.weiming@example.com",
            agent_id="A017",
            team="hotline_a",
            resolved=False,
            handle_s=320.0,
            phone="+8613800138000",
        ),
        _contact(
            ZWM,
            "wechat",
            "W-88",
            "wechat",
            3,
            kind="inquiry",
            touchpoint="shipping",
            stage="after_sale",
            text="我的订单到哪里了？",
            wechat_id="wxid_zwm2024",
        ),
        _contact(
            ZWM,
            "email_desk",
            "E-77",
            "email",
            20,
            kind="complaint",
            touchpoint="repair",
            stage="after_sale",
            text="Repair took too long.",
            agent_id="A042",
            team="chat_b",
            resolved=True,
            email="zhang.weiming@example.com",
        ),
        _contact(
            ZWM,
            "chat",
            "C-5",
            "chat",
            60,
            kind="inquiry",
            touchpoint="pre_sale_consult",
            stage="pre_sale",
            text="有现货吗",
        ),
        _contact(ZWM, "survey", "S-3", "survey", 2, kind="survey", touchpoint="shipping", nps=3, csat=2, ces=6),
        _contact(EMILY, "hotline", "H-2001", "phone", 2, kind="inquiry", text="Where is my parcel?", agent_id="A017"),
        _contact("p-zw-0002", "hotline", "H-3001", "phone", 3, kind="inquiry"),
        _contact("p-wf-0008", "hotline", "H-4001", "phone", 5, kind="inquiry"),
        _contact("p-wf-0009", "hotline", "H-4002", "phone", 50, kind="inquiry"),
    ]
    session.add_all(contacts)
    session.add_all(
        [
            IdentityLink(
                interaction_id="hotline:H-1001",
                profile_id=ZWM,
                rule="shared_identifier",
                id_type="phone",
                matched_interaction_id="crm:CRM-1",
                score=None,
                detail={"shared": ["email", "phone"], "ignored": [], "fuzzy": None, "override_id": None},
            ),
            IdentityLink(
                interaction_id="wechat:W-88",
                profile_id=ZWM,
                rule="shared_identifier",
                id_type="wechat_id",
                matched_interaction_id="crm:CRM-1",
                detail={"shared": ["wechat_id"], "ignored": [], "fuzzy": None, "override_id": None},
            ),
            IdentityLink(
                interaction_id="email_desk:E-77",
                profile_id=ZWM,
                rule="shared_identifier",
                id_type="email",
                matched_interaction_id="crm:CRM-1",
                detail='{"shared": ["email"], "ignored": [], "fuzzy": null, "override_id": null}',  # JSON text too
            ),
            IdentityLink(
                interaction_id="chat:C-5",
                profile_id=ZWM,
                rule="fuzzy_name_birth_date",
                matched_interaction_id="hotline:H-1001",
                score=0.93,
                detail={
                    "shared": [],
                    "ignored": [],
                    "fuzzy": {"name": 0.93, "birth_date": True, "postcode": None, "address": None},
                    "override_id": None,
                },
            ),
            IdentityLink(interaction_id="survey:S-3", profile_id=ZWM, rule="shared_identifier", id_type="phone"),
        ]
    )
    rule = AlertRule(name="Repeat complaints", definition={"scope": "customer"}, level="warning")
    session.add(rule)
    session.flush()
    session.add_all(
        [
            Alert(
                dedup_key=f"rule:{rule.id}:{ZWM}:w1",
                rule_id=rule.id,
                title="Repeat complaints: 2 in 30 days",
                level="warning",
                status="open",
                entity_type="customer",
                entity_id=ZWM,
                profile_id=ZWM,
                owner_user_id=users["t-owner"],
                created_at=T0 - timedelta(days=1),
            ),
            Alert(
                dedup_key=f"rule:{rule.id}:{ZWM}:w0",
                rule_id=rule.id,
                title="Repeat complaints: 2 in 30 days",
                level="warning",
                status="closed",
                entity_type="customer",
                entity_id=ZWM,
                profile_id=ZWM,
                created_at=T0 - timedelta(days=90),
            ),
        ]
    )
    session.add(
        ProfileNote(profile_id=ZWM, author_id=users["t-agent"], text="Prefers WeChat; call back on 13800138000.")
    )
    session.flush()
    principals = {}
    for username, _display, role, _team in USERS:
        user = session.scalar(select(User).where(User.username == username))
        assert user is not None
        principals[role] = principal_of(user)
    return World(principals=principals, users=users)
