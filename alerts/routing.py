"""Who owns an alert: a user, a team, or the touchpoint's owner in the journey map (then its department head)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from cx.access import Principal, Role, require
from cx.errors import ValidationError
from cx.models import Agent, Touchpoint, User


@dataclass(frozen=True)
class Owner:
    """The resolved owner of an alert; any field may be None (an unowned alert lands in the CX owners' 'all' tab)."""

    user_id: int | None = None
    team: str | None = None
    department: str | None = None

    @property
    def empty(self) -> bool:
        return self.user_id is None and not self.team


@dataclass(frozen=True)
class Recipient:
    """A person to notify (contact details are used for delivery only, never logged)."""

    user_id: int
    display_name: str
    email: str | None
    phone: str | None
    username: str


def _touchpoint_owner(session: Session, touchpoint: str | None) -> tuple[int | None, str | None]:
    """(owner user id, owner department) of ``touchpoint`` in the journey map (through cx.journey)."""
    if not touchpoint:
        return None, None
    for key, user_id, department in _journey_owners(session):
        if key == touchpoint:
            return user_id, department
    return None, None


def _journey_owners(session: Session) -> list[tuple[str, int | None, str | None]]:
    """(touchpoint key, owner user id, owner department) for every touchpoint of the journey map."""
    try:
        from cx.journey import load_journey
    except ImportError:  # the journey model is not installed yet: read the stored map directly
        return [
            (row.key, row.owner_user_id, row.owner_department)
            for row in session.execute(select(Touchpoint.key, Touchpoint.owner_user_id, Touchpoint.owner_department))
        ]
    journey = load_journey(session)
    found = []
    for stage in getattr(journey, "stages", []) or []:
        for tp in getattr(stage, "touchpoints", []) or []:
            found.append((tp.key, getattr(tp, "owner_user_id", None), getattr(tp, "owner_department", None)))
    return found


def department_heads(session: Session, department: str) -> list[int]:
    return list(
        session.scalars(
            select(User.id)
            .where(User.role == Role.DEPARTMENT_HEAD.value, User.department == department, User.is_active.is_(True))
            .order_by(User.id)
        )
    )


def user_by_name(session: Session, username: str) -> User | None:
    return session.scalar(select(User).where(User.username == username.strip().casefold()))


def team_exists(session: Session, team: str) -> bool:
    return bool(
        session.scalar(select(User.id).where(User.team == team).limit(1))
        or session.scalar(select(Agent.agent_id).where(Agent.team == team).limit(1))
    )


def resolve_owner(session: Session, spec: dict[str, Any], *, touchpoint: str | None = None) -> Owner:
    """Turn a rule's owner spec (``{user: name}``, ``{team: name}``, ``{touchpoint_owner: true}``) into an Owner."""
    if spec.get("user"):
        user = user_by_name(session, spec["user"])
        if user is None or not user.is_active:
            return Owner()
        return Owner(user_id=user.id, team=user.team, department=user.department)
    if spec.get("team"):
        return Owner(team=spec["team"])
    if spec.get("touchpoint_owner"):
        user_id, department = _touchpoint_owner(session, touchpoint)
        if user_id is None and department:
            heads = department_heads(session, department)
            user_id = heads[0] if heads else None
        return Owner(user_id=user_id, department=department)
    return Owner()


def first_owner(session: Session, specs: list[dict[str, Any]], *, touchpoint: str | None = None) -> Owner:
    """The first spec that resolves to somebody (a rule lists owners in order of preference)."""
    for spec in specs:
        owner = resolve_owner(session, spec, touchpoint=touchpoint)
        if not owner.empty:
            return owner
    return Owner()


def check_manual_owner(session: Session, owner_user_id: int | None, owner_team: str | None) -> Owner:
    """Validate the owner chosen by hand (a person, a team, or both); raise ValidationError with what to do."""
    if owner_user_id is None and not (owner_team or "").strip():
        raise ValidationError("Choose an owner for the alert: a person or a team")
    department = None
    team = (owner_team or "").strip() or None
    if owner_user_id is not None:
        user = session.get(User, owner_user_id)
        if user is None or not user.is_active:
            raise ValidationError(f"User #{owner_user_id} cannot own alerts (unknown or inactive); choose another")
        department = user.department
        team = team or user.team
    if team and owner_user_id is None and not team_exists(session, team):
        raise ValidationError(f"There is no team {team!r}; choose one of the teams in the user list")
    return Owner(user_id=owner_user_id, team=team, department=department)


def recipients(session: Session, owner: Owner) -> list[Recipient]:
    """The people to notify for ``owner``: the user, else the team's leads (else its members), else department heads."""
    rows: list[User] = []
    if owner.user_id is not None:
        user = session.get(User, owner.user_id)
        rows = [user] if user is not None and user.is_active else []
    elif owner.team:
        members = list(
            session.scalars(select(User).where(User.team == owner.team, User.is_active.is_(True)).order_by(User.id))
        )
        leads = [u for u in members if u.role == Role.TEAM_LEAD.value]
        rows = leads or members
    elif owner.department:
        rows = list(
            session.scalars(
                select(User).where(
                    User.department == owner.department,
                    User.role == Role.DEPARTMENT_HEAD.value,
                    User.is_active.is_(True),
                )
            )
        )
    return [Recipient(u.id, u.display_name, u.email, u.phone, u.username) for u in rows]


def assignable_users(session: Session, principal: Principal | None) -> list[tuple[int, str, str | None]]:
    """(id, display name, team) of every active person who can own an alert, for owner pickers (``alert.assign``)."""
    require(principal, "alert.assign")
    return [
        (row.id, row.display_name, row.team)
        for row in session.execute(
            select(User.id, User.display_name, User.team).where(User.is_active.is_(True)).order_by(User.display_name)
        )
    ]


def known_teams(session: Session, principal: Principal | None) -> list[str]:
    """The teams an alert can be routed to (of users and agents), for owner pickers (``alert.assign``)."""
    require(principal, "alert.assign")
    teams = set(session.scalars(select(User.team).where(or_(User.team.is_not(None))))) | set(
        session.scalars(select(Agent.team).where(Agent.team.is_not(None)))
    )
    return sorted(t for t in teams if t)
