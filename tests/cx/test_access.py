"""The role matrix denies by default; masking hides what a role must not see."""

from __future__ import annotations

import pytest

from cx.access import (
    ACTIONS,
    PAGES,
    Principal,
    Role,
    mask_email,
    mask_name,
    mask_phone,
    mask_value,
    require,
    require_page,
)
from cx.errors import PermissionDenied


def _principal(role: Role) -> Principal:
    return Principal(user_id=1, username="u", display_name="U", role=role)


def test_unknown_page_and_action_are_denied_for_everyone() -> None:
    for role in Role:
        with pytest.raises(PermissionDenied):
            require_page(_principal(role), "no-such-page")
        with pytest.raises(PermissionDenied):
            require(_principal(role), "no.such.action")


def test_signed_out_is_denied() -> None:
    with pytest.raises(PermissionDenied, match="sign in"):
        require_page(None, "home")


@pytest.mark.parametrize("role", list(Role))
def test_matrix_is_what_require_enforces(role: Role) -> None:
    principal = _principal(role)
    for page, roles in PAGES.items():
        if role in roles:
            require_page(principal, page)
        else:
            with pytest.raises(PermissionDenied):
                require_page(principal, page)
    for action, roles in ACTIONS.items():
        assert principal.can(action) == (role in roles)


def test_agents_never_administer() -> None:
    agent = _principal(Role.AGENT)
    for action in ("user.admin", "audit.view", "data.admin", "privacy.erase", "rule.edit", "journey.edit"):
        assert not agent.can(action)


@pytest.mark.parametrize(
    ("value", "masked"),
    [("+8613800138000", "138****8000"), ("13800138000", "138****8000"), ("008613800138000", "138****8000")],
)
def test_phone_mask(value: str, masked: str) -> None:
    assert mask_phone(value) == masked


def test_email_and_name_masks() -> None:
    assert mask_email("zhang.wei@example.com") == "z***@example.com"
    assert mask_name("王伟") == "王*"
    assert mask_name("Emily Chen") == "E**** C***"


def test_mask_value_by_role() -> None:
    assert mask_value("phone", "+8613800138000", Role.CX_OWNER) == "+8613800138000"
    assert mask_value("phone", "+8613800138000", Role.AGENT) == "138****8000"
    assert mask_value("name", "王伟", Role.AGENT) == "王伟"
    assert mask_value("name", "王伟", Role.DEPARTMENT_HEAD) == "王*"
    assert mask_value("birth_date", "1990-01-01", Role.AGENT) is None
    assert mask_value("touchpoint", "shipping", Role.AGENT) == "shipping"
