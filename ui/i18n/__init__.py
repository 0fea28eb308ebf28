"""Every interface string in Simplified Chinese and English; ``t(key)`` picks the signed-in user's language.

Strings live in ``catalog_<area>.py`` modules of this package, each a ``STRINGS = {key: (english, chinese)}``
dict; all of them are merged here, and a test checks that every key used in the code exists in both languages.
"""

from __future__ import annotations

import importlib
import pkgutil
from functools import lru_cache
from typing import Literal

Language = Literal["zh", "en"]
LANGUAGES: tuple[Language, ...] = ("zh", "en")
LANGUAGE_NAMES = {"zh": "中文", "en": "English"}
_SESSION_KEY = "cx_language"


@lru_cache(maxsize=1)
def catalog() -> dict[str, tuple[str, str]]:
    """All strings of all catalog modules; a key defined twice is an error."""
    merged: dict[str, tuple[str, str]] = {}
    for module_info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        if not module_info.name.startswith("catalog_"):
            continue
        strings = importlib.import_module(f"{__name__}.{module_info.name}").STRINGS
        duplicated = merged.keys() & strings.keys()
        if duplicated:
            raise KeyError(f"i18n keys defined twice ({module_info.name}): {sorted(duplicated)}")
        merged.update(strings)
    return merged


def current_language() -> Language:
    """The language of this browser session (Streamlit), else the configured default."""
    try:
        import streamlit as st
        from streamlit.runtime.scriptrunner_utils.script_run_context import get_script_run_ctx

        if get_script_run_ctx() is not None and st.session_state.get(_SESSION_KEY) in LANGUAGES:
            return st.session_state[_SESSION_KEY]
    except ImportError:  # pragma: no cover - streamlit is a runtime dependency
        pass
    from cx.settings import get_settings

    return get_settings().language


def set_language(language: Language) -> None:
    import streamlit as st

    st.session_state[_SESSION_KEY] = language


def t(key: str, language: Language | None = None, **values: object) -> str:
    """The string ``key`` in ``language`` (default: the current one), formatted with ``values``.

    A missing key shows as the key itself, so a gap is visible rather than a crash.
    """
    english, chinese = catalog().get(key, (key, key))
    text = chinese if (language or current_language()) == "zh" else english
    return text.format(**values) if values else text
