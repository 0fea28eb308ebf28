"""Source mapping files (docs/source-mapping.md): a validated, typed model; every problem is reported at once."""

from __future__ import annotations

import glob
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import phonenumbers
import polars as pl

from cx.errors import ValidationError
from cx.schema import CANONICAL_FIELDS, CHANNELS, REQUIRED_FIELDS, STRONG_IDENTIFIERS

FORMATS: Final = ("csv", "ndjson", "json", "parquet", "excel", "sql")
SUFFIX_FORMATS: Final = {
    ".csv": "csv",
    ".tsv": "csv",
    ".txt": "csv",
    ".ndjson": "ndjson",
    ".jsonl": "ndjson",
    ".json": "json",
    ".parquet": "parquet",
    ".pq": "parquet",
    ".xlsx": "excel",
    ".xlsm": "excel",
    ".xls": "excel",
}
ENCODINGS: Final = ("utf8", "utf8-lossy")
#: Time formats that are not strptime patterns: integer epochs.
EPOCH_FORMATS: Final = {"epoch_s": "s", "epoch_ms": "ms", "epoch_us": "us"}
TIME_FIELDS: Final = tuple(f for f, t in CANONICAL_FIELDS.items() if isinstance(t, pl.Datetime) or t == pl.Datetime)
DATE_FIELDS: Final = tuple(f for f, t in CANONICAL_FIELDS.items() if t == pl.Date)
NUMERIC_FIELDS: Final = tuple(f for f, t in CANONICAL_FIELDS.items() if t in (pl.Float64, pl.Int8))
#: Canonical fields a mapping may fill (``source`` comes from the mapping itself, ``extra`` from unmapped columns).
MAPPABLE_FIELDS: Final = tuple(f for f in CANONICAL_FIELDS if f not in ("source", "extra"))
#: Profile attributes a source may carry (extension, see docs/source-mapping.md ``[profile]``); kept in ``extra``.
PROFILE_ATTRIBUTES: Final = ("city", "member_tier", "segment")
#: Default formats tried, in order, for time and date fields when a mapping gives none.
DEFAULT_TIME_FORMATS: Final = (
    "%Y-%m-%dT%H:%M:%S%.f%z",
    "%Y-%m-%d %H:%M:%S%.f%z",
    "%Y-%m-%dT%H:%M:%S%.fZ",
    "%Y-%m-%dT%H:%M:%S%.f",
    "%Y-%m-%d %H:%M:%S%.f",
    "%Y-%m-%d %H:%M",
    "%Y/%m/%d %H:%M:%S",
    "%Y/%m/%d %H:%M",
    "%Y-%m-%d",
)
DEFAULT_DATE_FORMATS: Final = ("%Y-%m-%d", "%Y/%m/%d", "%Y%m%d")
_TOP_KEYS: Final = frozenset(
    {
        "source",
        "channel",
        "files",
        "format",
        "timezone",
        "phone_region",
        "encoding",
        "delimiter",
        "sheet",
        "table",
        "url",
        "query",
        "columns",
        "formats",
        "sum",
        "scale",
        "values",
        "constants",
        "identifiers",
        "profile",
    }
)
_SOURCE_NAME: Final = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,99}$")


class MappingError(ValidationError):
    """A mapping file is invalid; ``problems`` lists every issue found."""


@dataclass(frozen=True)
class SourceMapping:
    """How one channel export becomes canonical interactions (one mapping file, or a canonical file)."""

    source: str
    channel: str | None
    files: tuple[str, ...] = ()
    format: str | None = None
    timezone: str | None = None
    phone_region: str | None = None
    encoding: str = "utf8"
    delimiter: str = ","
    sheet: str | None = None
    table: str | None = None
    url: str | None = None
    query: str | None = None
    #: source column -> canonical field
    columns: Mapping[str, str] = field(default_factory=dict)
    #: canonical time/date field -> formats tried in order
    formats: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    #: canonical numeric field -> source columns added up
    sums: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    scale: Mapping[str, float] = field(default_factory=dict)
    #: canonical field -> {source text: canonical value}
    values: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    constants: Mapping[str, Any] = field(default_factory=dict)
    strong_identifiers: tuple[str, ...] = ()
    #: profile attribute (city, member_tier, segment) -> source column
    profile: Mapping[str, str] = field(default_factory=dict)
    base_dir: Path | None = None
    origin: str = "<mapping>"
    canonical: bool = False

    @property
    def mapped_fields(self) -> set[str]:
        """Canonical fields this source fills (columns, sums, constants)."""
        return set(self.columns.values()) | set(self.sums) | set(self.constants)

    @property
    def used_columns(self) -> set[str]:
        """Source columns the mapping reads (everything else goes to ``extra``)."""
        used = set(self.columns) | {c for cols in self.sums.values() for c in cols}
        return used | set(self.profile.values())

    def required_columns(self) -> set[str]:
        """Source columns that feed a required field: a file without them cannot be loaded."""
        return {col for col, target in self.columns.items() if target in REQUIRED_FIELDS}

    def resolve_files(self) -> list[Path]:
        """The files this mapping's globs match, relative to the mapping file's folder, sorted by path."""
        base = self.base_dir or Path.cwd()
        found: set[Path] = set()
        for pattern in self.files:
            full = pattern if Path(pattern).is_absolute() else str(base / pattern)
            found.update(Path(p).resolve() for p in glob.glob(full, recursive=True) if Path(p).is_file())
        return sorted(found)

    def format_of(self, path: Path | None) -> str:
        """The file format: the mapping's ``format``, else from the file suffix (csv when unknown)."""
        if self.format:
            return self.format
        if self.table or self.query:
            return "sql" if self.format in (None, "sql") else str(self.format)
        return SUFFIX_FORMATS.get(path.suffix.lower(), "csv") if path is not None else "csv"


def _problem_list(value: Any, where: str, problems: list[str]) -> tuple[str, ...]:
    if isinstance(value, str):
        return (value,)
    if isinstance(value, list) and all(isinstance(v, str) and v for v in value):
        return tuple(value)
    problems.append(f"{where} must be a list of strings, not {value!r}")
    return ()


def _table(data: Mapping[str, Any], key: str, problems: list[str]) -> dict[str, Any]:
    value = data.get(key, {})
    if not isinstance(value, dict):
        problems.append(f"[{key}] must be a table, not {value!r}")
        return {}
    return value


def _check_field(name: str, where: str, problems: list[str], allowed: tuple[str, ...] = MAPPABLE_FIELDS) -> bool:
    if name not in allowed:
        problems.append(f"{where}: {name!r} is not a canonical field; use one of {', '.join(allowed)}")
        return False
    return True


def parse_mapping(data: Mapping[str, Any], *, base_dir: Path | None = None, origin: str = "<mapping>") -> SourceMapping:
    """Validate a parsed mapping (TOML table) and build the model; raises MappingError listing every problem."""
    problems: list[str] = []
    unknown = sorted(set(data) - _TOP_KEYS)
    if unknown:
        problems.append(f"unknown keys {unknown}; allowed: {', '.join(sorted(_TOP_KEYS))}")

    source = data.get("source")
    if not isinstance(source, str) or not _SOURCE_NAME.match(source):
        problems.append(f"source is required: a name of letters, digits, '_', '-' or '.' (at most 100), not {source!r}")
        source = "?"

    columns_raw = _table(data, "columns", problems)
    columns: dict[str, str] = {}
    targets: dict[str, str] = {}
    for column, target in columns_raw.items():
        if not isinstance(target, str):
            problems.append(f"[columns] {column!r} must name a canonical field as text, not {target!r}")
            continue
        if not _check_field(target, f"[columns] {column!r}", problems):
            continue
        if target in targets:
            problems.append(f"[columns] {column!r} and {targets[target]!r} both map to {target!r}; keep one")
            continue
        targets[target] = column
        columns[column] = target

    sums: dict[str, tuple[str, ...]] = {}
    for target, cols in _table(data, "sum", problems).items():
        if _check_field(target, "[sum]", problems, NUMERIC_FIELDS):
            sums[target] = _problem_list(cols, f"[sum] {target}", problems)
            if target in targets:
                problems.append(f"[sum] {target!r} is also mapped from column {targets[target]!r}; keep one")

    scale: dict[str, float] = {}
    for target, factor in _table(data, "scale", problems).items():
        if not _check_field(target, "[scale]", problems, NUMERIC_FIELDS):
            continue
        if isinstance(factor, bool) or not isinstance(factor, int | float) or factor == 0:
            problems.append(f"[scale] {target} must be a non-zero number, not {factor!r}")
            continue
        scale[target] = float(factor)

    formats: dict[str, tuple[str, ...]] = {}
    for target, fmts in _table(data, "formats", problems).items():
        if not _check_field(target, "[formats]", problems, (*TIME_FIELDS, *DATE_FIELDS)):
            continue
        parsed = _problem_list(fmts, f"[formats] {target}", problems)
        for fmt in parsed:
            if fmt in EPOCH_FORMATS:
                if target in DATE_FIELDS:
                    problems.append(f"[formats] {target}: {fmt} is for times, not dates")
            elif "%" not in fmt:
                problems.append(f"[formats] {target}: {fmt!r} is not a strptime format such as '%Y-%m-%d %H:%M:%S'")
        formats[target] = parsed

    values: dict[str, dict[str, Any]] = {}
    for target, table in _table(data, "values", problems).items():
        if not _check_field(target, "[values]", problems):
            continue
        if not isinstance(table, dict):
            problems.append(f"[values.{target}] must be a table of source value = canonical value")
            continue
        bad = [k for k, v in table.items() if not isinstance(v, str | int | float | bool)]
        if bad:
            problems.append(f"[values.{target}] values must be text, numbers or booleans (check {bad})")
        values[target] = dict(table)

    constants: dict[str, Any] = {}
    for target, value in _table(data, "constants", problems).items():
        if not _check_field(target, "[constants]", problems):
            continue
        if target in targets:
            problems.append(f"[constants] {target!r} is also mapped from column {targets[target]!r}; keep one")
        if not isinstance(value, str | int | float | bool):
            problems.append(f"[constants] {target} must be text, a number or a boolean, not {value!r}")
            continue
        constants[target] = value

    identifiers = _table(data, "identifiers", problems)
    unknown_id_keys = sorted(set(identifiers) - {"strong"})
    if unknown_id_keys:
        problems.append(f"[identifiers] unknown keys {unknown_id_keys}; allowed: strong")
    mapped = set(columns.values()) | set(constants)
    if "strong" in identifiers:
        strong = _problem_list(identifiers["strong"], "[identifiers] strong", problems)
        for name in strong:
            if name not in STRONG_IDENTIFIERS:
                problems.append(
                    f"[identifiers] strong: {name!r} is not a strong identifier; use {', '.join(STRONG_IDENTIFIERS)}"
                )
    else:
        strong = tuple(f for f in STRONG_IDENTIFIERS if f in mapped)

    profile: dict[str, str] = {}
    for attribute, column in _table(data, "profile", problems).items():
        if attribute not in PROFILE_ATTRIBUTES:
            problems.append(f"[profile] {attribute!r} is not a profile attribute; use {', '.join(PROFILE_ATTRIBUTES)}")
        elif not isinstance(column, str) or not column:
            problems.append(f"[profile] {attribute} must name a source column, not {column!r}")
        else:
            profile[attribute] = column

    channel = data.get("channel")
    if channel is not None and channel not in CHANNELS:
        problems.append(f"channel {channel!r} is not one of {', '.join(CHANNELS)}")
    if channel is None and "channel" not in mapped:
        problems.append("channel is required unless a column maps to `channel`")
    if isinstance(channel, str) and "channel" in constants:
        problems.append("give the channel once: either `channel` or [constants] channel")

    fmt = data.get("format")
    if fmt is not None and fmt not in FORMATS:
        problems.append(f"format {fmt!r} is not one of {', '.join(FORMATS)}")
    is_sql = fmt == "sql" or (fmt is None and ("table" in data or "query" in data))
    files: tuple[str, ...] = ()
    if is_sql:
        if not isinstance(data.get("url"), str):
            problems.append("a sql source needs url = a SQLAlchemy URL such as 'postgresql+psycopg://...'")
        if ("table" in data) == ("query" in data):
            problems.append("a sql source needs exactly one of table = '...' or query = 'select ...'")
        for key in ("table", "query"):
            if key in data and (not isinstance(data[key], str) or not data[key].strip()):
                problems.append(f"{key} must be non-empty text")
    elif "files" not in data:
        problems.append('files is required: globs relative to the mapping file, e.g. files = ["calls*.csv"]')
    else:
        files = _problem_list(data["files"], "files", problems)

    timezone = data.get("timezone")
    if timezone is not None:
        try:
            ZoneInfo(str(timezone))
        except (ZoneInfoNotFoundError, ValueError):
            problems.append(f"timezone {timezone!r} is not an IANA time zone such as 'Asia/Shanghai'")
    region = data.get("phone_region")
    if region is not None and (not isinstance(region, str) or region.upper() not in phonenumbers.SUPPORTED_REGIONS):
        problems.append(f"phone_region {region!r} is not a region code such as CN, US or DE")
    encoding = data.get("encoding", "utf8")
    if encoding not in ENCODINGS:
        problems.append(f"encoding {encoding!r} is not one of {', '.join(ENCODINGS)}")
    delimiter = data.get("delimiter", ",")
    if not isinstance(delimiter, str) or len(delimiter) != 1:
        problems.append(f"delimiter must be one character, not {delimiter!r}")
    sheet = data.get("sheet")
    if sheet is not None and not isinstance(sheet, str | int):
        problems.append(f"sheet must be a sheet name, not {sheet!r}")

    missing = [f for f in REQUIRED_FIELDS if f not in mapped]
    if missing:
        problems.append(f"required fields not mapped: {', '.join(missing)} (map a column to each in [columns])")

    if problems:
        raise MappingError(f"The mapping {origin} is not valid", problems)
    return SourceMapping(
        source=str(source),
        channel=channel,
        files=files,
        format=fmt if fmt else ("sql" if is_sql else None),
        timezone=timezone,
        phone_region=region.upper() if isinstance(region, str) else None,
        encoding=str(encoding),
        delimiter=str(delimiter),
        sheet=None if sheet is None else str(sheet),
        table=data.get("table"),
        url=data.get("url"),
        query=data.get("query"),
        columns=columns,
        formats=formats,
        sums=sums,
        scale=scale,
        values=values,
        constants=constants,
        strong_identifiers=strong,
        profile=profile,
        base_dir=base_dir,
        origin=origin,
    )


def load_mapping(path: Path | str) -> SourceMapping:
    """Read and validate one mapping file (TOML)."""
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise MappingError(f"The mapping file {path} does not exist") from exc
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise MappingError(f"The mapping file {path} is not valid TOML: {exc}") from exc
    return parse_mapping(data, base_dir=path.resolve().parent, origin=str(path))


def canonical_mapping(path: Path, columns: list[str], *, channel: str | None = None) -> SourceMapping:
    """The mapping of a file whose columns already carry canonical names: source = file name without suffix.

    Canonical columns map to themselves, everything else goes to ``extra``; the channel comes from a ``channel``
    column or from ``channel``. Raises MappingError when the file cannot be loaded that way.
    """
    problems: list[str] = []
    mapped = {c: c for c in columns if c in MAPPABLE_FIELDS}
    missing = [f for f in REQUIRED_FIELDS if f not in mapped]
    if missing:
        problems.append(f"columns {', '.join(missing)} are missing (found: {', '.join(columns) or 'none'})")
    if channel is None and "channel" not in mapped:
        problems.append("it has no `channel` column: pass --channel or write a mapping file")
    if channel is not None and channel not in CHANNELS:
        problems.append(f"channel {channel!r} is not one of {', '.join(CHANNELS)}")
    source = path.stem
    if not _SOURCE_NAME.match(source):
        problems.append(f"its name {source!r} is not usable as a source name (letters, digits, '_', '-', '.')")
    if problems:
        raise MappingError(f"{path} has no mapping file and cannot be loaded as canonical", problems)
    return SourceMapping(
        source=source,
        channel=channel if "channel" not in mapped else None,
        files=(path.name,),
        columns=mapped,
        strong_identifiers=tuple(f for f in STRONG_IDENTIFIERS if f in mapped),
        base_dir=path.resolve().parent,
        origin=f"{path} (canonical columns)",
        canonical=True,
    )
