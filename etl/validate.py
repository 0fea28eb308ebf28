"""Validation: type, range and required-field checks; good rows go on typed, bad rows go to quarantine with reasons.

One bad source row gives one quarantine row: ``column`` and ``rule`` of its first failed check (in field order),
``reason`` listing every failed check. Rules:

=============  ==================================================================================================
``required``   record_id, occurred_at or channel is empty
``type``       not a number / not a whole number (scores) / not a boolean
``range``      a score outside NPS 0–10, CSAT 1–5, CES 1–7; a negative duration; a time outside 1970–2100
``datetime``   a time that no format of the mapping parses (or that does not exist in the time zone)
``date``       a date that no format parses
``value``      channel, direction or kind not in the canonical vocabulary (cx.schema)
``email``      an e-mail address that is not well-formed (etl.normalise)
``phone``      a phone number that is not valid for its region (etl.normalise, ``phonenumbers``)
``length``     a value longer than its column in the store
``ragged``     a CSV row with more fields than the header
=============  ==================================================================================================

Empty text and placeholder tokens (``N/A``, ``null``, ``-``, ``无`` …, see NULL_TOKENS) count as missing values,
except in free ``text``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

import polars as pl
from sqlalchemy import String

from cx.models import Interaction
from cx.schema import CANONICAL_FIELDS, CHANNELS, DIRECTIONS, KINDS, SCORE_RANGES, interaction_id_expr
from etl import normalise
from etl.mapping import DEFAULT_DATE_FORMATS, DEFAULT_TIME_FORMATS, EPOCH_FORMATS, SourceMapping
from etl.sources import LINE, OVERFLOW, RAW, SUM_ERRORS

RULES: Final = ("required", "type", "range", "datetime", "date", "value", "email", "phone", "length", "ragged")
NULL_TOKENS: Final = ("n/a", "na", "#n/a", "null", "none", "nil", "-", "--", "无", "空", "未知", "(null)")
TRUE_TOKENS: Final = ("true", "t", "1", "1.0", "y", "yes", "是", "对")
FALSE_TOKENS: Final = ("false", "f", "0", "0.0", "n", "no", "否", "不")
ENUMS: Final = {"channel": CHANNELS, "direction": DIRECTIONS, "kind": KINDS}
DURATIONS: Final = ("queue_wait_s", "first_response_s", "handle_s")
BOOLEANS: Final = ("abandoned", "resolved")
YEARS: Final = (1970, 2100)
#: String column -> maximum length in the store (cx.models.Interaction).
MAX_LENGTHS: Final = {
    c.name: c.type.length
    for c in Interaction.__table__.columns
    if isinstance(c.type, String) and c.type.length and c.name in CANONICAL_FIELDS
}
INTERACTION_ID_MAX: Final = Interaction.__table__.c.interaction_id.type.length
#: Columns of the quarantine frame (cx.models.QuarantinedRow without id, batch and time).
QUARANTINE_COLUMNS: Final = ("source", "file", "line", "record_id", "column", "rule", "reason", "raw")
#: Working columns carried with good rows (dropped before loading).
META: Final = ("_file", "_order", LINE, "name_key", "phone_valid", "email_valid")


@dataclass(frozen=True)
class Check:
    """One validation check: ``failed`` is true on rows that fail; ``reason`` is evaluated on those rows only."""

    column: str | None
    rule: str
    failed: pl.Expr
    reason: pl.Expr


def _in(name: str) -> str:
    return f"_in:{name}"


def _quoted(expr: pl.Expr) -> pl.Expr:
    return pl.concat_str([pl.lit("'"), expr.cast(pl.String).str.slice(0, 80), pl.lit("'")])


#: NULL_TOKENS as written in lower, upper and title case (a hash lookup, no lower-casing of every value).
_TOKEN_FORMS: Final = tuple(sorted({f for t in NULL_TOKENS for f in (t, t.upper(), t.title(), t.capitalize())}))


def clean_text(expr: pl.Expr, *, tokens: bool = True) -> pl.Expr:
    """Trimmed text; empty (and placeholder tokens unless ``tokens=False``) -> null."""
    s = expr.cast(pl.String).str.strip_chars()
    keep = s.str.len_bytes() > 0
    if tokens:
        keep = keep & ~s.is_in(_TOKEN_FORMS)
    return pl.when(keep).then(s).otherwise(None)


def _t(name: str) -> str:
    return f"_t:{name}"


def _text(name: str, dtype: pl.DataType) -> pl.Expr:
    """The cleaned text of a raw field (computed once per field as ``_t:<field>``), or null for typed fields."""
    return pl.col(_t(name)) if dtype == pl.String else clean_text(pl.col(name))


def _number(name: str, dtype: pl.DataType) -> pl.Expr:
    """Float64 value of a raw field (null when empty, not a number, or not finite)."""
    col = pl.col(name)
    if dtype == pl.Boolean:
        return col.cast(pl.Float64)
    value = col.cast(pl.Float64) if dtype.is_numeric() else _text(name, dtype).cast(pl.Float64, strict=False)
    return pl.when(value.is_finite()).then(value)


def _present(name: str, dtype: pl.DataType | None = None) -> pl.Expr:
    """The raw value is there (not null, not empty text, not a placeholder token)."""
    if dtype is not None and dtype != pl.String:
        return pl.col(name).is_not_null()
    return pl.col(_t(name)).is_not_null()


def _boolean(name: str, dtype: pl.DataType) -> pl.Expr:
    col = pl.col(name)
    if dtype == pl.Boolean:
        return col
    if dtype.is_numeric():
        value = col.cast(pl.Float64)
        return pl.when(value == 1).then(True).when(value == 0).then(False)
    text = _text(name, dtype).str.to_lowercase()
    return pl.when(text.is_in(TRUE_TOKENS)).then(True).when(text.is_in(FALSE_TOKENS)).then(False)


def _naive_utc(expr: pl.Expr, timezone: str) -> pl.Expr:
    """A naive local datetime -> naive UTC (non-existent local times become null)."""
    return (
        expr.dt.replace_time_zone(timezone, ambiguous="earliest", non_existent="null")
        .dt.convert_time_zone("UTC")
        .dt.replace_time_zone(None)
    )


def _datetime(name: str, dtype: pl.DataType, formats: tuple[str, ...], timezone: str) -> pl.Expr:
    """UTC datetime: typed values converted, text tried against each format in order (null when none fits)."""
    col = pl.col(name)
    if isinstance(dtype, pl.Datetime):
        value = col.dt.cast_time_unit("us")
        if dtype.time_zone is None:
            value = _naive_utc(value, timezone)
        else:
            value = value.dt.convert_time_zone("UTC").dt.replace_time_zone(None)
        return value.dt.replace_time_zone("UTC")
    if dtype == pl.Date:
        return _naive_utc(col.cast(pl.Datetime("us")), timezone).dt.replace_time_zone("UTC")
    text = _text(name, dtype)
    candidates: list[pl.Expr] = []
    for fmt in formats:
        if fmt in EPOCH_FORMATS:
            digits = col.cast(pl.Int64, strict=False) if dtype.is_numeric() else text.cast(pl.Int64, strict=False)
            candidates.append(pl.from_epoch(digits, time_unit=EPOCH_FORMATS[fmt]).dt.cast_time_unit("us"))
        elif "%z" in fmt or "%:z" in fmt or "%#z" in fmt:
            parsed = text.str.strptime(pl.Datetime("us", "UTC"), fmt, strict=False)
            candidates.append(parsed.dt.replace_time_zone(None))
        else:
            candidates.append(_naive_utc(text.str.strptime(pl.Datetime("us"), fmt, strict=False), timezone))
    value = pl.coalesce(candidates) if candidates else pl.lit(None, dtype=pl.Datetime("us"))
    return value.dt.replace_time_zone("UTC")


def _date(name: str, dtype: pl.DataType, formats: tuple[str, ...]) -> pl.Expr:
    col = pl.col(name)
    if dtype == pl.Date:
        return col
    if isinstance(dtype, pl.Datetime):
        return col.dt.date()
    text = _text(name, dtype)
    return pl.coalesce([text.str.strptime(pl.Date, fmt, strict=False) for fmt in formats])


def _num(name: str) -> str:
    return f"_num:{name}"


def _msg(name: str, raw: pl.Expr, text: str) -> pl.Expr:
    return pl.concat_str([pl.lit(f"{name}: "), _quoted(raw), pl.lit(text)])


def typed_checks(
    lf: pl.LazyFrame, mapping: SourceMapping, *, timezone: str, region: str
) -> tuple[pl.LazyFrame, list[Check]]:
    """Step: convert every canonical field to its type (cx.schema) and build the checks of this source.

    The frame gets each field typed under its canonical name, the raw value under ``_in:<field>``,
    ``interaction_id``, ``phone_valid``/``email_valid``/``name_key`` (etl.normalise) — and keeps ``_raw:*``.
    Each field is parsed once; checks compare the typed value with the raw one.
    """
    schema = lf.collect_schema()
    tz = mapping.timezone or timezone
    missing = [f for f in CANONICAL_FIELDS if f not in schema]
    if missing:
        lf = lf.with_columns(pl.lit(None, dtype=pl.String).alias(f) for f in missing)
    fields = [f for f in CANONICAL_FIELDS if f not in ("source", "extra")]
    lf = lf.rename({f: _in(f) for f in fields})
    schema = lf.collect_schema()
    lf = lf.with_columns(
        clean_text(pl.col(_in(f)), tokens=f not in ("record_id", "text")).alias(_t(_in(f)))
        for f in fields
        if schema[_in(f)] == pl.String
    )
    checks: list[Check] = []
    typed: list[pl.Expr] = []

    def fail(column: str | None, rule: str, failed: pl.Expr, reason: pl.Expr) -> None:
        checks.append(Check(column, rule, failed.fill_null(False), reason))

    if OVERFLOW in schema:
        fail(None, "ragged", pl.col(OVERFLOW).is_not_null(), pl.lit("the row has more fields than the header"))

    for name in fields:
        dtype = CANONICAL_FIELDS[name]
        source = _in(name)
        raw = pl.col(source)
        raw_dtype = schema[source]
        value = pl.col(name)
        if name == "record_id":
            typed.append(_text(source, raw_dtype).alias(name))
            fail(name, "required", value.is_null(), pl.lit("record_id is empty: every row needs its source's id"))
        elif name == "occurred_at":
            formats = tuple(mapping.formats.get(name) or DEFAULT_TIME_FORMATS)
            typed.append(_datetime(source, raw_dtype, formats, tz).alias(name))
            fail(name, "required", ~_present(source, raw_dtype), pl.lit(f"{name} is empty"))
            fail(
                name,
                "datetime",
                _present(source, raw_dtype) & value.is_null(),
                _msg(name, raw, f" matches none of the formats {', '.join(formats)} (time zone {tz})"),
            )
            year = value.dt.year()
            fail(
                name,
                "range",
                (year < YEARS[0]) | (year > YEARS[1]),
                _msg(name, value.dt.to_string("%Y-%m-%d %H:%M:%S"), " is before 1970 or after 2100"),
            )
        elif dtype == pl.Date:
            formats = tuple(mapping.formats.get(name) or DEFAULT_DATE_FORMATS)
            typed.append(_date(source, raw_dtype, formats).alias(name))
            fail(
                name,
                "date",
                _present(source, raw_dtype) & value.is_null(),
                _msg(name, raw, f" matches none of the formats {', '.join(formats)}"),
            )
        elif name in SCORE_RANGES:
            low, high = SCORE_RANGES[name]
            number = pl.col(_num(name))
            whole = number.round(0) == number
            in_range = number.is_between(low, high)
            typed += [_number(source, raw_dtype).alias(_num(name))]
            fail(name, "type", _present(source, raw_dtype) & number.is_null(), _msg(name, raw, " is not a number"))
            fail(name, "type", number.is_not_null() & ~whole, _msg(name, raw, " is not a whole number"))
            fail(name, "range", whole & ~in_range, _msg(name, raw, f" is outside {low}–{high}"))
        elif name in DURATIONS:
            factor = mapping.scale.get(name)
            if raw_dtype == pl.Float64 and f"{SUM_ERRORS}{name}" in schema:
                sum_errors = pl.col(f"{SUM_ERRORS}{name}")
                number = raw
                fail(
                    name,
                    "type",
                    sum_errors.str.len_bytes() > 0,
                    pl.concat_str([pl.lit(f"{name}: not numbers in its sum: "), sum_errors]),
                )
            else:
                number = _number(source, raw_dtype)
                fail(name, "type", _present(source, raw_dtype) & value.is_null(), _msg(name, raw, " is not a number"))
            typed.append((number * factor if factor else number).alias(name))
            fail(name, "range", value < 0, _msg(name, value, " is negative"))
        elif name in BOOLEANS:
            typed.append(_boolean(source, raw_dtype).alias(name))
            fail(
                name,
                "type",
                _present(source, raw_dtype) & value.is_null(),
                _msg(name, raw, " is not true/false, 1/0, Y/N, yes/no or 是/否"),
            )
        elif name in ENUMS:
            typed.append(_text(source, raw_dtype).str.to_lowercase().alias(name))
            allowed = ENUMS[name]
            fail(
                name,
                "value",
                value.is_not_null() & ~value.is_in(allowed),
                _msg(name, raw, f" is not one of {', '.join(allowed)}"),
            )
            if name == "channel":
                fail(name, "required", value.is_null(), pl.lit("channel is empty: map a column or set `channel`"))
        else:
            typed.append(_text(source, raw_dtype).alias(name))
    lf = lf.with_columns(typed)
    lf = lf.with_columns(
        pl.when(pl.col(_num(n)).round(0) == pl.col(_num(n)))
        .then(pl.when(pl.col(_num(n)).is_between(*SCORE_RANGES[n])).then(pl.col(_num(n))))
        .cast(pl.Int8)
        .alias(n)
        for n in SCORE_RANGES
    )
    lf = normalise.normalise_identifiers(lf, region=mapping.phone_region or region)
    fail(
        "email",
        "email",
        pl.col("email_valid") == False,  # noqa: E712 - null (no address) is not a failure
        _msg("email", pl.col(_in("email")), " is not a well-formed e-mail address"),
    )
    fail(
        "phone",
        "phone",
        pl.col("phone_valid") == False,  # noqa: E712
        _msg(
            "phone",
            pl.col(_in("phone")),
            f" is not a valid phone number (default region {mapping.phone_region or region})",
        ),
    )
    for name, limit in MAX_LENGTHS.items():
        if name == "source":
            continue
        fail(name, "length", pl.col(name).str.len_chars() > limit, pl.lit(f"{name} is longer than {limit} characters"))
    lf = lf.with_columns(interaction_id_expr())
    fail(
        "record_id",
        "length",
        pl.col("interaction_id").str.len_chars() > INTERACTION_ID_MAX,
        pl.lit(f"source:record_id is longer than {INTERACTION_ID_MAX} characters"),
    )
    return lf, checks


def split(lf: pl.LazyFrame, checks: list[Check]) -> tuple[pl.LazyFrame, pl.LazyFrame]:
    """(good, bad): good rows with the canonical columns + interaction_id + META; bad rows as quarantine rows."""
    failed = pl.any_horizontal([c.failed for c in checks]) if checks else pl.lit(False)
    lf = lf.with_columns(failed.alias("_failed"))
    names = lf.collect_schema().names()
    good = lf.filter(~pl.col("_failed")).select("interaction_id", *CANONICAL_FIELDS, *(m for m in META if m in names))
    first_column: pl.Expr = pl.lit(None, dtype=pl.String)
    first_rule: pl.Expr = pl.lit(None, dtype=pl.String)
    for check in reversed(checks):
        first_column = pl.when(check.failed).then(pl.lit(check.column, dtype=pl.String)).otherwise(first_column)
        first_rule = pl.when(check.failed).then(pl.lit(check.rule)).otherwise(first_rule)
    reasons = pl.concat_str([pl.when(c.failed).then(c.reason) for c in checks], separator="; ", ignore_nulls=True)
    raw_columns = [n for n in names if n.startswith(RAW)]
    raw_struct = [pl.col(n).alias(n[len(RAW) :]) for n in raw_columns]
    if OVERFLOW in names:
        raw_struct.append(pl.col(OVERFLOW).alias(OVERFLOW))
    raw = pl.struct(raw_struct).struct.json_encode() if raw_struct else pl.lit(None, dtype=pl.String)
    record = clean_text(pl.col(_in("record_id")), tokens=False).str.slice(0, 255) if _in("record_id") in names else None
    bad = lf.filter(pl.col("_failed")).select(
        pl.col("source"),
        pl.col("_file").alias("file") if "_file" in names else pl.lit(None, dtype=pl.String).alias("file"),
        pl.col(LINE).alias("line"),
        (record if record is not None else pl.lit(None, dtype=pl.String)).alias("record_id"),
        first_column.alias("column"),
        first_rule.alias("rule"),
        reasons.alias("reason"),
        raw.alias("raw"),
    )
    return good, bad


def validate(
    lf: pl.LazyFrame, mapping: SourceMapping, *, timezone: str, region: str
) -> tuple[pl.LazyFrame, pl.LazyFrame]:
    """Step pair: typed, normalised good rows and quarantine rows of one mapped source frame."""
    typed, checks = typed_checks(lf, mapping, timezone=timezone, region=region)
    return split(typed, checks)
