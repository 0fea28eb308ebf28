"""The user dictionary of the text analysis: product, brand and domain terms kept whole (admins edit it).

Terms are stored normalised (NFKC, lower case, single spaces) so the tokenizer (etl.text_tokenise) finds them
in any spelling width or case. Every change is checked against ``voc.edit_dictionary`` and audited; it takes
effect on the next analysis run (re-analyse from the page or ``python -m etl.text --all``).
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from typing import Final

from sqlalchemy import select
from sqlalchemy.orm import Session

from cx import audit
from cx.access import Principal, require
from cx.errors import ConflictError, NotFoundError, ValidationError
from cx.models import UserDictionaryTerm

CATEGORIES: Final = ("product", "brand", "term")
MAX_CHARS: Final = 100
_TOPIC: Final = re.compile(r"^[a-z][a-z0-9_]{0,63}$")


def normalise(value: str) -> str:
    """NFKC, lower case, typographic apostrophes straightened, single spaces (the tokenizer's view of a term)."""
    text = unicodedata.normalize("NFKC", value or "").lower().replace("\u2019", "'")
    return re.sub(r"\s+", " ", text).strip()


@dataclass(frozen=True)
class DictionaryEntry:
    id: int
    term: str
    canonical: str | None
    topic: str | None
    category: str
    note: str | None


def _entry(row: UserDictionaryTerm) -> DictionaryEntry:
    return DictionaryEntry(row.id, row.term, row.canonical, row.topic, row.category, row.note)


def list_terms(session: Session, principal: Principal) -> list[DictionaryEntry]:
    """Every entry, alphabetically (admins only: the dictionary is edited where it is shown)."""
    require(principal, "voc.edit_dictionary")
    return [_entry(row) for row in session.scalars(select(UserDictionaryTerm).order_by(UserDictionaryTerm.term))]


def validate(term: str, canonical: str | None, topic: str | None, category: str, note: str | None) -> dict[str, object]:
    """The cleaned fields, or ValidationError listing every problem."""
    problems: list[str] = []
    clean_term = normalise(term)
    clean_canonical = normalise(canonical) if canonical and canonical.strip() else None
    clean_topic = (topic or "").strip().lower() or None
    for label, value in (("term", clean_term), ("canonical term", clean_canonical)):
        if value is None:
            continue
        if not value:
            problems.append(f"the {label} is empty")
        elif len(value) > MAX_CHARS:
            problems.append(f"the {label} is longer than {MAX_CHARS} characters")
        elif not re.search(r"\w", value):
            problems.append(f"the {label} {value!r} has no letters or digits")
        elif any(c in value for c in ",|\x1f"):
            problems.append(f"the {label} {value!r} contains ',' or '|'; enter one term per row")
    if clean_canonical == clean_term:
        clean_canonical = None
    if clean_topic is not None and not _TOPIC.match(clean_topic):
        problems.append(f"the topic {topic!r} must be a key of lower-case letters, digits and '_' (e.g. delivery)")
    if category not in CATEGORIES:
        problems.append(f"the category must be one of {', '.join(CATEGORIES)}, not {category!r}")
    if note and len(note) > 200:
        problems.append("the note is longer than 200 characters")
    if problems:
        raise ValidationError("The dictionary entry is not valid", problems)
    return {
        "term": clean_term,
        "canonical": clean_canonical,
        "topic": clean_topic,
        "category": category,
        "note": (note or "").strip() or None,
    }


def save_term(
    session: Session,
    principal: Principal,
    term: str,
    *,
    canonical: str | None = None,
    topic: str | None = None,
    category: str = "term",
    note: str | None = None,
    entry_id: int | None = None,
) -> DictionaryEntry:
    """Add an entry (``entry_id`` None) or change one; a term may exist once."""
    require(principal, "voc.edit_dictionary")
    fields = validate(term, canonical, topic, category, note)
    clash = session.scalar(select(UserDictionaryTerm).where(UserDictionaryTerm.term == fields["term"]))
    if clash is not None and clash.id != entry_id:
        raise ConflictError(f"The term {fields['term']!r} is in the dictionary already; edit that entry instead")
    if entry_id is None:
        row = UserDictionaryTerm(**fields, created_by=principal.user_id, updated_by=principal.user_id)
        session.add(row)
        action = "voc.dictionary_add"
    else:
        row = session.get(UserDictionaryTerm, entry_id)
        if row is None:
            raise NotFoundError(f"Dictionary entry {entry_id} does not exist any more; reload the page")
        for key, value in fields.items():
            setattr(row, key, value)
        row.updated_by = principal.user_id
        action = "voc.dictionary_change"
    session.flush()
    audit.record(session, principal, action, object_type="user_dictionary", object_id=str(row.id))
    return _entry(row)


def delete_term(session: Session, principal: Principal, entry_id: int) -> None:
    require(principal, "voc.edit_dictionary")
    row = session.get(UserDictionaryTerm, entry_id)
    if row is None:
        raise NotFoundError(f"Dictionary entry {entry_id} does not exist any more; reload the page")
    session.delete(row)
    session.flush()
    audit.record(session, principal, "voc.dictionary_delete", object_type="user_dictionary", object_id=str(entry_id))
