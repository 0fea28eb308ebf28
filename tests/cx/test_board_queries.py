"""Board data functions on a real store: tiles with MoM / YoY across year boundaries, trends, breakdowns,
"what moved", filters and the masked, scoped drill-down."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import pytest
from sqlalchemy import Engine, insert, select
from sqlalchemy.orm import Session

from cx import board_queries as bq
from cx.access import Principal, Role
from cx.boards import Board, BoardScope, Tile, board_scope
from cx.db import transaction
from cx.errors import PermissionDenied, ValidationError
from cx.filters import Filters
from cx.models import AuditEntry, DailyFact, Interaction, Profile

TZ = "Asia/Shanghai"
SERVICE_HEAD = Principal(7, "head", "Head", Role.DEPARTMENT_HEAD, "service")
ADMIN = Principal(1, "admin", "Admin", Role.ADMIN)
SERVICE = board_scope(SERVICE_HEAD)
JANUARY = Filters(date(2026, 1, 1), date(2026, 1, 31))


def fact(day: date, **values: Any) -> dict[str, Any]:
    dims = {"channel": "phone", "stage": "after_sale", "touchpoint": "repair", "department": "service"}
    dims |= {"team": "hotline_a", "agent_id": "a1", "segment": ""}
    return {"day": day, **dims, **values}


def store_facts(engine: Engine, rows: list[dict[str, Any]]) -> None:
    with transaction(engine) as session:
        session.execute(insert(DailyFact), rows)


def nps(responses: int, promoters: int, detractors: int) -> dict[str, int]:
    return {"nps_responses": responses, "nps_promoters": promoters, "nps_detractors": detractors}


@pytest.fixture
def facts(engine: Engine) -> Engine:
    store_facts(
        engine,
        [
            fact(date(2026, 1, 10), **nps(10, 6, 1), cases_opened=1, handled=4, handle_s_sum=1200.0),
            fact(date(2026, 1, 10), channel="chat", **nps(4, 0, 2), handled=1, handle_s_sum=100.0),
            fact(date(2025, 12, 15), **nps(10, 3, 3), cases_resolved=2),
            fact(date(2025, 1, 20), **nps(4, 0, 4)),
            fact(date(2025, 6, 1), cases_opened=5, agent_id="a2"),
            fact(date(2026, 1, 10), department="product", touchpoint="checkout", **nps(5, 5, 0)),
            fact(date(2026, 1, 12), segment="vip", **nps(2, 2, 0)),
        ],
    )
    return engine


def board(*tiles: Tile) -> Board:
    return Board("department:service", tiles)


def test_tiles_with_previous_period_mom_and_yoy_across_the_year_boundary(facts: Engine) -> None:
    with transaction(facts) as session:
        tiles = bq.board_tiles(
            session, SERVICE_HEAD, SERVICE, JANUARY, board(Tile("nps", 30, "higher", 10), Tile("backlog"))
        )
    nps_tile, backlog_tile = tiles
    # January 2026: (6 + 0 + 2) promoters, (1 + 2 + 0) detractors of 16 responses; the product row is not service's
    assert nps_tile.value == pytest.approx(100 * (8 - 3) / 16)
    assert nps_tile.previous == 0.0 and nps_tile.mom == 0.0  # December 2025 (both)
    assert nps_tile.yoy == -100.0  # January 2025
    assert nps_tile.change == pytest.approx(31.25) and nps_tile.yoy_change == pytest.approx(131.25)
    assert nps_tile.status == "good"
    # backlog: 5 opened in June 2025, 2 resolved in December, 1 opened in January 2026
    assert (backlog_tile.value, backlog_tile.previous, backlog_tile.yoy) == (4.0, 3.0, 0.0)
    assert backlog_tile.status == "neutral"
    assert nps_tile.spark_days == (date(2026, 1, 10), date(2026, 1, 12))
    assert backlog_tile.spark_values == (4.0, 4.0)


def test_mom_differs_from_previous_period_for_a_four_week_range(engine: Engine) -> None:
    store_facts(engine, [fact(date(2026, 1, 11), **nps(1, 1, 0)), fact(date(2026, 2, 20), **nps(1, 0, 1))])
    period = Filters(date(2026, 2, 10), date(2026, 3, 9))  # previous: Jan 13 – Feb 9; a month earlier: Jan 10 – Feb 9
    with transaction(engine) as session:
        (tile,) = bq.board_tiles(session, SERVICE_HEAD, SERVICE, period, board(Tile("nps")))
    assert (tile.value, tile.previous, tile.mom, tile.yoy) == (-100.0, None, 100.0, None)
    assert tile.change is None and tile.mom_change == -200.0


def test_empty_period_gives_no_values(engine: Engine) -> None:
    with transaction(engine) as session:
        (tile,) = bq.board_tiles(session, SERVICE_HEAD, SERVICE, JANUARY, board(Tile("aht", 420, "lower", 60)))
        assert not bq.has_facts(session, SERVICE_HEAD, SERVICE)
    assert (tile.value, tile.status, tile.spark_values) == (None, "neutral", ())


def test_filters_and_segments_apply_to_tiles(facts: Engine) -> None:
    with transaction(facts) as session:
        chat = Filters(JANUARY.start, JANUARY.end, channels=("chat",))
        (tile,) = bq.board_tiles(session, SERVICE_HEAD, SERVICE, chat, board(Tile("nps")))
        assert tile.value == -50.0
        vip = Filters(JANUARY.start, JANUARY.end, segments=("vip",))
        (tile,) = bq.board_tiles(session, SERVICE_HEAD, SERVICE, vip, board(Tile("nps")))
        assert tile.value == 100.0
        assert bq.segments_in_facts(session, SERVICE_HEAD) == ["vip"]
        whole = bq.board_tiles(session, ADMIN, board_scope(ADMIN), JANUARY, board(Tile("nps")))[0]
        assert whole.value == pytest.approx(100 * (13 - 3) / 21)


def test_trend_has_the_year_ago_value_per_bucket(facts: Engine) -> None:
    with transaction(facts) as session:
        monthly = bq.trend(
            session, SERVICE_HEAD, SERVICE, Filters(date(2025, 12, 1), date(2026, 1, 31)), "nps", grain="1mo"
        )
    assert monthly["bucket"].to_list() == [date(2025, 12, 1), date(2026, 1, 1)]
    assert monthly["value"].to_list() == [0.0, 31.25]
    assert monthly["year_ago"].to_list() == [None, -100.0]


def test_breakdown_what_moved_and_agent_level(facts: Engine) -> None:
    with transaction(facts) as session:
        by_channel = bq.breakdown(session, SERVICE_HEAD, SERVICE, JANUARY, "aht", "channel")
        assert by_channel.rows() == [("phone", 300.0, None, None, 4.0), ("chat", 100.0, None, None, 1.0)]
        with pytest.raises(PermissionDenied):
            bq.breakdown(session, SERVICE_HEAD, SERVICE, JANUARY, "aht", "agent_id")
        with pytest.raises(ValidationError):
            bq.breakdown(session, SERVICE_HEAD, SERVICE, JANUARY, "aht", "department")
        admin_scope = BoardScope(department="service", agent_level=True, scope_key="department:service")
        by_agent = bq.breakdown(session, ADMIN, admin_scope, JANUARY, "backlog", "agent_id")
        assert dict(zip(by_agent["agent_id"], by_agent["value"], strict=True)) == {"a2": 5.0, "a1": -1.0}
        moved = bq.what_moved(
            session, SERVICE_HEAD, SERVICE, Filters(date(2025, 12, 1), date(2026, 1, 31)), "nps", "channel"
        )
        assert moved.height == 0  # nothing before December: no change to rank
        moved = bq.what_moved(session, SERVICE_HEAD, SERVICE, JANUARY, "nps", "touchpoint", min_volume=1)
        assert moved.rows() == [("repair", 31.25, 0.0, 31.25, 16.0, False)]


def _interaction(n: int, touchpoint: str, **fields: Any) -> dict[str, Any]:
    return {
        "interaction_id": f"t:{n}",
        "record_id": str(n),
        "source": "t",
        "channel": "phone",
        "occurred_at": datetime(2026, 1, 10, 3, 0, tzinfo=UTC),
        "touchpoint": touchpoint,
        "name": "王小明",
        "phone": "+8613800138000",
        "agent_id": "a1",
        "profile_id": f"p{n % 2}",
        **fields,
    }


@pytest.fixture
def interactions(engine: Engine) -> Engine:
    with transaction(engine) as session:
        session.execute(
            insert(Interaction),
            [_interaction(n, "repair", nps=9 if n % 3 == 0 else None) for n in range(30)]
            + [_interaction(100 + n, "checkout") for n in range(5)]
            + [_interaction(200, "repair", occurred_at=datetime(2026, 2, 10, tzinfo=UTC))],
        )
        session.add_all([Profile(profile_id="p0", segment="vip"), Profile(profile_id="p1", segment="new")])
    return engine


def _drill(session: Session, principal: Principal, scope: BoardScope, selection: bq.Slice, **kw: Any) -> Any:
    return bq.drill_down(
        session, principal, scope, kw.pop("filters", JANUARY), selection, timezone=TZ,
        department_touchpoints=["repair", "returns"] if scope.department else None, **kw,
    )  # fmt: skip


def test_drill_down_is_scoped_limited_masked_and_audited(interactions: Engine) -> None:
    with transaction(interactions) as session:
        rows = _drill(session, SERVICE_HEAD, SERVICE, bq.Slice("channel", "phone"), limit=10)
        assert rows.height == 10
        assert set(rows["touchpoint"]) == {"repair"}  # not the product department's checkout
        assert set(rows["phone"]) == {"138****8000"} and set(rows["name"]) == {"王**"}
        assert rows["agent_id"].null_count() == 10  # no agent level for department heads
        assert _drill(session, SERVICE_HEAD, SERVICE, bq.Slice(kpi="nps")).height == 10
        assert _drill(session, SERVICE_HEAD, SERVICE, bq.Slice("channel", "chat")).height == 0
        vip = Filters(JANUARY.start, JANUARY.end, segments=("vip",))
        assert _drill(session, SERVICE_HEAD, SERVICE, bq.Slice(), filters=vip).height == 15
        day = bq.Slice(start=date(2026, 1, 10), end=date(2026, 1, 10))
        assert _drill(session, SERVICE_HEAD, SERVICE, day).height == 30
    with transaction(interactions) as session, pytest.raises(PermissionDenied):
        _drill(session, SERVICE_HEAD, SERVICE, bq.Slice("agent_id", "a1"))
    with transaction(interactions) as session:
        admin_rows = _drill(session, ADMIN, board_scope(ADMIN), bq.Slice("agent_id", "a1"))
        assert admin_rows.height == 35 and set(admin_rows["phone"]) == {"+8613800138000"}
    with transaction(interactions) as session:
        audits = session.scalars(select(AuditEntry).where(AuditEntry.action == "board.drill_down")).all()
        assert [a.outcome for a in audits] == ["ok"] * 6 and audits[0].detail["rows"] == 10
        assert "138" not in str([a.detail for a in audits])
        refused = session.execute(select(AuditEntry.action, AuditEntry.outcome, AuditEntry.object_id)).all()
        assert ("kpi.agent_level", "denied", "department:service") in refused


# --------------------------------------------------------------------------------------------- authorisation


def _denied(engine: Engine) -> list[tuple[str, str | None]]:
    with transaction(engine) as session:
        rows = session.execute(
            select(AuditEntry.action, AuditEntry.object_id)
            .where(AuditEntry.outcome == "denied")
            .order_by(AuditEntry.id)
        ).all()
    return [tuple(r) for r in rows]


def test_agent_level_breakdown_for_a_department_head_is_refused_and_audited(facts: Engine) -> None:
    forged = BoardScope(department="service", agent_level=True, scope_key="department:service")
    with transaction(facts) as session:
        with pytest.raises(PermissionDenied):
            bq.breakdowns(session, SERVICE_HEAD, SERVICE, JANUARY, "aht", ["channel", "agent_id"])
        with pytest.raises(PermissionDenied):  # the scope claims agent level: refused before anything is read
            bq.breakdowns(session, SERVICE_HEAD, forged, JANUARY, "aht", ["channel"])
        with pytest.raises(PermissionDenied):
            bq.fact_dimension_values(session, SERVICE_HEAD, SERVICE, "agent_id")
        lead = Principal(9, "lead", "Lead", Role.TEAM_LEAD, team="hotline_a")
        team = board_scope(lead)
        assert bq.breakdown(session, lead, team, JANUARY, "aht", "agent_id")["agent_id"].to_list() == ["a1"]
    assert _denied(facts) == [("kpi.agent_level", "department:service")] * 3


def test_data_functions_refuse_scopes_the_viewer_may_not_see(facts: Engine) -> None:
    whole_store, product = BoardScope(), BoardScope(department="product", scope_key="department:product")
    agent = Principal(5, "agent", "Agent", Role.AGENT, team="hotline_a")
    lead = Principal(9, "lead", "Lead", Role.TEAM_LEAD, team="hotline_a")
    other_team = BoardScope(team="hotline_b", agent_level=True, scope_key="role:team_lead")
    calls = {
        "tiles": lambda s, p, sc: bq.board_tiles(s, p, sc, JANUARY, board(Tile("nps"))),
        "trend": lambda s, p, sc: bq.trend(s, p, sc, JANUARY, "nps"),
        "breakdowns": lambda s, p, sc: bq.breakdowns(s, p, sc, JANUARY, "nps", ["channel"]),
        "what_moved": lambda s, p, sc: bq.what_moved(s, p, sc, JANUARY, "nps"),
        "has_facts": lambda s, p, sc: bq.has_facts(s, p, sc),
        "drill_down": lambda s, p, sc: _drill(s, p, sc, bq.Slice("channel", "phone")),
    }
    for call in calls.values():
        for principal, scope in ((SERVICE_HEAD, whole_store), (SERVICE_HEAD, product), (lead, other_team)):
            with transaction(facts) as session, pytest.raises(PermissionDenied):
                call(session, principal, scope)
        with transaction(facts) as session, pytest.raises(PermissionDenied):
            call(session, agent, SERVICE)
        with transaction(facts) as session:
            call(session, ADMIN, product)  # admins see any department
    with transaction(facts) as session:
        with pytest.raises(PermissionDenied):
            bq.segments_in_facts(session, agent)
        with pytest.raises(PermissionDenied):
            bq.journey_for_board(session, agent)
        assert bq.journey_for_board(session, SERVICE_HEAD).stages
    denied = _denied(facts)
    assert denied.count(("board.view_any_department", "department:executive")) == len(calls)
    assert denied.count(("board.view_any_department", "department:product")) == len(calls)
    assert denied.count(("board.view_any_department", "role:team_lead")) == len(calls)
    assert denied.count(("board.view", "department:service")) == len(calls)
    assert denied[-2:] == [("board.view", "segments"), ("board.view", "journey")]
