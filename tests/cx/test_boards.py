"""Board configurations: validation, defaults, status against target, who sees which board, storage with versions."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from cx import auth, boards
from cx.access import DEPARTMENTS, Principal, Role
from cx.boards import BoardConfigError, BoardConflictError, Tile, board_scope, parse_tiles, status
from cx.db import transaction
from cx.errors import PermissionDenied, ValidationError
from cx.kpi import KPIS
from cx.models import AuditEntry
from cx.settings import Settings


def principal(role: Role, user_id: int = 1, department: str | None = None, team: str | None = None) -> Principal:
    return Principal(user_id, f"u{user_id}", f"User {user_id}", role, department, team)


# --------------------------------------------------------------------------------------------- validation


def test_tiles_round_trip_and_defaults_fill_direction() -> None:
    tiles = parse_tiles([{"kpi": "nps", "target": 30, "warning_band": 10}, {"kpi": "aht", "target": "420"}])
    assert tiles == (Tile("nps", 30.0, "higher", 10.0), Tile("aht", 420.0, "lower", 0.0))
    assert parse_tiles([t.to_dict() for t in tiles]) == tiles


def test_every_problem_is_reported_at_once() -> None:
    with pytest.raises(BoardConfigError) as error:
        parse_tiles(
            [
                {"kpi": "npx"},
                {"kpi": "nps", "target": 150},
                {"kpi": "csat", "direction": "sideways", "warning_band": -1},
                {"kpi": "csat"},
                {"kpi": "aht", "target": "fast", "colour": "red"},
            ]
        )
    problems = error.value.problems
    assert "tile 1: unknown KPI 'npx'; use one of " + ", ".join(KPIS) in problems
    assert "tile 2 (nps) target 150 is outside the KPI's range -100.0..100.0" in problems
    assert "tile 3 (csat) direction must be 'higher' or 'lower', not 'sideways'" in problems
    assert "tile 3 (csat) warning band must not be negative" in problems
    assert "tile 4: KPI 'csat' is on the board twice" in problems
    assert "tile 5 (aht) target must be a number, not 'fast'" in problems
    assert "tile 5: unknown fields ['colour']" in problems
    with pytest.raises(BoardConfigError, match="at least one tile"):
        parse_tiles([])
    with pytest.raises(BoardConfigError, match="at most 12 tiles"):
        parse_tiles([{"kpi": k} for k in KPIS])


def test_defaults_are_valid_and_fit_each_department() -> None:
    for scope_key in boards.scope_keys():
        tiles = boards.default_tiles(scope_key)
        assert parse_tiles([t.to_dict() for t in tiles]) == tiles
        assert 4 <= len(tiles) <= 8
    service = [t.kpi for t in boards.default_tiles("department:service")]
    assert {"fcr", "frt", "aht", "asa", "abandonment", "backlog"} <= set(service)
    assert "complaint_rate" in [t.kpi for t in boards.default_tiles("department:product")]
    assert set(boards.scope_keys()) == {f"department:{d}" for d in DEPARTMENTS} | {"role:team_lead"}


@pytest.mark.parametrize(
    ("value", "tile", "expected"),
    [
        (32.0, Tile("nps", 30, "higher", 10), "good"),
        (30.0, Tile("nps", 30, "higher", 10), "good"),
        (21.0, Tile("nps", 30, "higher", 10), "watch"),
        (19.9, Tile("nps", 30, "higher", 10), "bad"),
        (400.0, Tile("aht", 420, "lower", 60), "good"),
        (470.0, Tile("aht", 420, "lower", 60), "watch"),
        (481.0, Tile("aht", 420, "lower", 60), "bad"),
        (None, Tile("aht", 420, "lower", 60), "neutral"),
        (12.0, Tile("backlog", None, "lower"), "neutral"),
    ],
)
def test_status_against_target(value: float | None, tile: Tile, expected: str) -> None:
    assert status(value, tile) == expected


# --------------------------------------------------------------------------------------------- who sees what


def test_department_head_gets_only_their_department() -> None:
    head = principal(Role.DEPARTMENT_HEAD, department="product")
    scope = board_scope(head)
    assert (scope.department, scope.team, scope.scope_key, scope.agent_level) == (
        "product",
        None,
        "department:product",
        False,
    )
    assert board_scope(head, "product") == scope
    with pytest.raises(PermissionDenied, match="own department"):
        board_scope(head, "service")
    with pytest.raises(PermissionDenied, match="no department"):
        board_scope(principal(Role.DEPARTMENT_HEAD))


def test_executive_board_covers_the_whole_store() -> None:
    scope = board_scope(principal(Role.DEPARTMENT_HEAD, department="executive"))
    assert scope.department is None and scope.scope_key == "department:executive"


def test_team_lead_admin_cx_owner_and_agent() -> None:
    lead = board_scope(principal(Role.TEAM_LEAD, team="hotline_a"))
    assert (lead.team, lead.department, lead.agent_level, lead.scope_key) == (
        "hotline_a",
        None,
        True,
        "role:team_lead",
    )
    with pytest.raises(PermissionDenied):
        board_scope(principal(Role.TEAM_LEAD, team="hotline_a"), "service")
    admin = board_scope(principal(Role.ADMIN), "delivery")
    assert admin.department == "delivery" and admin.agent_level
    assert board_scope(principal(Role.CX_OWNER)).department is None
    with pytest.raises(ValidationError, match="Unknown department 'nowhere'"):
        board_scope(principal(Role.ADMIN), "nowhere")
    with pytest.raises(PermissionDenied):
        board_scope(principal(Role.AGENT, team="hotline_a"))


# --------------------------------------------------------------------------------------------- storage


@pytest.fixture
def people(engine: Engine, settings: Settings) -> dict[str, Principal]:
    with transaction(engine) as session:
        auth.ensure_demo_users(session, settings)
        users = session.scalars(select(auth.User)).all()
        return {u.username: auth.principal_of(u) for u in users}


def test_admin_saves_a_department_board_with_versions(engine: Engine, people: dict[str, Principal]) -> None:
    admin = people["demo-admin"]
    with transaction(engine) as session:
        assert boards.load_board(session, admin, "department:it").source == "default"
        saved = boards.save_board(
            session, admin, "department:it", [{"kpi": "csat", "target": 80}, {"kpi": "ces"}], expected_version=0
        )
        assert (saved.version, saved.kpis) == (1, ["csat", "ces"])
    with transaction(engine) as session:
        loaded = boards.load_board(session, admin, "department:it")
        assert (loaded.version, loaded.source, loaded.tiles[0].target) == (1, "stored", 80.0)
        boards.save_board(session, admin, "department:it", loaded.tiles[::-1], expected_version=1)
    with transaction(engine) as session, pytest.raises(BoardConflictError, match="now version 2"):
        boards.save_board(session, admin, "department:it", loaded.tiles, expected_version=1)
    with transaction(engine) as session:
        assert boards.load_board(session, admin, "department:it").kpis == ["ces", "csat"]
        actions = session.scalars(select(AuditEntry.action).where(AuditEntry.object_id == "department:it")).all()
        assert actions == ["board.save", "board.save"]
        boards.reset_board(session, admin, "department:it")
    with transaction(engine) as session:
        assert boards.load_board(session, admin, "department:it").source == "default"


def test_department_head_personalises_only_their_own_board(engine: Engine, people: dict[str, Principal]) -> None:
    head = people["demo-product-head"]
    scope = board_scope(head)
    own = boards.personal_scope_key(head)
    with transaction(engine) as session:
        assert boards.board_for(session, head, scope).scope_key == "department:product"
        boards.save_board(session, head, own, [{"kpi": "nps", "target": 40}], expected_version=0)
    with transaction(engine) as session:
        board = boards.board_for(session, head, scope)
        assert (board.scope_key, board.source, board.kpis) == (own, "personal", ["nps"])
        # another department head's board, or the department defaults: refused and audited
        other = boards.personal_scope_key(people["demo-it-head"])
        for target in (other, "department:product"):
            with pytest.raises(PermissionDenied):
                boards.save_board(session, head, target, [{"kpi": "nps"}], expected_version=0)
    with transaction(engine) as session:
        denied = session.scalars(
            select(AuditEntry.object_id).where(AuditEntry.outcome == "denied", AuditEntry.action.like("board.%"))
        ).all()
        assert sorted(denied) == sorted([other, "department:product"])
        boards.reset_board(session, head, own)
    with transaction(engine) as session:
        assert boards.board_for(session, head, scope).scope_key == "department:product"


def test_board_settings_and_other_scopes_are_refused_and_audited(engine: Engine, people: dict[str, Principal]) -> None:
    head, lead, agent = people["demo-service-head"], people["demo-team-lead"], people["demo-agent"]
    with transaction(engine) as session:
        assert boards.load_board(session, head, boards.personal_scope_key(head)).source == "default"
        for who in (head, lead, people["demo-cx-owner"]):  # only admins read the defaults for editing
            with pytest.raises(PermissionDenied):
                boards.load_board(session, who, "department:service")
        # a department head asking for another department's (or the whole store's) board
        product = boards.BoardScope(department="product", scope_key="department:product")
        for scope in (product, boards.BoardScope()):
            with pytest.raises(PermissionDenied):
                boards.board_for(session, head, scope)
        with pytest.raises(PermissionDenied):  # a team lead asking for a department board, an agent for any board
            boards.board_for(session, lead, board_scope(head))
        with pytest.raises(PermissionDenied):
            boards.board_for(session, agent, boards.BoardScope(team="hotline_a", scope_key="role:team_lead"))
        # a forged scope asking for figures per agent
        forged = boards.BoardScope(department="service", agent_level=True, scope_key="department:service")
        with pytest.raises(PermissionDenied):
            boards.board_for(session, head, forged)
        assert boards.board_for(session, people["demo-cx-owner"], board_scope(people["demo-admin"], "it")).kpis
    with transaction(engine) as session:
        denied = session.execute(
            select(AuditEntry.action, AuditEntry.object_id).where(AuditEntry.outcome == "denied")
        ).all()
    assert sorted(denied) == sorted(
        [("board.edit_defaults", "department:service")] * 3
        + [("board.view_any_department", "department:product"), ("board.view_any_department", "department:executive")]
        + [("board.view_any_department", "department:service"), ("board.view", "role:team_lead")]
        + [("kpi.agent_level", "department:service")]
    )


def test_who_may_see_which_scope() -> None:
    head, lead = principal(Role.DEPARTMENT_HEAD, department="service"), principal(Role.TEAM_LEAD, team="hotline_a")
    admin = principal(Role.ADMIN)
    assert boards.scope_refusal(head, board_scope(head)) is None
    assert boards.scope_refusal(head, board_scope(admin, "delivery")) == "kpi.agent_level"  # admins' scopes
    delivery = boards.BoardScope(department="delivery", scope_key="department:delivery")
    assert boards.scope_refusal(head, delivery) == "board.view_any_department"
    assert boards.scope_refusal(lead, board_scope(lead)) is None
    other_team = boards.BoardScope(team="hotline_b", agent_level=True, scope_key="role:team_lead")
    assert boards.scope_refusal(lead, other_team) == "board.view_any_department"
    assert boards.scope_refusal(admin, other_team) is None and boards.scope_refusal(None, other_team) == "board.view"
    assert boards.scope_refusal(principal(Role.AGENT, team="hotline_a"), board_scope(lead)) == "board.view"
    with pytest.raises(PermissionDenied):
        boards.require_scope(head, board_scope(admin))


def test_invalid_scope_keys_are_refused(session: Session) -> None:
    admin = principal(Role.ADMIN)
    for bad in ("department:nowhere", "role:king", "user:abc", "something"):
        with pytest.raises(BoardConfigError, match="Unknown board scope"):
            boards.save_board(session, admin, bad, [{"kpi": "nps"}], expected_version=0)


def test_moving_and_editing_tiles() -> None:
    tiles = parse_tiles([{"kpi": "nps"}, {"kpi": "csat"}, {"kpi": "ces"}])
    assert [t.kpi for t in boards.with_tile_moved(tiles, "ces", -1)] == ["nps", "ces", "csat"]
    assert [t.kpi for t in boards.with_tile_moved(tiles, "nps", -5)] == ["nps", "csat", "ces"]
    assert boards.with_target(tiles, "csat", target=90.0)[1].target == 90.0
