"""IdentityConfig: defaults, validation with exact messages, TOML loading."""

from __future__ import annotations

from pathlib import Path

import pytest

from cx.errors import ConfigError
from etl.identity_config import IdentityConfig, load_identity_config


def test_defaults_are_valid_and_normalise_the_blocklist() -> None:
    config = IdentityConfig()
    assert config.strength[0] == "crm_id" and config.limits == {"crm_id": 1, "member_id": 1}
    blocked = config.normalised_blocklist()
    assert "+8613800000000" in blocked["phone"] and "test@test.com" in blocked["email"]


def test_load_from_toml_file(tmp_path: Path) -> None:
    path = tmp_path / "identity.toml"
    path.write_text(
        """
[identity]
limits = { crm_id = 1, member_id = 2 }
frequency_caps = { device_id = 5 }

[identity.blocklist]
phone = ["139 0000 0000"]

[identity.fuzzy]
threshold = 0.9
blocking_keys = ["birth_date", "postcode", "address"]
""",
        encoding="utf-8",
    )
    config = load_identity_config(path)
    assert config.limits["member_id"] == 2 and config.frequency_caps == {"device_id": 5}
    assert config.normalised_blocklist()["phone"] == ["+8613900000000"]
    assert config.fuzzy.threshold == 0.9 and config.fuzzy.blocking_keys == ("birth_date", "postcode", "address")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("limits = { crm_idx = 1 }", "limits: Value error, unknown identifier type(s) ['crm_idx']"),
        ("limits = { crm_id = 0 }", "limits: Value error, ['crm_id']: must be at least 1"),
        ('strength = ["crm_id"]', "strength: Value error, missing ['phone', 'email', 'wechat_id'"),
        ("[fuzzy]\nthreshold = 1.5", "fuzzy.threshold: Input should be less than or equal to 1"),
        ("[fuzzy]\nthreshold = 0.4", "fuzzy: Value error, weak_threshold must not be above threshold"),
        ('[fuzzy]\nblocking_keys = ["zip"]', "unknown blocking key(s) ['zip']"),
        ("colour = 'red'", "colour: Extra inputs are not permitted"),
        ("limits = [", "identity config is not valid TOML"),
    ],
)
def test_invalid_configs_name_the_problem(text: str, message: str) -> None:
    with pytest.raises(ConfigError) as err:
        load_identity_config(text + "\n")
    assert message in str(err.value)


def test_every_problem_is_reported_at_once() -> None:
    with pytest.raises(ConfigError) as err:
        load_identity_config({"limits": {"x": 1}, "frequency_caps": {"device_id": 0}})
    assert "limits:" in str(err.value) and "frequency_caps:" in str(err.value)


def test_missing_file_says_so(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read the identity config"):
        load_identity_config(tmp_path / "nope.toml")
