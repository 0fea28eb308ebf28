"""Validated configuration of identity resolution (guards, limits, fuzzy matching), loadable from TOML."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any, Final

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from cx.errors import ConfigError
from cx.schema import STRONG_IDENTIFIERS
from etl.normalise import normalise_values

#: Values that are never a real identifier, whatever the type (compared after normalisation, case-insensitively).
DEFAULT_BLOCKLIST_ANY: Final = (
    "n/a",
    "na",
    "none",
    "null",
    "nil",
    "unknown",
    "-",
    "--",
    "0",
    "000000",
    "test",
    "无",
    "未知",
)
DEFAULT_BLOCKLIST: Final[dict[str, tuple[str, ...]]] = {
    "phone": ("13800000000", "13000000000", "13888888888", "13900000000", "12345678901", "00000000000"),
    "email": (
        "test@test.com",
        "test@example.com",
        "a@a.com",
        "noreply@example.com",
        "no-reply@example.com",
        "none@none.com",
        "null@null.com",
        "xxx@xxx.com",
    ),
    "crm_id": ("C00000000",),
}


class FuzzyConfig(BaseModel):
    """Fuzzy links on name + birth date / postcode / address, scored within blocks."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    enabled: bool = True
    #: Name similarity (0..1, rapidfuzz Indel ratio of the name keys) needed with one supporting attribute
    #: (same birth date, same postcode, or similar address).
    threshold: float = Field(0.85, ge=0.0, le=1.0)
    #: Lower name similarity accepted when the birth date AND postcode/address agree (catches typos in short
    #: Chinese names; a family member at the same address has another birth date).
    weak_threshold: float = Field(0.5, ge=0.0, le=1.0)
    #: Address similarity (Indel ratio of the case-folded addresses) that counts as "similar address".
    address_threshold: float = Field(0.85, ge=0.0, le=1.0)
    #: Candidate pairs come from equal values of these keys (any of them).
    blocking_keys: tuple[str, ...] = ("birth_date", "postcode")
    #: Blocks larger than this many distinct profiles are skipped (a default postcode, a placeholder birth date).
    max_block_size: int = Field(200, ge=2)

    @field_validator("blocking_keys")
    @classmethod
    def _known_keys(cls, keys: tuple[str, ...]) -> tuple[str, ...]:
        allowed = ("birth_date", "postcode", "address", "name")
        bad = [k for k in keys if k not in allowed]
        if bad:
            raise ValueError(f"unknown blocking key(s) {bad}: use any of {list(allowed)}")
        if not keys:
            raise ValueError("give at least one blocking key (or set enabled = false)")
        return keys

    @model_validator(mode="after")
    def _ordered(self) -> FuzzyConfig:
        if self.weak_threshold > self.threshold:
            raise ValueError("weak_threshold must not be above threshold")
        return self


class IdentityConfig(BaseModel):
    """Everything that tunes identity resolution; every field has a sensible default.

    - ``strength``: strong identifier types, strongest first. Conflicts are cut at the weakest type.
    - ``limits``: at most this many distinct values of a type per profile (``crm_id = 1``): a cluster with more
      is split at its weakest links.
    - ``blocklist``: placeholder values per type (normalised like the data: ``13800000000`` -> E.164), and
      ``blocklist_any`` for every type (case-insensitive). Never used for linking.
    - ``frequency_caps``: a value of this type seen together with more than N distinct values of any witness type
      (``cap_witnesses``) is shared (a store kiosk, a switchboard number) and not used for linking.
    - ``fuzzy``: see :class:`FuzzyConfig`.
    - ``phone_region``: region used to normalise blocklisted phones.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    strength: tuple[str, ...] = (
        "crm_id",
        "member_id",
        "email",
        "wechat_id",
        "social_handle",
        "phone",
        "device_id",
    )
    limits: dict[str, int] = Field(default_factory=lambda: {"crm_id": 1, "member_id": 1})
    blocklist: dict[str, tuple[str, ...]] = Field(default_factory=lambda: dict(DEFAULT_BLOCKLIST))
    blocklist_any: tuple[str, ...] = DEFAULT_BLOCKLIST_ANY
    frequency_caps: dict[str, int] = Field(
        default_factory=lambda: {
            "device_id": 3,
            "phone": 4,
            "email": 3,
            "wechat_id": 3,
            "social_handle": 3,
            "member_id": 3,
            "crm_id": 3,
        }
    )
    cap_witnesses: tuple[str, ...] = ("crm_id", "member_id", "email", "phone")
    fuzzy: FuzzyConfig = FuzzyConfig()
    phone_region: str = "CN"

    @field_validator("strength")
    @classmethod
    def _strength(cls, order: tuple[str, ...]) -> tuple[str, ...]:
        unknown = [t for t in order if t not in STRONG_IDENTIFIERS]
        missing = [t for t in STRONG_IDENTIFIERS if t not in order]
        problems = []
        if unknown:
            problems.append(f"unknown identifier type(s) {unknown}")
        if missing:
            problems.append(f"missing {missing} (list every strong identifier, strongest first)")
        if len(set(order)) != len(order):
            problems.append("a type is listed twice")
        if problems:
            raise ValueError("; ".join(problems))
        return order

    @field_validator("limits", "frequency_caps")
    @classmethod
    def _per_type_ints(cls, values: dict[str, int]) -> dict[str, int]:
        bad_types = [t for t in values if t not in STRONG_IDENTIFIERS]
        if bad_types:
            raise ValueError(f"unknown identifier type(s) {bad_types}: use any of {list(STRONG_IDENTIFIERS)}")
        small = [t for t, n in values.items() if n < 1]
        if small:
            raise ValueError(f"{small}: must be at least 1")
        return values

    @field_validator("blocklist")
    @classmethod
    def _blocklist_types(cls, values: dict[str, tuple[str, ...]]) -> dict[str, tuple[str, ...]]:
        bad_types = [t for t in values if t not in STRONG_IDENTIFIERS]
        if bad_types:
            raise ValueError(f"unknown identifier type(s) {bad_types}: use any of {list(STRONG_IDENTIFIERS)}")
        return values

    @field_validator("cap_witnesses")
    @classmethod
    def _witnesses(cls, values: tuple[str, ...]) -> tuple[str, ...]:
        bad = [t for t in values if t not in STRONG_IDENTIFIERS]
        if bad:
            raise ValueError(f"unknown identifier type(s) {bad}: use any of {list(STRONG_IDENTIFIERS)}")
        return values

    def normalised_blocklist(self) -> dict[str, list[str]]:
        """Blocklisted values per type, normalised the way the data is (phones to E.164, e-mails lower-cased)."""
        out: dict[str, list[str]] = {}
        for id_type, values in self.blocklist.items():
            out[id_type] = normalise_values(id_type, list(values), self.phone_region) if values else []
        return out

    def rank(self) -> dict[str, int]:
        """Type -> strength rank (0 = strongest)."""
        return {t: i for i, t in enumerate(self.strength)}


def load_identity_config(source: str | Path | dict[str, Any]) -> IdentityConfig:
    """Read an :class:`IdentityConfig` from a TOML file (its ``[identity]`` table, or the whole file), a TOML
    text, or a mapping. Every problem is reported at once, as a :class:`cx.errors.ConfigError`."""
    where = "identity config"
    if isinstance(source, dict):
        data = source
    else:
        text = source
        if isinstance(source, Path) or (isinstance(source, str) and "\n" not in source and source.endswith(".toml")):
            path = Path(source)
            where = str(path)
            try:
                text = path.read_text(encoding="utf-8")
            except OSError as exc:
                raise ConfigError(f"cannot read the identity config {path}: {exc.strerror}; check the path") from exc
        try:
            data = tomllib.loads(str(text))
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{where} is not valid TOML: {exc}") from exc
    if "identity" in data and isinstance(data["identity"], dict):
        data = data["identity"]
    try:
        return IdentityConfig.model_validate(data)
    except ValidationError as exc:
        problems = [f"{'.'.join(str(p) for p in err['loc']) or '(top)'}: {err['msg']}" for err in exc.errors()]
        raise ConfigError(f"{where} is invalid: " + "; ".join(problems)) from exc
