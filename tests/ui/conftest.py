"""Fixtures shared by the ui tests (the security pages' app environment)."""

from tests.ui.security_env import app_env  # noqa: F401
