"""Normalise identifiers for identity resolution: phones to E.164, e-mails, names, other ids (vectorised polars).

Every public function is either a pure expression builder (``*_expr``) or a pure step
``LazyFrame -> LazyFrame``; chain the steps with ``LazyFrame.pipe`` or call :func:`normalise_identifiers`.

Columns written by :func:`normalise_identifiers` (canonical names from ``cx.schema``):

==================  =================================================================================
``phone``           E.164 (``+8613800138000``) when the number is valid; otherwise the trimmed input text
                    (so nothing is lost) and ``phone_valid`` is false. Empty -> null.
``phone_valid``     ``phonenumbers.is_valid_number`` of the parsed number (null when ``phone`` is null).
``email``           NFKC, every surrounding whitespace removed, lower-cased. Empty -> null.
``email_valid``     well-formed address (see :func:`email_valid_expr`; null when ``email`` is null).
``name``            NFKC, whitespace collapsed and trimmed (kept readable for display). Empty -> null.
``name_key``        matching/blocking key of the name: NFKC, case-folded, punctuation removed, tokens
                    sorted (``"Wang  Lei"``, ``"LEI WANG"`` and ``"lei·wang"`` all give ``"lei wang"``;
                    Chinese names stay one token: ``"王磊"``).
``address``         NFKC, whitespace collapsed and trimmed. Empty -> null.
``postcode``        NFKC, every whitespace removed. Empty -> null.
other identifiers   ``wechat_id``, ``device_id``, ``crm_id``, ``member_id``, ``social_handle``: as-is, only
                    trimmed; empty -> null (they are case-sensitive in their source systems).
==================  =================================================================================

Cost of the phone step: numbers are normalised per *unique* value, never per row in Python. The distinct raw
texts are compacted (NFKC only where not ASCII, separators removed), de-duplicated again, and go through a
vectorised fast path: country code and national number split with regular expressions, then validated with
``phonenumbers``' own metadata patterns compiled to polars regexes (one pass per country code present, the
common number types first). Only values the fast path cannot decide exactly (letters, extensions, trunk
prefixes such as a leading ``0``, country codes shared by several regions, and anything it finds invalid) are
parsed one by one with ``phonenumbers.parse`` (~30 µs each); a property test checks the fast path against
``phonenumbers`` on generated input. Measured: 1,000,000 rows with 556,000 distinct raw texts (five formats of
~200,000 numbers) in 1.2 s wall on the busy 2-core machine; the fallback runs only on the few unusual values.
"""

from __future__ import annotations

import sys
import unicodedata
from collections.abc import Sequence
from functools import cache, lru_cache
from typing import Final

import phonenumbers
import polars as pl
from phonenumbers.phonemetadata import PhoneMetadata

from cx.errors import ConfigError

#: Identifiers kept as-is (trimmed, empty -> null).
PLAIN_IDENTIFIERS: Final = ("wechat_id", "device_id", "crm_id", "member_id", "social_handle")
PHONE_STRUCT: Final = pl.Struct({"e164": pl.String, "valid": pl.Boolean})

#: Separators people write inside phone numbers (after NFKC), removed by the fast path.
_PHONE_PUNCT: Final = r"[\s\-\.\(\)\[\]/~\u2010-\u2015\u2212\u30fc\u00ad\u200b\u2060]"
_EMAIL_RE: Final = (
    r"^[a-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[a-z0-9!#$%&'*+/=?^_`{|}~-]+)*"
    r"@(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$"
)
_TYPE_DESCS: Final = (
    "premium_rate",
    "toll_free",
    "shared_cost",
    "voip",
    "personal_number",
    "pager",
    "uan",
    "voicemail",
    "fixed_line",
    "mobile",
)


# ------------------------------------------------------------------------------------------------ generic


def trimmed_expr(column: str | pl.Expr) -> pl.Expr:
    """The column's text with surrounding whitespace removed; empty text becomes null."""
    col = pl.col(column) if isinstance(column, str) else column
    s = col.cast(pl.String).str.strip_chars()
    return pl.when(s.str.len_bytes() > 0).then(s).otherwise(None)


# ------------------------------------------------------------------------------------------------ names


#: ``_casefold_table()`` for Unicode 14.0.0 (Python 3.11), precomputed: the scan over
#: every code point costs ~0.5-2 s of CPU per process. Another Unicode version computes the table afresh.
_CASEFOLD_UNICODE: Final = "14.0.0"
_CASEFOLD_PAIRS: Final = (
    "\xb5\x1f\u03bc\x1e\xdf\x1fss\x1e\u0149\x1f\u02bcn\x1e\u017f\x1fs\x1e\u01f0\x1fj\u030c\x1e"
    "\u0345\x1f\u03b9\x1e\u0390\x1f\u03b9\u0308\u0301\x1e\u03b0\x1f\u03c5\u0308\u0301\x1e"
    "\u03c2\x1f\u03c3\x1e\u03d0\x1f\u03b2\x1e\u03d1\x1f\u03b8\x1e\u03d5\x1f\u03c6\x1e\u03d6\x1f\u03c0\x1e"
    "\u03f0\x1f\u03ba\x1e\u03f1\x1f\u03c1\x1e\u03f5\x1f\u03b5\x1e\u0587\x1f\u0565\u0582\x1e"
    "\uab70\x1f\u13a0\x1e\uab71\x1f\u13a1\x1e\uab72\x1f\u13a2\x1e\uab73\x1f\u13a3\x1e\uab74\x1f\u13a4\x1e"
    "\uab75\x1f\u13a5\x1e\uab76\x1f\u13a6\x1e\uab77\x1f\u13a7\x1e\uab78\x1f\u13a8\x1e\uab79\x1f\u13a9\x1e"
    "\uab7a\x1f\u13aa\x1e\uab7b\x1f\u13ab\x1e\uab7c\x1f\u13ac\x1e\uab7d\x1f\u13ad\x1e\uab7e\x1f\u13ae\x1e"
    "\uab7f\x1f\u13af\x1e\uab80\x1f\u13b0\x1e\uab81\x1f\u13b1\x1e\uab82\x1f\u13b2\x1e\uab83\x1f\u13b3\x1e"
    "\uab84\x1f\u13b4\x1e\uab85\x1f\u13b5\x1e\uab86\x1f\u13b6\x1e\uab87\x1f\u13b7\x1e\uab88\x1f\u13b8\x1e"
    "\uab89\x1f\u13b9\x1e\uab8a\x1f\u13ba\x1e\uab8b\x1f\u13bb\x1e\uab8c\x1f\u13bc\x1e\uab8d\x1f\u13bd\x1e"
    "\uab8e\x1f\u13be\x1e\uab8f\x1f\u13bf\x1e\uab90\x1f\u13c0\x1e\uab91\x1f\u13c1\x1e\uab92\x1f\u13c2\x1e"
    "\uab93\x1f\u13c3\x1e\uab94\x1f\u13c4\x1e\uab95\x1f\u13c5\x1e\uab96\x1f\u13c6\x1e\uab97\x1f\u13c7\x1e"
    "\uab98\x1f\u13c8\x1e\uab99\x1f\u13c9\x1e\uab9a\x1f\u13ca\x1e\uab9b\x1f\u13cb\x1e\uab9c\x1f\u13cc\x1e"
    "\uab9d\x1f\u13cd\x1e\uab9e\x1f\u13ce\x1e\uab9f\x1f\u13cf\x1e\uaba0\x1f\u13d0\x1e\uaba1\x1f\u13d1\x1e"
    "\uaba2\x1f\u13d2\x1e\uaba3\x1f\u13d3\x1e\uaba4\x1f\u13d4\x1e\uaba5\x1f\u13d5\x1e\uaba6\x1f\u13d6\x1e"
    "\uaba7\x1f\u13d7\x1e\uaba8\x1f\u13d8\x1e\uaba9\x1f\u13d9\x1e\uabaa\x1f\u13da\x1e\uabab\x1f\u13db\x1e"
    "\uabac\x1f\u13dc\x1e\uabad\x1f\u13dd\x1e\uabae\x1f\u13de\x1e\uabaf\x1f\u13df\x1e\uabb0\x1f\u13e0\x1e"
    "\uabb1\x1f\u13e1\x1e\uabb2\x1f\u13e2\x1e\uabb3\x1f\u13e3\x1e\uabb4\x1f\u13e4\x1e\uabb5\x1f\u13e5\x1e"
    "\uabb6\x1f\u13e6\x1e\uabb7\x1f\u13e7\x1e\uabb8\x1f\u13e8\x1e\uabb9\x1f\u13e9\x1e\uabba\x1f\u13ea\x1e"
    "\uabbb\x1f\u13eb\x1e\uabbc\x1f\u13ec\x1e\uabbd\x1f\u13ed\x1e\uabbe\x1f\u13ee\x1e\uabbf\x1f\u13ef\x1e"
    "\u13f8\x1f\u13f0\x1e\u13f9\x1f\u13f1\x1e\u13fa\x1f\u13f2\x1e\u13fb\x1f\u13f3\x1e\u13fc\x1f\u13f4\x1e"
    "\u13fd\x1f\u13f5\x1e\u1c80\x1f\u0432\x1e\u1c81\x1f\u0434\x1e\u1c82\x1f\u043e\x1e\u1c83\x1f\u0441\x1e"
    "\u1c84\x1f\u0442\x1e\u1c85\x1f\u0442\x1e\u1c86\x1f\u044a\x1e\u1c87\x1f\u0463\x1e\u1c88\x1f\ua64b\x1e"
    "\u1e96\x1fh\u0331\x1e\u1e97\x1ft\u0308\x1e\u1e98\x1fw\u030a\x1e\u1e99\x1fy\u030a\x1e"
    "\u1e9a\x1fa\u02be\x1e\u1e9b\x1f\u1e61\x1e\u1f50\x1f\u03c5\u0313\x1e\u1f52\x1f\u03c5\u0313\u0300\x1e"
    "\u1f54\x1f\u03c5\u0313\u0301\x1e\u1f56\x1f\u03c5\u0313\u0342\x1e\u1f80\x1f\u1f00\u03b9\x1e"
    "\u1f81\x1f\u1f01\u03b9\x1e\u1f82\x1f\u1f02\u03b9\x1e\u1f83\x1f\u1f03\u03b9\x1e"
    "\u1f84\x1f\u1f04\u03b9\x1e\u1f85\x1f\u1f05\u03b9\x1e\u1f86\x1f\u1f06\u03b9\x1e"
    "\u1f87\x1f\u1f07\u03b9\x1e\u1f90\x1f\u1f20\u03b9\x1e\u1f91\x1f\u1f21\u03b9\x1e"
    "\u1f92\x1f\u1f22\u03b9\x1e\u1f93\x1f\u1f23\u03b9\x1e\u1f94\x1f\u1f24\u03b9\x1e"
    "\u1f95\x1f\u1f25\u03b9\x1e\u1f96\x1f\u1f26\u03b9\x1e\u1f97\x1f\u1f27\u03b9\x1e"
    "\u1fa0\x1f\u1f60\u03b9\x1e\u1fa1\x1f\u1f61\u03b9\x1e\u1fa2\x1f\u1f62\u03b9\x1e"
    "\u1fa3\x1f\u1f63\u03b9\x1e\u1fa4\x1f\u1f64\u03b9\x1e\u1fa5\x1f\u1f65\u03b9\x1e"
    "\u1fa6\x1f\u1f66\u03b9\x1e\u1fa7\x1f\u1f67\u03b9\x1e\u1fb2\x1f\u1f70\u03b9\x1e"
    "\u1fb3\x1f\u03b1\u03b9\x1e\u1fb4\x1f\u03ac\u03b9\x1e\u1fb6\x1f\u03b1\u0342\x1e"
    "\u1fb7\x1f\u03b1\u0342\u03b9\x1e\u1fbe\x1f\u03b9\x1e\u1fc2\x1f\u1f74\u03b9\x1e"
    "\u1fc3\x1f\u03b7\u03b9\x1e\u1fc4\x1f\u03ae\u03b9\x1e\u1fc6\x1f\u03b7\u0342\x1e"
    "\u1fc7\x1f\u03b7\u0342\u03b9\x1e\u1fd2\x1f\u03b9\u0308\u0300\x1e\u1fd3\x1f\u03b9\u0308\u0301\x1e"
    "\u1fd6\x1f\u03b9\u0342\x1e\u1fd7\x1f\u03b9\u0308\u0342\x1e\u1fe2\x1f\u03c5\u0308\u0300\x1e"
    "\u1fe3\x1f\u03c5\u0308\u0301\x1e\u1fe4\x1f\u03c1\u0313\x1e\u1fe6\x1f\u03c5\u0342\x1e"
    "\u1fe7\x1f\u03c5\u0308\u0342\x1e\u1ff2\x1f\u1f7c\u03b9\x1e\u1ff3\x1f\u03c9\u03b9\x1e"
    "\u1ff4\x1f\u03ce\u03b9\x1e\u1ff6\x1f\u03c9\u0342\x1e\u1ff7\x1f\u03c9\u0342\u03b9\x1e\ufb00\x1fff\x1e"
    "\ufb01\x1ffi\x1e\ufb02\x1ffl\x1e\ufb03\x1fffi\x1e\ufb04\x1fffl\x1e\ufb05\x1fst\x1e\ufb06\x1fst\x1e"
    "\ufb13\x1f\u0574\u0576\x1e\ufb14\x1f\u0574\u0565\x1e\ufb15\x1f\u0574\u056b\x1e"
    "\ufb16\x1f\u057e\u0576\x1e\ufb17\x1f\u0574\u056d\x1e"
)


def _scan_casefold() -> tuple[list[str], list[str]]:
    src: list[str] = []
    dst: list[str] = []
    for cp in range(sys.maxunicode + 1):
        if 0xD800 <= cp <= 0xDFFF:
            continue
        low = chr(cp).lower()
        if len(low) == 1 and low.casefold() != low and low not in src:
            src.append(low)
            dst.append(low.casefold())
    return src, dst


@lru_cache(maxsize=1)
def _casefold_table() -> tuple[list[str], list[str]]:
    """Single characters whose Unicode case fold differs from their lower case (``ß`` -> ``ss``, ``ς`` -> ``σ``):
    the precomputed table for this Python's Unicode version, else a scan over every code point."""
    if unicodedata.unidata_version != _CASEFOLD_UNICODE:
        return _scan_casefold()
    pairs = [pair.split("\x1f") for pair in "".join(_CASEFOLD_PAIRS).split("\x1e") if pair]
    return [a for a, _ in pairs], [b for _, b in pairs]


def casefold_expr(expr: pl.Expr) -> pl.Expr:
    """Unicode case folding (``str.casefold``) of a string expression, vectorised: lower case + fold table."""
    src, dst = _casefold_table()
    return expr.str.to_lowercase().str.replace_many(src, dst)


def text_expr(column: str | pl.Expr) -> pl.Expr:
    """NFKC, whitespace runs collapsed to one space, trimmed; empty -> null (display form of names/addresses)."""
    col = pl.col(column) if isinstance(column, str) else column
    s = col.cast(pl.String).str.normalize("NFKC").str.replace_all(r"\s+", " ").str.strip_chars()
    return pl.when(s.str.len_bytes() > 0).then(s).otherwise(None)


def name_key_expr(column: str | pl.Expr = "name") -> pl.Expr:
    """Matching/blocking key of a name: NFKC, case-folded, punctuation/symbols removed, tokens sorted and joined
    by one space. Null for null or punctuation-only names.

    Latin names written family-name first give the same key (``"Wang Lei"`` == ``"lei wang"``); Chinese names are
    one token (``"王 磊"`` -> ``"王磊"``: spaces between CJK characters are dropped).
    """
    col = pl.col(column) if isinstance(column, str) else column
    s = casefold_expr(col.cast(pl.String).str.normalize("NFKC"))
    s = s.str.replace_all(r"[\p{P}\p{S}]+", " ")
    # spaces between two CJK ideographs carry no meaning ("王 磊")
    s = s.str.replace_all(r"(\p{Han})\s+(\p{Han})", "$1$2").str.replace_all(r"(\p{Han})\s+(\p{Han})", "$1$2")
    tokens = s.str.strip_chars().str.split(" ").list.eval(pl.element().filter(pl.element().str.len_bytes() > 0))
    key = tokens.list.sort().list.join(" ")
    return pl.when(key.str.len_bytes() > 0).then(key).otherwise(None)


# ------------------------------------------------------------------------------------------------ e-mails


def email_expr(column: str | pl.Expr = "email") -> pl.Expr:
    """E-mail address: NFKC (full-width ``＠`` -> ``@``), all surrounding whitespace removed, lower-cased;
    empty -> null. The whole address is lower-cased (mail providers treat local parts case-insensitively)."""
    col = pl.col(column) if isinstance(column, str) else column
    s = col.cast(pl.String).str.normalize("NFKC").str.strip_chars().str.to_lowercase()
    return pl.when(s.str.len_bytes() > 0).then(s).otherwise(None)


def email_valid_expr(column: str | pl.Expr = "email") -> pl.Expr:
    """Whether a *normalised* address is well-formed: ASCII local part of RFC 5322 ``atext`` characters with
    single inner dots (≤ 64 chars), ``@``, a domain of dot-separated labels (letters, digits, inner hyphens,
    ≤ 63 chars each) ending in an alphabetic top-level label of ≥ 2 letters; ≤ 254 chars in total. Quoted local
    parts, IP-literal domains and non-ASCII (IDN) addresses count as not well-formed. Null stays null."""
    col = pl.col(column) if isinstance(column, str) else column
    local_len = col.str.split("@").list.first().str.len_chars()
    return (
        pl.when(col.is_null())
        .then(None)
        .otherwise(col.str.contains(_EMAIL_RE) & (col.str.len_chars() <= 254) & (local_len <= 64))
    )


# ------------------------------------------------------------------------------------------------ phones


@lru_cache(maxsize=1)
def _country_code_regex() -> str:
    codes = sorted((str(cc) for cc in phonenumbers.COUNTRY_CODE_TO_REGION_CODE), key=lambda c: (-len(c), c))
    return r"^(" + "|".join(codes) + r")"


@cache
def _region_metadata(region: str) -> PhoneMetadata:
    meta = PhoneMetadata.metadata_for_region(region.upper())
    if meta is None:
        raise ConfigError(
            f"unknown phone region {region!r}: use a two-letter ISO 3166 region code such as 'CN' "
            "(setting CX_PHONE_REGION or `phone_region` in the source's mapping file)"
        )
    return meta


@cache
def _fast_metadata(country_code: int) -> PhoneMetadata | None:
    """Metadata of a country code served by exactly one region (else None: the fast path does not decide)."""
    regions = phonenumbers.COUNTRY_CODE_TO_REGION_CODE.get(country_code, ())
    if len(regions) != 1 or regions[0] == "001":
        return None
    return PhoneMetadata.metadata_for_region(regions[0])


def _desc_expr(nsn: pl.Expr, desc: object | None) -> pl.Expr | None:
    """Polars test of one ``PhoneNumberDesc`` (``phonenumbers``' ``_is_number_matching_desc``), or None if empty."""
    pattern = getattr(desc, "national_number_pattern", None)
    if not pattern:
        return None
    lengths = list(getattr(desc, "possible_length", None) or ())
    match = nsn.str.contains(f"^(?:{pattern})$")
    if lengths:
        match = nsn.str.len_bytes().is_in([n for n in lengths if n > 0]) & match
    return match


#: Type descriptions tried in this order (any match = valid); the common ones first, so few rows reach the rest.
_VALIDATION_ORDER: Final = ("mobile", "fixed_line", *(t for t in _TYPE_DESCS if t not in ("mobile", "fixed_line")))


@cache
def _compiles(country_code: int) -> bool:
    """Whether the metadata patterns of this country code compile as polars (Rust) regexes."""
    meta = _fast_metadata(country_code)
    if meta is None:
        return False
    probe = pl.DataFrame({"n": ["0"]})
    try:
        for name in ("general_desc", *_TYPE_DESCS):
            expr = _desc_expr(pl.col("n"), getattr(meta, name, None))
            if expr is not None:
                probe.select(expr)
    except pl.exceptions.PolarsError:
        return False
    return True


def _valid_nsns(nsn: pl.DataFrame, meta: PhoneMetadata) -> pl.DataFrame:
    """The rows of ``nsn`` (column ``nsn``) that ``phonenumbers.is_valid_number`` accepts for this metadata:
    the general description and at least one number-type description match (length and pattern)."""
    general = _desc_expr(pl.col("nsn"), meta.general_desc)
    if general is None:
        return nsn.clear()
    rest = nsn.filter(general)
    accepted = []
    for name in _VALIDATION_ORDER:
        expr = _desc_expr(pl.col("nsn"), getattr(meta, name, None))
        if expr is None or rest.is_empty():
            continue
        rest = rest.with_columns(expr.alias("__ok"))
        accepted.append(rest.filter("__ok").drop("__ok"))
        rest = rest.filter(~pl.col("__ok")).drop("__ok")
    return pl.concat(accepted) if accepted else nsn.clear()


def _parse_one(text: str, region: str) -> tuple[str | None, bool]:
    try:
        number = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException:
        return None, False
    if phonenumbers.is_valid_number(number):
        return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164), True
    return None, False


def _starts(expr: pl.Expr, pattern: str | None) -> pl.Expr:
    if not pattern:
        return pl.lit(False)
    return expr.str.contains(f"^(?:{pattern})")


def _compact(raw: pl.DataFrame) -> pl.DataFrame:
    """Column ``c``: NFKC (only where the text is not ASCII), trimmed, separators removed."""
    ascii_only = pl.col("raw").str.contains(r"^[\x00-\x7f]*$")
    plain = raw.filter(ascii_only).with_columns(pl.col("raw").alias("c"))
    wide = raw.filter(~ascii_only).with_columns(pl.col("raw").str.normalize("NFKC").alias("c"))
    return pl.concat([plain, wide]).with_columns(pl.col("c").str.strip_chars().str.replace_all(_PHONE_PUNCT, ""))


def _fast_e164(compact: pl.DataFrame, meta: PhoneMetadata) -> pl.DataFrame:
    """``c -> e164`` for the distinct compact texts the fast path can decide exactly and finds valid."""
    c = pl.col("c")
    idd = meta.international_prefix
    plus = c.str.starts_with("+")
    by_idd = ~plus & _starts(c, idd) if idd else pl.lit(False)
    df = compact.filter(c.str.contains(r"^\+?[0-9]{2,}$")).with_columns(plus.alias("plus"), by_idd.alias("by_idd"))
    national = df.filter(~pl.col("plus") & ~pl.col("by_idd")).select(
        "c", pl.lit(meta.country_code, dtype=pl.Int32).alias("cc"), c.alias("nsn"), pl.lit(True).alias("national")
    )
    intl = (
        df.filter(pl.col("plus") | pl.col("by_idd"))
        .with_columns(
            pl.when(pl.col("plus")).then(c.str.slice(1)).otherwise(c.str.replace(f"^(?:{idd})", "")).alias("d")
        )
        .with_columns(pl.col("d").str.extract(_country_code_regex(), 1).cast(pl.Int32).alias("cc"))
        .filter(pl.col("cc").is_not_null())
        .select(
            "c",
            "cc",
            pl.col("d").str.slice(pl.col("cc").cast(pl.String).str.len_bytes()).alias("nsn"),
            pl.lit(False).alias("national"),
        )
    )
    # a trunk/carrier prefix (national_prefix_for_parsing, e.g. a leading 0) goes to phonenumbers
    cand = pl.concat([national, intl]).filter(~pl.col("nsn").str.starts_with("0"))
    parts = []
    for cc in cand.get_column("cc").unique().to_list():
        cc_meta = _fast_metadata(cc)
        if cc_meta is None or not _compiles(cc):
            continue
        sub = cand.filter(pl.col("cc") == cc)
        npfp = cc_meta.national_prefix_for_parsing
        if npfp:
            sub = sub.filter(~_starts(pl.col("nsn"), npfp))
        ok = _valid_nsns(sub, cc_meta)
        parts.append(ok.select("c", pl.concat_str([pl.lit(f"+{cc}"), pl.col("nsn")]).alias("e164")))
    return pl.concat(parts) if parts else pl.DataFrame(schema={"c": pl.String, "e164": pl.String})


def phone_lookup(values: pl.Series, region: str) -> pl.DataFrame:
    """E.164 and validity for each *distinct* raw phone text of ``values`` (nulls dropped).

    Returns columns ``raw`` (the input text), ``e164`` (null when not valid) and ``valid``. ``region`` is the
    default region (ISO 3166 code, e.g. ``"CN"``) for numbers written without a country code. A number is valid
    when ``phonenumbers.is_valid_number`` holds for ``phonenumbers.parse(raw, region)``; the vectorised fast
    path gives exactly that result for the shapes it accepts and hands every other value to ``phonenumbers``.
    """
    meta = _region_metadata(region)
    raw = pl.DataFrame({"raw": values.cast(pl.String).drop_nulls().unique()})
    compact = _compact(raw)
    fast = _fast_e164(compact.select(pl.col("c").unique()), meta)
    table = compact.join(fast, on="c", how="left").select("raw", "e164")
    rest = table.filter(pl.col("e164").is_null()).get_column("raw")
    parsed = [_parse_one(text, region) for text in rest.to_list()]  # unusual or invalid values only
    slow = pl.DataFrame({"raw": rest, "e164": [p[0] for p in parsed]}, schema={"raw": pl.String, "e164": pl.String})
    return pl.concat([table.filter(pl.col("e164").is_not_null()), slow]).with_columns(
        pl.col("e164").is_not_null().alias("valid")
    )


def _phone_struct(values: pl.Series, region: str) -> pl.Series:
    frame = values.cast(pl.String).alias("raw").to_frame()
    table = phone_lookup(values, region)
    out = frame.join(table, on="raw", how="left", maintain_order="left")
    return out.select(pl.struct("e164", "valid")).to_series().alias(values.name)


def phone_expr(column: str | pl.Expr = "phone", region: str = "CN") -> pl.Expr:
    """Struct ``{e164, valid}`` of each phone text: E.164 when valid (null otherwise) and the validity flag.

    ``138 0013 8000``, ``+86-138-0013-8000``, ``008613800138000``, ``13800138000``, ``+86 138 0013 8000`` and
    full-width digits all give ``+8613800138000`` for region ``CN``. Parsed per unique value (see module doc).
    """
    _region_metadata(region)  # fail early on a bad region
    col = trimmed_expr(column)
    return col.map_batches(lambda s: _phone_struct(s, region), return_dtype=PHONE_STRUCT, is_elementwise=True)


def normalise_phones(
    lf: pl.LazyFrame,
    *,
    region: str = "CN",
    column: str = "phone",
    valid_column: str | None = None,
    region_column: str | None = None,
) -> pl.LazyFrame:
    """Step: ``column`` -> E.164 when valid (else the trimmed input text), plus ``<column>_valid``.

    ``region`` is the default region for numbers without a country code; with ``region_column`` each row's
    region comes from that column (null -> ``region``), e.g. after concatenating sources with different
    ``phone_region`` settings. The validity flag is null when the phone is null.
    """
    valid_column = valid_column or f"{column}_valid"
    if region_column is None:
        struct = phone_expr(column, region).alias("__phone")
        lf = lf.with_columns(struct)
    else:
        lf = lf.with_columns(
            pl.struct(trimmed_expr(column).alias("v"), pl.col(region_column).fill_null(region).alias("r"))
            .map_batches(_phone_struct_regions, return_dtype=PHONE_STRUCT, is_elementwise=True)
            .alias("__phone")
        )
    trimmed = trimmed_expr(column)
    return lf.with_columns(
        pl.coalesce(pl.col("__phone").struct.field("e164"), trimmed).alias(column),
        pl.when(trimmed.is_null()).then(None).otherwise(pl.col("__phone").struct.field("valid")).alias(valid_column),
    ).drop("__phone")


def _phone_struct_regions(pairs: pl.Series) -> pl.Series:
    frame = pairs.struct.unnest()
    out = pl.Series(pairs.name, [None] * len(frame), dtype=PHONE_STRUCT)
    pieces = []
    for region in frame.get_column("r").drop_nulls().unique().to_list():
        table = phone_lookup(frame.filter(pl.col("r") == region).get_column("v"), region)
        pieces.append(table.with_columns(pl.lit(region).alias("r")))
    if not pieces:
        return out
    table = pl.concat(pieces).rename({"raw": "v"})
    joined = frame.join(table, on=["v", "r"], how="left", maintain_order="left")
    return joined.select(pl.struct("e164", "valid")).to_series().alias(pairs.name)


# ------------------------------------------------------------------------------------------------ all fields


def normalise_identifiers(
    lf: pl.LazyFrame,
    *,
    region: str = "CN",
    region_column: str | None = None,
) -> pl.LazyFrame:
    """Step: normalise every identifier and fuzzy attribute present (see the module doc for each column).

    Columns that are absent are skipped, so the step works on partial frames too; adds ``phone_valid``,
    ``email_valid`` and ``name_key`` when ``phone``, ``email`` and ``name`` are present.
    """
    names = set(lf.collect_schema().names())
    if "phone" in names:
        lf = normalise_phones(lf, region=region, region_column=region_column)
    exprs: list[pl.Expr] = []
    if "email" in names:
        exprs.append(email_expr("email").alias("email"))
    if "name" in names:
        exprs.append(text_expr("name").alias("name"))
        exprs.append(name_key_expr("name").alias("name_key"))
    if "address" in names:
        exprs.append(text_expr("address").alias("address"))
    if "postcode" in names:
        exprs.append(
            pl.col("postcode").cast(pl.String).str.normalize("NFKC").str.replace_all(r"\s+", "").alias("postcode")
        )
    exprs += [trimmed_expr(c).alias(c) for c in PLAIN_IDENTIFIERS if c in names]
    lf = lf.with_columns(exprs)
    if "postcode" in names:
        lf = lf.with_columns(trimmed_expr("postcode").alias("postcode"))
    if "email" in names:
        lf = lf.with_columns(email_valid_expr("email").alias("email_valid"))
    return lf


def normalise_value(id_type: str, value: str, region: str = "CN") -> str | None:
    """One identifier typed by a person (a lookup box, a config blocklist) normalised like the data is.

    Phones: E.164 when valid, else the trimmed text. E-mails: trimmed + lower-cased. Names: the name key.
    Other ids: trimmed. Returns None for empty input.
    """
    frame = pl.LazyFrame({id_type: [value]}, schema={id_type: pl.String})
    out = normalise_identifiers(frame, region=region).collect()
    column = "name_key" if id_type == "name" else id_type
    return out.item(0, column)


def normalise_values(id_type: str, values: Sequence[str], region: str = "CN") -> list[str]:
    """:func:`normalise_value` for many values at once (nulls and empties dropped, order kept)."""
    frame = pl.LazyFrame({id_type: list(values)}, schema={id_type: pl.String})
    out = normalise_identifiers(frame, region=region).collect()
    column = "name_key" if id_type == "name" else id_type
    return [v for v in out.get_column(column).to_list() if v is not None]


__all__ = [
    "PLAIN_IDENTIFIERS",
    "casefold_expr",
    "email_expr",
    "email_valid_expr",
    "name_key_expr",
    "normalise_identifiers",
    "normalise_phones",
    "normalise_value",
    "normalise_values",
    "phone_expr",
    "phone_lookup",
    "text_expr",
    "trimmed_expr",
]
