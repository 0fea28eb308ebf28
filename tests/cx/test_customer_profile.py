"""The profile page's data: masked per role, the timeline with filters and pages, evidence, notes, split and
join recorded and reversible, escalation, and an audit row for every view and action (ids only)."""

from __future__ import annotations

import contextlib
from datetime import timedelta

import pytest
from sqlalchemy import Engine, select

from cx import audit
from cx.access import Role
from cx.auth import principal_of
from cx.customer_profile import add_note, evidence, record_escalation, redact_text, timeline, view_profile
from cx.db import transaction
from cx.errors import ConflictError, NotFoundError, PermissionDenied, ValidationError
from cx.identity_overrides import active_overrides, join_profiles, overrides_for, revert_override, split_records
from cx.lookup import invalidate_name_index
from cx.models import AuditEntry, IdentityOverride, User
from tests.cx.customer_fixtures import EMILY, T0, ZWM, World, build_world

RAW_PII = ("13800138000", "zhang.weiming@example.com", "wxid_zwm2024", "张伟明", "@weiming_z")


@pytest.fixture
def world(engine: Engine) -> World:
    invalidate_name_index()
    with transaction(engine) as session:
        return build_world(session)


def _view(engine: Engine, world: World, role: Role, profile_id: str = ZWM):
    with transaction(engine) as session:
        return view_profile(session, world[role], profile_id)


def test_profile_shows_everything_the_page_needs(engine: Engine, world: World) -> None:
    view = _view(engine, world, Role.CX_OWNER)
    header = view.header
    assert header.name == "张伟明" and header.city == "上海" and header.member_tier == "金卡会员"
    assert header.channels == ["phone", "wechat", "email", "chat", "survey"]
    assert header.customer_since == T0 - timedelta(days=400) and header.stage == "after_sale"
    assert (view.scores.nps, view.scores.csat, view.scores.ces) == (3, 2, 6)
    assert view.scores.nps_trend == -4.0 and view.scores.experience == 38.5
    assert view.risk.score == 55.0 and view.risk.level == "high"
    assert [(r.code, r.points, r.value) for r in view.risk.reasons] == [
        ("open_complaints", 25, 1),
        ("falling_scores", 20, -4.0),
        ("detractor", 15, 3),
    ]
    by_type = {row.id_type: row for row in view.identifiers}
    assert set(by_type) == {"phone", "email", "wechat_id", "member_id", "crm_id", "device_id", "social_handle"}
    assert by_type["phone"].sources == ["hotline", "crm"] and by_type["phone"].channels == ["phone"]
    assert [a.title for a in view.open_alerts] == ["Repeat complaints: 2 in 30 days"]
    assert view.open_alerts[0].owner == "Olga Owner" and view.open_alerts[0].rule == "Repeat complaints"
    assert [(r.rule, r.alerts) for r in view.top_rules] == [("Repeat complaints", 2)]
    topics = {(t.kind, t.topic): t.contacts for t in view.topics}
    assert topics[("touchpoint", "shipping")] == 3 and topics[("kind", "complaint")] == 2
    assert [n.author for n in view.notes] == ["Andy Agent"]
    assert view.can_split_join and view.can_escalate and view.can_note


def test_topics_come_from_the_text_analysis_when_it_ran(engine: Engine, world: World) -> None:
    from cx.models import TextInsight

    with transaction(engine) as session:
        for iid, label, topics in (
            ("hotline:H-1001", "complaint", "|delivery|"),
            ("wechat:W-88", "inquiry", "|delivery|"),
            ("email_desk:E-77", "complaint", "|repair_warranty|"),
        ):
            session.add(
                TextInsight(interaction_id=iid, label=label, confidence=0.9, sentiment=-0.5, topics=topics, terms="")
            )
    topics = _view(engine, world, Role.AGENT).topics
    assert [(t.kind, t.topic, t.contacts, t.complaints) for t in topics] == [
        ("voc", "delivery", 2, 1),
        ("voc", "repair_warranty", 1, 1),
    ]


def test_masking_per_role(engine: Engine, world: World) -> None:
    owner = _view(engine, world, Role.CX_OWNER)
    assert owner.header.phone == "+8613800138000" and owner.header.email == "zhang.weiming@example.com"
    for role in (Role.AGENT, Role.TEAM_LEAD):
        view = _view(engine, world, role)
        header = view.header
        assert header.name == "张伟明"  # agents need the name to greet the customer
        assert header.phone == "138****8000"
        assert header.email == "z***@example.com"
        assert header.wechat_id == "wx********24"
        values = {row.id_type: row.value for row in view.identifiers}
        assert values["phone"] == "138****8000" and values["social_handle"] == "@w******_z"
        assert values["member_id"] == "M1000234567"  # not personal data: needed to talk to the CRM
        assert view.notes[0].text == "Prefers WeChat; call back on 138****8000."
        assert not view.can_split_join
        entries = timeline_entries(engine, world, role)
        flat = repr(entries) + repr(view)
        for raw in RAW_PII[:3] + RAW_PII[4:]:
            assert raw not in flat, f"{raw} visible to {role}"


def timeline_entries(engine: Engine, world: World, role: Role, **filters):
    with transaction(engine) as session:
        return timeline(session, world[role], ZWM, **filters).entries


def test_redact_text_masks_contacts_for_masked_roles() -> None:
    text = "Call +86 138 0013 8000 or write to zhang.weiming@example.com about order 20260301"
    assert redact_text(text, Role.CX_OWNER) == text
    masked = redact_text(text, Role.AGENT)
    assert "0013" not in masked and "zhang.weiming@" not in masked and "z***@example.com" in masked


def test_timeline_newest_first_with_filters_and_pages(engine: Engine, world: World) -> None:
    entries = timeline_entries(engine, world, Role.AGENT)
    assert [e.interaction_id for e in entries] == [
        "hotline:H-1001",
        "survey:S-3",
        "wechat:W-88",
        "email_desk:E-77",
        "chat:C-5",
    ]
    first = entries[0]
    assert first.agent == "Li Na 李娜" and first.outcome == "unresolved" and first.kind == "complaint"
    assert "138****8000" in first.text and "13800138000" not in first.text
    assert entries[1].nps == 3 and entries[1].csat == 2
    assert entries[3].outcome == "resolved"
    assert [e.channel for e in timeline_entries(engine, world, Role.AGENT, channels=["email", "chat"])] == [
        "email",
        "chat",
    ]
    assert len(timeline_entries(engine, world, Role.AGENT, kinds=["complaint"])) == 2
    recent = timeline_entries(engine, world, Role.AGENT, since=T0 - timedelta(days=5), until=T0 - timedelta(days=2))
    assert [e.interaction_id for e in recent] == ["wechat:W-88"]  # until is exclusive
    recent = timeline_entries(engine, world, Role.AGENT, since=T0 - timedelta(days=5), until=T0 - timedelta(hours=36))
    assert [e.interaction_id for e in recent] == ["survey:S-3", "wechat:W-88"]
    with transaction(engine) as session:
        page1 = timeline(session, world[Role.AGENT], ZWM, limit=2)
        page2 = timeline(session, world[Role.AGENT], ZWM, limit=2, before=page1.next_cursor)
        page3 = timeline(session, world[Role.AGENT], ZWM, limit=2, before=page2.next_cursor)
    assert page1.total == 5 and page1.next_cursor is not None
    ids = [e.interaction_id for p in (page1, page2, page3) for e in p.entries]
    assert ids == [e.interaction_id for e in entries] and page3.next_cursor is None


def test_evidence_explains_each_record(engine: Engine, world: World) -> None:
    with transaction(engine) as session:
        owner = {row.interaction_id: row for row in evidence(session, world[Role.CX_OWNER], ZWM)}
        agent = {row.interaction_id: row for row in evidence(session, world[Role.AGENT], ZWM)}
    assert owner["hotline:H-1001"].rule == "shared_identifier" and owner["hotline:H-1001"].id_type == "phone"
    assert owner["hotline:H-1001"].shared_value == "+8613800138000" and owner["hotline:H-1001"].channel == "phone"
    assert owner["hotline:H-1001"].shared_types == ["email", "phone"]
    assert agent["hotline:H-1001"].shared_value == "138****8000"
    assert agent["email_desk:E-77"].shared_value == "z***@example.com"  # detail stored as JSON text is read too
    assert owner["email_desk:E-77"].shared_types == ["email"]
    assert owner["chat:C-5"].rule == "fuzzy_name_birth_date" and owner["chat:C-5"].score == 0.93
    assert owner["chat:C-5"].matched_interaction_id == "hotline:H-1001"
    assert owner["chat:C-5"].fuzzy == {"name": 0.93, "birth_date": True, "postcode": None, "address": None}


def test_views_and_notes_are_audited_with_ids_only(engine: Engine, world: World) -> None:
    _view(engine, world, Role.AGENT)
    with transaction(engine) as session:
        note = add_note(session, world[Role.AGENT], ZWM, "  Customer 张伟明 asked for a call back on 13800138000 ")
        note_id = note.id
    with transaction(engine) as session:
        rows = list(session.scalars(select(AuditEntry).order_by(AuditEntry.id)))
    assert [(r.action, r.object_id, r.username, r.outcome) for r in rows] == [
        ("profile.view", ZWM, "t-agent", "ok"),
        ("profile.note", ZWM, "t-agent", "ok"),
    ]
    assert rows[1].detail == {"note_id": note_id}
    for row in rows:
        for raw in RAW_PII:
            assert raw not in repr(row.detail)
    view = _view(engine, world, Role.CX_OWNER)
    assert view.notes[0].text == "Customer 张伟明 asked for a call back on 13800138000"


def test_note_validation(engine: Engine, world: World) -> None:
    with transaction(engine) as session:
        with pytest.raises(ValidationError, match="empty"):
            add_note(session, world[Role.AGENT], ZWM, "   ")
        with pytest.raises(ValidationError, match="under"):
            add_note(session, world[Role.AGENT], ZWM, "x" * 5000)
        with pytest.raises(NotFoundError):
            add_note(session, world[Role.AGENT], "p-missing", "hello")
        with pytest.raises(PermissionDenied):
            add_note(session, world[Role.DEPARTMENT_HEAD], ZWM, "hello")


def test_refused_and_missing_views_are_audited(engine: Engine, world: World) -> None:
    with pytest.raises(PermissionDenied), transaction(engine) as session:
        view_profile(session, world[Role.DEPARTMENT_HEAD], ZWM)
    with pytest.raises(NotFoundError), transaction(engine) as session:
        view_profile(session, world[Role.AGENT], "p-missing")
    # the transactions above rolled back with the error: the refusal is kept anyway (written on a connection of its
    # own, cx.authz.require_audited); a missing profile is recorded by a caller that commits (the page does)
    with transaction(engine) as session, contextlib.suppress(PermissionDenied):
        view_profile(session, world[Role.DEPARTMENT_HEAD], ZWM)
    with transaction(engine) as session:
        rows = audit.search(session, action="profile.view")
    assert [(r.username, r.outcome) for r in rows] == [("t-head", "denied"), ("t-head", "denied")]


def test_split_and_join_are_recorded_and_reversible(engine: Engine, world: World) -> None:
    owner = world[Role.CX_OWNER]
    with transaction(engine) as session:
        split = split_records(session, owner, ZWM, ["chat:C-5"], note="Different person: wrong fuzzy match")
        join = join_profiles(session, owner, EMILY, "p-zw-0002", note="Same customer, two phones")
        split_id, join_id = split.id, join.id
    with transaction(engine) as session:
        stored = session.get(IdentityOverride, split_id)
        assert stored.kind == "split" and stored.interaction_ids == ["chat:C-5"]
        assert sorted(stored.target_interaction_ids) == sorted(
            ["hotline:H-1001", "wechat:W-88", "email_desk:E-77", "survey:S-3"]
        )
        assert session.get(IdentityOverride, join_id).interaction_ids == ["hotline:H-2001", "hotline:H-3001"]
        assert [o.id for o in active_overrides(session)] == [split_id, join_id]
        rows = overrides_for(session, owner, ZWM)
        assert [(r.kind, r.records, r.created_by, r.active) for r in rows] == [("split", 1, "Olga Owner", True)]
        revert_override(session, owner, split_id, profile_id=ZWM)
    with transaction(engine) as session:
        assert [o.id for o in active_overrides(session)] == [join_id]
        assert overrides_for(session, owner, ZWM)[0].reverted_by == "Olga Owner"
        with pytest.raises(ConflictError):
            revert_override(session, owner, split_id)
    with transaction(engine) as session:
        actions = [(r.action, r.object_id) for r in session.scalars(select(AuditEntry).order_by(AuditEntry.id))]
    assert actions == [
        ("profile.split", ZWM),
        ("profile.join", EMILY),
        ("profile.join", "p-zw-0002"),
        ("profile.override_revert", ZWM),
    ]


def test_join_needs_records_on_both_sides(engine: Engine, world: World) -> None:
    owner = world[Role.CX_OWNER]
    with transaction(engine) as session:
        with pytest.raises(ValidationError, match="no records"):
            join_profiles(session, owner, ZWM, "p-emma-0007")  # Emma has no contacts loaded
        with pytest.raises(ValidationError, match="itself"):
            join_profiles(session, owner, ZWM, ZWM)
        override = join_profiles(session, owner, ZWM, "p-zw-0002")
        assert override.interaction_ids == ["chat:C-5", "hotline:H-3001"]  # each profile's first contact


def test_split_validation_and_permissions(engine: Engine, world: World) -> None:
    owner = world[Role.CX_OWNER]
    with transaction(engine) as session:
        with pytest.raises(ValidationError, match="at least one"):
            split_records(
                session, owner, ZWM, ["hotline:H-1001", "wechat:W-88", "email_desk:E-77", "chat:C-5", "survey:S-3"]
            )
        with pytest.raises(ValidationError, match="not part of this profile"):
            split_records(session, owner, ZWM, ["hotline:H-2001"])
        with pytest.raises(ValidationError, match="Pick"):
            split_records(session, owner, ZWM, [])
        for role in (Role.AGENT, Role.TEAM_LEAD):
            with pytest.raises(PermissionDenied):
                split_records(session, world[role], ZWM, ["chat:C-5"])
            with pytest.raises(PermissionDenied):
                join_profiles(session, world[role], ZWM, EMILY)


def test_escalation_from_the_profile(engine: Engine, world: World) -> None:
    lifecycle = pytest.importorskip("alerts.lifecycle")
    agent = world[Role.AGENT]
    with transaction(engine) as session:
        alert = lifecycle.raise_manual_alert(
            session,
            agent,
            profile_id=ZWM,
            level="critical",
            note="Parcel lost twice, customer threatens to cancel",
            owner_user_id=world.users["t-owner"],
        )
        record_escalation(session, agent, ZWM, alert.id, "critical")
        with pytest.raises(PermissionDenied):  # only people who may raise alerts escalate
            record_escalation(session, world[Role.DEPARTMENT_HEAD], ZWM, alert.id, "critical")
    view = _view(engine, world, Role.CX_OWNER)
    assert [(a.level, a.origin, a.owner) for a in view.open_alerts][0] == ("critical", "manual", "Olga Owner")
    with transaction(engine) as session:
        row = audit.search(session, action="profile.escalate")[0]
    assert row.object_id == ZWM and row.detail == {"alert_id": alert.id, "level": "critical"}


# --------------------------------------------------------------------------------------------- with the real ETL

EXPORTS = {
    "hotline.csv": [
        "record_id,channel,occurred_at,phone,name,kind,text",
        "H1,phone,2026-01-05T10:00:00+08:00,138 0013 8000,张伟明,complaint,快递延误",
        "H2,phone,2026-01-20T10:00:00+08:00,+86-138-0013-8000,张伟明,inquiry,帮我女儿查订单",
        "H3,phone,2026-01-07T09:00:00+08:00,136 1234 5678,王芳,inquiry,会员积分",
    ],
    "chat.csv": [
        "record_id,channel,occurred_at,phone,email,name,kind,text",
        "C1,chat,2026-01-10T12:00:00+08:00,13800138000,Zhang.Weiming@Example.com,张伟明,inquiry,有现货吗",
        "C2,chat,2026-01-12T12:00:00+08:00,,wang.fang@example.org,王芳,inquiry,积分兑换",
    ],
}


def _profile_of(engine: Engine, interaction_id: str) -> str:
    from cx.models import Interaction

    with transaction(engine) as session:
        return session.scalar(select(Interaction.profile_id).where(Interaction.interaction_id == interaction_id))


def test_split_and_join_survive_etl_reruns(engine: Engine, settings, tmp_path) -> None:
    """A CX owner splits a record out and joins two profiles; every later ETL run keeps both until reverted."""
    pipeline = pytest.importorskip("etl.pipeline")
    from cx.lookup import search_customers

    invalidate_name_index()
    folder = tmp_path / "exports"
    folder.mkdir()
    for name, lines in EXPORTS.items():
        (folder / name).write_text("\n".join(lines) + "\n", encoding="utf-8")
    pipeline.run(engine, settings, [folder])
    zwm = _profile_of(engine, "hotline:H1")
    assert _profile_of(engine, "hotline:H2") == zwm == _profile_of(engine, "chat:C1")
    wang_phone, wang_mail = _profile_of(engine, "hotline:H3"), _profile_of(engine, "chat:C2")
    assert wang_phone != wang_mail  # no shared identifier, no birth date: two profiles for now

    with transaction(engine) as session:
        owner = session.scalar(select(User).where(User.username == "t-owner"))
        if owner is None:
            owner = User(username="t-owner", display_name="Olga Owner", role=Role.CX_OWNER.value)
            session.add(owner)
            session.flush()
        principal = principal_of(owner)
        split = split_records(session, principal, zwm, ["hotline:H2"], note="the daughter, not him")
        join = join_profiles(session, principal, wang_phone, wang_mail, note="same member")
        split_id = split.id

    for rerun in range(2):  # a full re-run, then a re-run with a new export
        if rerun:
            (folder / "wechat.csv").write_text(
                "record_id,channel,occurred_at,wechat_id,email,name,kind,text\n"
                "W1,wechat,2026-02-01T08:00:00+08:00,wxid_zwm,zhang.weiming@example.com,张伟明,inquiry,到哪了\n",
                encoding="utf-8",
            )
            pipeline.run(engine, settings, [folder])
        else:
            pipeline.run(engine, settings, [folder], full=True)
        assert _profile_of(engine, "hotline:H1") == zwm == _profile_of(engine, "chat:C1")
        assert _profile_of(engine, "hotline:H2") != zwm, f"split lost on re-run {rerun}"
        assert _profile_of(engine, "hotline:H3") == _profile_of(engine, "chat:C2"), f"join lost on re-run {rerun}"
    # a new record reaching only the side that stayed (by the e-mail) joins that side, never the split-out one
    assert _profile_of(engine, "wechat:W1") == zwm
    with transaction(engine) as session:
        found = search_customers(session, principal, "wang.fang@EXAMPLE.org")
        assert found.unique is not None and found.unique.profile_id == _profile_of(engine, "hotline:H3")
        links = {row.interaction_id: row.rule for row in evidence(session, principal, _profile_of(engine, "chat:C2"))}
        assert "override_join" in links.values()

    with transaction(engine) as session:
        revert_override(session, principal, split_id, profile_id=zwm)
    pipeline.run(engine, settings, [folder], full=True)
    assert _profile_of(engine, "hotline:H2") == _profile_of(engine, "hotline:H1") == zwm
    assert _profile_of(engine, "hotline:H3") == _profile_of(engine, "chat:C2")  # the join stays
    assert join.id is not None
