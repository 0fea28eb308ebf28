"""Every interface string exists in both languages, and every key the code uses is in the catalog."""

from __future__ import annotations

import re
from pathlib import Path

from ui.format import fmt_count, fmt_duration, fmt_pct, fmt_points
from ui.i18n import catalog, t

REPO = Path(__file__).resolve().parents[2]
KEY_USE = re.compile(r"""\bt\(\s*["']([a-z0-9_.]+)["']""")


def test_every_key_has_both_languages() -> None:
    for key, (english, chinese) in catalog().items():
        assert english.strip() and chinese.strip(), key
        assert re.findall(r"{(\w+)}", english) == re.findall(r"{(\w+)}", chinese) or sorted(
            re.findall(r"{(\w+)}", english)
        ) == sorted(re.findall(r"{(\w+)}", chinese)), f"{key}: placeholders differ between languages"


def test_every_key_used_in_code_exists() -> None:
    used: dict[str, str] = {}
    for folder in ("app.py", "pages", "ui"):
        for path in [REPO / folder] if folder.endswith(".py") else (REPO / folder).rglob("*.py"):
            for key in KEY_USE.findall(path.read_text("utf-8")):
                used.setdefault(key, str(path.relative_to(REPO)))
    missing = {key: where for key, where in used.items() if key not in catalog()}
    assert not missing, f"add these keys to a ui/i18n/catalog_*.py: {missing}"


def test_translation_and_formatting() -> None:
    assert t("nav.home", "en") == "Home" and t("nav.home", "zh") == "首页"
    assert t("shell.open_alerts", "en", count=3) == "3 open alerts for you"
    assert fmt_count(12345, "zh") == "1.2万" and fmt_count(12345, "en") == "12.3k" and fmt_count(999, "en") == "999"
    assert fmt_pct(72.44) == "72.4 %" and fmt_points(3.14, language="en") == "+3.1 pts"
    assert fmt_duration(200, "en") == "3 min 20 s" and fmt_duration(200, "zh") == "3 分 20 秒"
