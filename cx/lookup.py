"""Customer lookup: one query (phone, e-mail, id or name) -> the matching profiles, masked for the searcher's role.

Identifier queries are normalised exactly as the ETL normalises identifiers (E.164 phones, trimmed lower-cased
e-mails, ids as given) and answered from the ``identifiers(id_type, value)`` index. Names are matched fuzzily
against an in-memory index of the distinct ``profiles.name_key`` values, built once per process and store and
rebuilt when an ETL run finished (or after ``NAME_INDEX_TTL_S``); the interactions table is never scanned.
"""

from __future__ import annotations

import re
import threading
import time
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Final, Literal

from rapidfuzz import fuzz, process
from rapidfuzz.distance import Levenshtein
from sqlalchemy import func, select
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from cx import audit
from cx.access import Principal, mask_phone, mask_value, require
from cx.errors import ValidationError
from cx.models import AuditEntry, Identifier, LoadBatch, Profile
from cx.suppression import normalise_email, parse_e164

QueryKind = Literal["empty", "phone", "email", "id", "name"]

#: Identifier types answered by an "id" query (everything that is neither a phone nor an e-mail).
ID_TYPES: Final = ("wechat_id", "member_id", "crm_id", "device_id", "social_handle")
#: Rebuild the name index at least this often even when no ETL run finished (seconds); a finished ETL run or
#: newer profiles rebuild it at once (see ``_freshness_token``). A rebuild takes ~0.5-1 s at 200,000 profiles.
NAME_INDEX_TTL_S: Final = 3600.0
#: Shortest query that is searched at all (a two-character Chinese name is a real name).
MIN_QUERY_CHARS: Final = 2
#: Shortest id (or partial number) that is looked up; shorter ones are the first keystrokes of something longer.
MIN_ID_CHARS: Final = 4
#: Fuzzy name matches below these scores (0-100) are not offered.
LATIN_NAME_CUTOFF: Final = 70.0
CJK_NAME_CUTOFF: Final = 50.0
#: With an exact name match, other names are offered only from this score on (a typo in a long Latin name).
EXACT_NAME_COMPANIONS: Final = 90.0
#: How many candidate profiles are fetched from the store to rank a name search.
_NAME_FETCH: Final = 60

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_PHONE_CHARS = re.compile(r"[\s\-().·/]")
_PHONE_SHAPE = re.compile(r"^\+?\d{5,17}$")
_HAS_DIGIT_OR_MARK = re.compile(r"[\d_\-]")


# --------------------------------------------------------------------------------------------- normalisation


def normalise_phone(value: str | None, region: str = "CN") -> str | None:
    """A phone number in any common format as E.164 (``138 0013 8000`` -> ``+8613800138000``); None if invalid.

    Same rule as the ETL (etl.normalise): ``phonenumbers.parse(text, region)`` must give a valid number, so
    full-width digits, separators, ``+86`` and the region's international prefix (``0086`` in CN) all work.
    """
    if value is None:
        return None
    return parse_e164(str(value).strip(), region)


def _is_han(ch: str) -> bool:
    code = ord(ch)
    return (
        0x2E80 <= code <= 0x2FDF
        or code in (0x3005, 0x3007)
        or 0x3021 <= code <= 0x3029
        or 0x3038 <= code <= 0x303B
        or 0x3400 <= code <= 0x4DBF
        or 0x4E00 <= code <= 0x9FFF
        or 0xF900 <= code <= 0xFAFF
        or 0x20000 <= code <= 0x3134F
    )


def name_key(value: str | None) -> str | None:
    """The search key of a name, as etl.normalise.name_key_expr builds ``profiles.name_key``: NFKC, case-folded,
    punctuation and symbols removed, spaces between Chinese characters dropped, tokens sorted
    (``Chen, EMILY`` -> ``chen emily``; ``王 磊`` -> ``王磊``)."""
    if value is None:
        return None
    text = unicodedata.normalize("NFKC", str(value)).casefold()
    text = "".join(" " if unicodedata.category(ch)[0] in "PS" else ch for ch in text)
    tokens = text.split()
    merged: list[str] = []
    for token in tokens:
        if merged and _is_han(merged[-1][-1]) and _is_han(token[0]):
            merged[-1] += token
        else:
            merged.append(token)
    return " ".join(sorted(merged)) or None


def normalise_id(value: str | None) -> str | None:
    """WeChat, member, CRM, device ids and social handles: kept as given, surrounding whitespace removed."""
    if value is None:
        return None
    text = str(value).strip()
    return text or None


def has_cjk(text: str) -> bool:
    """True when ``text`` contains a Chinese character (Chinese names are matched character by character)."""
    return any(_is_han(ch) for ch in text)


# --------------------------------------------------------------------------------------------- classification


@dataclass(frozen=True)
class ParsedQuery:
    """What the searcher typed, what kind of identifier it is, and the normalised value looked up."""

    kind: QueryKind
    value: str | None
    #: A digits-only phone may still be a member or CRM number; a single word may be a WeChat id.
    also_id: str | None = None


def classify(query: str | None, region: str = "CN") -> ParsedQuery:
    """Decide whether ``query`` is a phone, an e-mail, an id or a name, and normalise it accordingly."""
    text = unicodedata.normalize("NFKC", query or "").strip()
    if len(text) < MIN_QUERY_CHARS:
        return ParsedQuery("empty", None)
    if "@" in text and not text.startswith("@") and _EMAIL.match(text):
        return ParsedQuery("email", normalise_email(text))
    compact = _PHONE_CHARS.sub("", text)
    if _PHONE_SHAPE.match(compact):
        phone = normalise_phone(text, region)
        if phone:
            return ParsedQuery("phone", phone, also_id=compact if compact.isdigit() else None)
        # not a valid number: maybe a numeric member/CRM id, or a phone the ETL kept as written
        return ParsedQuery("id", compact, also_id=text if text != compact else None)
    if " " not in text and not has_cjk(text) and (_HAS_DIGIT_OR_MARK.search(text) or text.startswith("@")):
        if len(text) < MIN_ID_CHARS:  # the first keystrokes of a number or id: nothing to look up yet
            return ParsedQuery("empty", None)
        return ParsedQuery("id", normalise_id(text))
    single_token = " " not in text and not has_cjk(text)
    return ParsedQuery("name", name_key(text), also_id=normalise_id(text) if single_token else None)


# --------------------------------------------------------------------------------------------- the name index


@dataclass
class NameIndex:
    """The distinct name keys of all profiles, each with its profile ids (the fuzzy search runs over the keys)."""

    keys: list[str]
    search_keys: list[str]
    profiles: list[tuple[str, ...]]
    token: tuple[object, ...]
    built_at: float

    @property
    def profile_count(self) -> int:
        return sum(len(ids) for ids in self.profiles)


_indexes: dict[str, NameIndex] = {}
_index_lock = threading.Lock()


def _store_key(url: object) -> str:
    return make_url(str(url)).render_as_string(hide_password=True)


def _freshness_token(session: Session) -> tuple[object, ...]:
    """Changes when an ETL run finished, profiles were (re)written or a customer was erased (their name must
    leave the index at once); three small indexed max() queries."""
    last_batch = session.scalar(select(func.max(LoadBatch.id)).where(LoadBatch.status == "succeeded"))
    last_seen = session.scalar(select(func.max(Profile.last_seen)))
    last_erasure = session.scalar(select(func.max(AuditEntry.at)).where(AuditEntry.action == "privacy.erase"))
    return (last_batch, last_seen, last_erasure)


def _search_key(key: str) -> str:
    return key.replace(" ", "") if has_cjk(key) else key


def build_name_index(session: Session, token: tuple[object, ...] = ()) -> NameIndex:
    """Read (profile_id, name_key) of every named profile and group the ids by key."""
    grouped: dict[str, list[str]] = {}
    rows = session.execute(select(Profile.name_key, Profile.profile_id).where(Profile.name_key.is_not(None)))
    for key, profile_id in rows:
        grouped.setdefault(key, []).append(profile_id)
    keys = list(grouped)
    return NameIndex(
        keys=keys,
        search_keys=[_search_key(k) for k in keys],
        profiles=[tuple(grouped[k]) for k in keys],
        token=token,
        built_at=time.monotonic(),
    )


def name_index(session: Session, *, ttl_s: float = NAME_INDEX_TTL_S) -> NameIndex:
    """The cached name index of this session's store, rebuilt when stale."""
    key = _store_key(session.get_bind().url)
    token = _freshness_token(session)
    with _index_lock:
        cached = _indexes.get(key)
        if cached is not None and cached.token == token and time.monotonic() - cached.built_at < ttl_s:
            return cached
        index = build_name_index(session, token)
        _indexes[key] = index
        return index


def invalidate_name_index(url: str | None = None) -> None:
    """Forget the cached name index of one store (by URL) or of all; the next name search rebuilds it.

    Not needed after ETL runs or erasures (every process notices them through the freshness token); for tests
    and tools that write ``profiles`` directly.
    """
    with _index_lock:
        if url is None:
            _indexes.clear()
        else:
            _indexes.pop(_store_key(url), None)


@dataclass(frozen=True)
class NameMatch:
    key: str
    score: float
    profile_ids: tuple[str, ...]


def match_names(index: NameIndex, query_key: str, *, limit_keys: int = 200) -> list[NameMatch]:
    """Name keys close to ``query_key``, best first.

    Chinese names: Levenshtein similarity over characters (one wrong character in a three-character name
    scores 67); Latin names: token-sorted similarity (``chen emily`` finds ``emily chen``). Ties prefer keys
    of the query's length (a wrong character is likelier than a missing one).
    """
    cjk = has_cjk(query_key)
    query = _search_key(query_key)
    if cjk:
        hits = process.extract(
            query,
            index.search_keys,
            scorer=Levenshtein.normalized_similarity,
            processor=None,
            score_cutoff=CJK_NAME_CUTOFF / 100,
            limit=None,
        )
        scored = [(index_pos, score * 100) for _key, score, index_pos in hits]
    else:
        hits = process.extract(
            query,
            index.search_keys,
            scorer=fuzz.token_sort_ratio,
            processor=None,
            score_cutoff=LATIN_NAME_CUTOFF,
            limit=None,
        )
        scored = [(index_pos, float(score)) for _key, score, index_pos in hits]
    scored.sort(key=lambda item: (-item[1], abs(len(index.search_keys[item[0]]) - len(query)), index.keys[item[0]]))
    return [NameMatch(index.keys[pos], round(score, 1), index.profiles[pos]) for pos, score in scored[:limit_keys]]


# --------------------------------------------------------------------------------------------- search


@dataclass(frozen=True)
class Candidate:
    """One line of the disambiguation list: enough to tell customers apart, personal data masked."""

    profile_id: str
    name: str | None
    phone: str | None  # always masked here: the list is for telling people apart, not for reading numbers
    city: str | None
    member_tier: str | None
    last_contact: datetime | None
    matched_by: str  # phone | email | wechat_id | member_id | crm_id | device_id | social_handle | name
    score: float  # 100 for identifier and exact-name matches


@dataclass(frozen=True)
class SearchResult:
    """The outcome of one search: the kind of query, the best candidates and how many profiles matched."""

    kind: QueryKind
    candidates: list[Candidate]
    total: int

    @property
    def unique(self) -> Candidate | None:
        """The one profile found, when exactly one matched (the page opens it at once)."""
        return self.candidates[0] if self.total == 1 and self.candidates else None


def _profiles_by_identifier(session: Session, id_types: Sequence[str], values: Sequence[str]) -> dict[str, str]:
    """profile_id -> id_type that matched, for ``value IN values AND id_type IN id_types`` (indexed)."""
    if not values:
        return {}
    rows = session.execute(
        select(Identifier.profile_id, Identifier.id_type)
        .where(Identifier.id_type.in_(list(id_types)), Identifier.value.in_(list(values)))
        .limit(500)
    )
    found: dict[str, str] = {}
    for profile_id, id_type in rows:
        found.setdefault(profile_id, id_type)
    return found


def _candidates(
    session: Session, principal: Principal, matched: dict[str, tuple[str, float]], limit: int
) -> list[Candidate]:
    """Fetch the matched profiles (by primary key) and order them by score, then most recent contact."""
    if not matched:
        return []
    rows = session.execute(
        select(
            Profile.profile_id,
            Profile.display_name,
            Profile.primary_phone,
            Profile.city,
            Profile.member_tier,
            Profile.last_seen,
        ).where(Profile.profile_id.in_(list(matched)))
    ).all()
    role = principal.role
    candidates = [
        Candidate(
            profile_id=row.profile_id,
            name=mask_value("name", row.display_name, role),  # type: ignore[arg-type]
            phone=mask_phone(row.primary_phone) if row.primary_phone else None,
            city=row.city,
            member_tier=row.member_tier,
            last_contact=row.last_seen,
            matched_by=matched[row.profile_id][0],
            score=matched[row.profile_id][1],
        )
        for row in rows
    ]
    candidates.sort(key=lambda c: (-c.score, -(c.last_contact.timestamp() if c.last_contact else 0.0), c.profile_id))
    return candidates[:limit]


def _search_names(session: Session, principal: Principal, key: str, limit: int) -> SearchResult:
    """Fuzzy name search. When the name matches someone exactly, only near-identical names are offered besides
    (one exact match then opens at once); otherwise every name above the cutoff, closest first."""
    matches = match_names(name_index(session), key)
    if matches and matches[0].score >= 100:
        matches = [m for m in matches if m.score >= EXACT_NAME_COMPANIONS]
    matched: dict[str, tuple[str, float]] = {}
    total = 0
    for match in matches:
        total += len(match.profile_ids)
        for profile_id in match.profile_ids:
            if len(matched) < _NAME_FETCH:
                matched.setdefault(profile_id, ("name", match.score))
    return SearchResult("name", _candidates(session, principal, matched, limit), total)


def find_profiles(session: Session, principal: Principal, parsed: ParsedQuery, *, limit: int = 10) -> SearchResult:
    """Look a parsed query up (no audit; ``search_customers`` is the audited entry point)."""
    if parsed.kind == "empty" or not parsed.value:
        return SearchResult(parsed.kind, [], 0)
    if parsed.kind == "name":
        found = _profiles_by_identifier(session, ID_TYPES, [parsed.also_id]) if parsed.also_id else {}
        if not found:
            return _search_names(session, principal, parsed.value, limit)
        kind: QueryKind = "id"
    elif parsed.kind in ("phone", "email"):
        found = _profiles_by_identifier(session, (parsed.kind,), [parsed.value])
        if not found and parsed.also_id:
            found = _profiles_by_identifier(session, ID_TYPES, [parsed.also_id])
        kind = parsed.kind
    else:
        values = [parsed.value] + ([parsed.also_id] if parsed.also_id else [])
        found = _profiles_by_identifier(session, (*ID_TYPES, "phone"), values)
        kind = "id"
        if not found:  # an id-looking query may still be a name such as "Chen-Li"
            fallback = _search_names(session, principal, name_key(parsed.value) or parsed.value, limit)
            if fallback.total:
                return fallback
    matched = {profile_id: (id_type, 100.0) for profile_id, id_type in found.items()}
    return SearchResult(kind, _candidates(session, principal, matched, limit), len(found))


def search_customers(
    session: Session, principal: Principal, query: str | None, *, region: str = "CN", limit: int = 10
) -> SearchResult:
    """The search box: classify, normalise, look up, and audit the search (a pseudonym, never the value).

    Raises PermissionDenied for roles without ``profile.search``.
    """
    require(principal, "profile.search")
    parsed = classify(query, region)
    result = find_profiles(session, principal, parsed, limit=limit)
    if parsed.kind != "empty":
        unique = result.unique
        audit.record(
            session,
            principal,
            "profile.search",
            object_type="profile" if unique else None,
            object_id=unique.profile_id if unique else None,
            detail={
                "kind": result.kind,
                "query": audit.pseudonym(session, parsed.value or ""),
                "results": result.total,
            },
        )
    return result


def resolve_profile(session: Session, principal: Principal, query: str | None, *, region: str = "CN") -> str:
    """The one profile ``query`` names: a profile id, or an identifier (or name) that matches exactly one customer.

    Used where a second customer must be picked unambiguously (joining two profiles). Raises ValidationError.
    """
    text = (query or "").strip()
    if text and session.get(Profile, text) is not None:
        return text
    result = search_customers(session, principal, text, region=region, limit=2)
    if result.unique is None:
        raise ValidationError(
            f"That does not name exactly one customer ({result.total} found): "
            "use their phone number, e-mail, an id or the profile id."
        )
    return result.unique.profile_id
