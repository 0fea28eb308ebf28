"""Deterministic, vectorised demo data generator: messy channel exports, their mapping files and ground truth.

Identifiers travel the way the channel systems carry them, so nearly every record of a customer shares an
identifier value with another record of that customer, and the chain reaches the CRM row:

- CRM: one row per customer: crm id, member number (~85 %), mobile, e-mail (~80 %), and the WeChat openid or
  social handle of the customers who linked them. Hotline and survey: the mobile (survey: or the e-mail).
  E-mail: the sender's address; the few senders writing from a work address mostly quote the customer number.
- App: signing up creates a membership; every device of a customer is signed in at least once (member number).
- Web: every browser cookie of a customer is identified at least once: members sign in, the others sign up for
  the newsletter or check out as a guest (e-mail if they have one, the receiver's mobile, name and address).
- Chat: the pre-chat form gets an e-mail or mobile in at least one session of each customer; the widget records
  the app device or browser cookie of (almost) every session.
- WeChat: most members bind their member card to the service account (member number on every message); other
  followers are known to the CRM by openid or type their mobile when the agent asks.
- Social: the CRM knows the handles of most customers who post (account linking in the member centre).

What stays unlinkable by identifiers, on purpose (under 1 % of customers' records; the "data's ceiling" that
bench/identity_quality.py prints is about 0.989 of the true pairs): the few devices and cookies never signed in,
chats and WeChat followers who never gave a contact, social handles the CRM does not know, work e-mails without
a customer number, placeholder phones and e-mails.

Anonymous one-off visitors (ANONYMOUS, KIOSK_WALK_INS; about 4 % of records) never identify themselves and
appear nowhere else: web visitors who only browse, anonymous pre-sales chats, WeChat followers who ask once, app
guests, public posters who are not customers, store-kiosk walk-ins. As a real ground truth would, they are
separate people there, each with its own person id (V...), so they add no true pairs.

The over-merge traps stay: placeholder phones and e-mails, family phones shared by two CRM customers (different
crm ids and e-mails), store-kiosk devices used by 60+ members (and walk-ins), name typos and swapped names.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from pathlib import Path
from typing import Final

import numpy as np
import polars as pl

from etl import demo_texts as tx

DEFAULT_CUSTOMERS: Final = 2000
DEFAULT_SEED: Final = 7
DEFAULT_OUT: Final = Path("data/demo")
#: Fixed default start, so the output never depends on the wall clock.
DEFAULT_START: Final = date(2025, 10, 1)
DEFAULT_DAYS: Final = 400

LOCAL_OFFSET_S: Final = 8 * 3600  # Asia/Shanghai, no daylight saving time
BAD_ROW_RATE: Final = 0.003
PLACEHOLDER_PHONE: Final = "13800000000"
PLACEHOLDER_EMAIL: Final = "test@test.com"
SITE: Final = "https://www.lumio.example"
_ALNUM: Final = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
#: Last days of the span in which shipping deteriorates (complaints up, survey CSAT down).
SHIPPING_TROUBLE_DAYS: Final = 60
#: The app release shipped this many days before the end of the span crashes more.
BAD_RELEASE_DAYS: Final = 45
SPRING_FESTIVALS: Final = (date(2025, 1, 29), date(2026, 2, 17), date(2027, 2, 6), date(2028, 1, 26))

#: Interactions per customer by file (the CRM adds one record per customer; hotline repeats add ~0.1).
VOLUME: Final = {
    "hotline": 0.62,
    "chat": 0.45,
    "email": 0.28,
    "wechat": 0.50,
    "app": 0.90,
    "web": 0.70,
    "survey": 0.30,
    "social": 0.06,
}

#: Anonymous one-off visitors per channel: (share of the channel's rows, mean rows per visitor). They never leave
#: an identifier that any other record carries, so the ground truth gives each its own person id (V...).
ANONYMOUS: Final = {
    "web": (0.12, 1.6),  # browsed without signing in or leaving an e-mail, never came back
    "chat": (0.08, 1.0),  # asked a pre-sales question and left no contact
    "wechat": (0.05, 1.3),  # followed the service account, asked once, never bound a member card
    "app": (0.03, 1.5),  # installed the app and looked around without signing up
    "social": (0.35, 1.0),  # public posts by people who are not (known) customers
}
#: Anonymous walk-ins per kiosk customer: used a store kiosk once without scanning a member code.
KIOSK_WALK_INS: Final = 0.2

#: Valid mainland-China mobile prefixes (checked against `phonenumbers`).
MOBILE_PREFIXES: Final = (
    *range(130, 140),
    150,
    151,
    152,
    153,
    155,
    156,
    157,
    158,
    159,
    *range(180, 190),
    191,
    193,
    195,
    196,
    197,
    198,
    199,
)
HOURS_SERVICE: Final = (
    0.2,
    0.1,
    0.05,
    0.05,
    0.05,
    0.1,
    0.3,
    0.8,
    2,
    4,
    5,
    5,
    4,
    4.5,
    5,
    4.8,
    4.5,
    4,
    3.2,
    3,
    3,
    2.5,
    1.5,
    0.6,
)
HOURS_DIGITAL: Final = (
    1,
    0.6,
    0.3,
    0.2,
    0.2,
    0.3,
    0.6,
    1.2,
    2,
    2.5,
    2.8,
    3,
    3.2,
    2.8,
    2.6,
    2.6,
    2.8,
    3,
    3.3,
    3.8,
    4.5,
    4.8,
    4,
    2.2,
)
WEEKDAY_FACTOR: Final = (1.15, 1.0, 1.0, 1.0, 1.05, 0.85, 0.8)

TP: Final = {key: i for i, key in enumerate(tx.TOUCHPOINTS)}
KIND: Final = {key: i for i, key in enumerate(tx.TEXT_KINDS)}
TEAM: Final = {team[0]: i for i, team in enumerate(tx.TEAMS)}
TIERS: Final = ("普通会员", "银卡会员", "金卡会员", "钻石会员")

HOTLINE_TP: Final = {
    "presale_consult": 0.12,
    "payment": 0.06,
    "shipping": 0.20,
    "installation": 0.07,
    "product_quality": 0.10,
    "repair": 0.12,
    "returns": 0.10,
    "billing": 0.07,
    "membership": 0.06,
    "app_usage": 0.04,
    "service_hotline": 0.06,
}
CHAT_TP: Final = {
    "presale_consult": 0.16,
    "payment": 0.07,
    "shipping": 0.20,
    "installation": 0.04,
    "product_quality": 0.10,
    "repair": 0.10,
    "returns": 0.12,
    "billing": 0.05,
    "membership": 0.05,
    "app_usage": 0.05,
    "checkout": 0.03,
    "service_hotline": 0.03,
}
EMAIL_TP: Final = {
    "presale_consult": 0.08,
    "payment": 0.06,
    "shipping": 0.18,
    "installation": 0.04,
    "product_quality": 0.12,
    "repair": 0.10,
    "returns": 0.14,
    "billing": 0.16,
    "membership": 0.04,
    "app_usage": 0.03,
    "service_hotline": 0.05,
}
WECHAT_TP: Final = {
    "presale_consult": 0.12,
    "shipping": 0.20,
    "installation": 0.05,
    "product_quality": 0.08,
    "repair": 0.10,
    "returns": 0.10,
    "billing": 0.04,
    "membership": 0.14,
    "campaign": 0.12,
    "service_hotline": 0.05,
}
APP_FEEDBACK_TP: Final = {
    "app_usage": 0.45,
    "membership": 0.15,
    "checkout": 0.15,
    "shipping": 0.15,
    "product_quality": 0.10,
}
WEB_FORM_TP: Final = {
    "presale_consult": 0.35,
    "web_browse": 0.20,
    "shipping": 0.15,
    "returns": 0.15,
    "product_quality": 0.15,
}
SURVEY_TP: Final = {
    "shipping": 0.20,
    "installation": 0.07,
    "repair": 0.10,
    "returns": 0.08,
    "service_hotline": 0.20,
    "checkout": 0.10,
    "app_usage": 0.08,
    "product_quality": 0.07,
    "membership": 0.05,
    "billing": 0.05,
}
SOCIAL_TP: Final = {
    "product_quality": 0.25,
    "shipping": 0.20,
    "campaign": 0.15,
    "repair": 0.10,
    "app_usage": 0.10,
    "returns": 0.08,
    "service_hotline": 0.07,
    "membership": 0.05,
}
#: Probability that a service contact is resolved, per touchpoint.
RESOLVE_P: Final = {
    "presale_consult": 0.92,
    "payment": 0.75,
    "shipping": 0.68,
    "installation": 0.70,
    "product_quality": 0.55,
    "repair": 0.58,
    "returns": 0.62,
    "billing": 0.72,
    "membership": 0.85,
    "app_usage": 0.70,
    "service_hotline": 0.80,
    "campaign": 0.85,
    "checkout": 0.80,
    "web_browse": 0.90,
}
#: Talk-time factor per touchpoint.
TALK_FACTOR: Final = {
    "product_quality": 1.3,
    "repair": 1.35,
    "returns": 1.1,
    "billing": 1.2,
    "presale_consult": 0.9,
    "shipping": 0.8,
    "membership": 0.8,
}
#: Survey satisfaction baseline per touchpoint (latent scale, 0 = average).
SURVEY_MU: Final = {
    "shipping": 0.15,
    "installation": 0.35,
    "repair": -0.15,
    "returns": -0.25,
    "service_hotline": 0.2,
    "checkout": 0.55,
    "app_usage": 0.05,
    "product_quality": 0.1,
    "membership": 0.4,
    "billing": -0.05,
}
APP_SCREENS: Final = ("home", "product_detail", "cart", "orders", "member_center", "service", "search", "settings")
WEB_PAGES: Final = (
    "/",
    "/zh/products/x1",
    "/zh/products/aurora",
    "/en/products/nova",
    "/zh/products/orbit",
    "/zh/support",
    "/zh/member",
    "/en/support/warranty",
    "/zh/promotions",
    "/zh/stores",
)

FILES: Final = (
    "crm_customers.csv",
    "hotline_calls.csv",
    "chat_sessions.ndjson",
    "email_tickets.csv",
    "wechat_messages.csv",
    "app_events.parquet",
    "web_events.csv",
    "survey_responses.csv",
    "social_posts.csv",
)


@dataclass(frozen=True)
class DemoManifest:
    """What `generate` wrote: folder, parameters, rows per file and the total number of interactions."""

    out: Path
    seed: int
    customers: int
    start: date
    days: int
    files: dict[str, int] = field(default_factory=dict)
    interactions: int = 0


# ----------------------------------------------------------------------------------------------- helpers


def _cdf(weights: Sequence[float] | np.ndarray) -> np.ndarray:
    c = np.cumsum(np.asarray(weights, dtype=np.float64))
    if c[-1] <= 0:  # nobody eligible (tiny datasets): fall back to uniform
        c = np.arange(1, len(c) + 1, dtype=np.float64)
    return c / c[-1]


def _choice(rng: np.random.Generator, weights: Sequence[float] | np.ndarray, size: int) -> np.ndarray:
    """Indices drawn with the given (unnormalised) weights."""
    idx = np.searchsorted(_cdf(weights), rng.random(size), side="right")
    return np.minimum(idx, len(weights) - 1).astype(np.int64)


def _lookup(values: Sequence[str], idx: np.ndarray) -> pl.Series:
    return pl.Series(values=list(values), dtype=pl.String).gather(np.asarray(idx, dtype=np.int64))


def _cat(*parts: pl.Series | str) -> pl.Series:
    """Row-wise string concatenation of series and scalars (null if any part is null)."""
    return pl.select(pl.concat_str([pl.lit(p) for p in parts])).to_series()


def _when(
    mask: np.ndarray,
    yes: pl.Series | str | int | None,
    no: pl.Series | str | int | None,
    dtype: pl.DataType | type[pl.DataType] = pl.String,
) -> pl.Series:
    def lit(v: pl.Series | str | int | None) -> pl.Expr:
        return pl.lit(v) if isinstance(v, pl.Series) else pl.lit(v, dtype=dtype)

    cond = pl.lit(pl.Series(np.asarray(mask, dtype=bool), dtype=pl.Boolean))
    return pl.select(pl.when(cond).then(lit(yes)).otherwise(lit(no))).to_series()


def _rand_str(rng: np.random.Generator, n: int, length: int, alphabet: str) -> pl.Series:
    chars = np.frombuffer(alphabet.encode("ascii"), dtype=np.uint8)
    codes = np.ascontiguousarray(chars[rng.integers(0, len(chars), size=(n, length))])
    return pl.Series(codes.view(f"S{length}").ravel()).cast(pl.String)


def _digits(rng: np.random.Generator, n: int, length: int) -> pl.Series:
    return _rand_str(rng, n, length, "0123456789")


def _uuid(rng: np.random.Generator, n: int, upper: bool = False) -> pl.Series:
    h = _rand_str(rng, n, 32, "0123456789ABCDEF" if upper else "0123456789abcdef")
    return _cat(
        h.str.slice(0, 8),
        "-",
        h.str.slice(8, 4),
        "-",
        h.str.slice(12, 4),
        "-",
        h.str.slice(16, 4),
        "-",
        h.str.slice(20, 12),
    )


def _seq_ids(prefix: str, n: int, first: int, width: int) -> pl.Series:
    return _cat(prefix, pl.Series(np.arange(first, first + n, dtype=np.int64)).cast(pl.String).str.zfill(width))


def _int_str(values: np.ndarray) -> pl.Series:
    return pl.Series(np.asarray(values, dtype=np.int64)).cast(pl.String)


def _fmt_ts(ts_utc: np.ndarray, fmt: str, offset_s: int = LOCAL_OFFSET_S) -> pl.Series:
    """Format epoch seconds (UTC) as wall-clock text at the given UTC offset."""
    return pl.from_epoch(pl.Series(np.asarray(ts_utc, dtype=np.int64) + offset_s), time_unit="s").dt.strftime(fmt)


def _pick_tp(rng: np.random.Generator, probs: dict[str, float], m: int) -> np.ndarray:
    codes = np.array([TP[k] for k in probs], dtype=np.int64)
    return codes[_choice(rng, list(probs.values()), m)]


def _per_tp(table: dict[str, float], default: float) -> np.ndarray:
    return np.array([table.get(k, default) for k in tx.TOUCHPOINTS])


def _bad_rows(rng: np.random.Generator, m: int, kinds: int) -> np.ndarray:
    """Defect code per row (-1 = clean); about BAD_ROW_RATE of rows, every defect kind at least once."""
    code = np.full(m, -1, dtype=np.int64)
    n_bad = min(m // 4, max(kinds, round(BAD_ROW_RATE * m)))
    if n_bad > 0:
        code[rng.choice(m, size=n_bad, replace=False)] = np.arange(n_bad) % kinds
    return code


ASCII_DIGITS: Final = [str(d) for d in range(10)]
FULLWIDTH_DIGITS: Final = [chr(0xFF10 + d) for d in range(10)]


def _fmt_phone(national: pl.Series, style: np.ndarray) -> pl.Series:
    """Write 11-digit mobiles in one of the styles exports use (0 plain ... 7 full-width digits)."""
    df = pl.DataFrame({"n": national, "s": pl.Series(np.asarray(style, dtype=np.int64))})
    n, s = pl.col("n"), pl.col("s")
    a, b, c = n.str.slice(0, 3), n.str.slice(3, 4), n.str.slice(7, 4)
    expr = (
        pl.when(s == 1)
        .then(pl.concat_str([a, b, c], separator=" "))  # 138 0013 8000
        .when(s == 2)
        .then(pl.concat_str([pl.lit("+86-"), a, pl.lit("-"), b, pl.lit("-"), c]))  # +86-138-0013-8000
        .when(s == 3)
        .then(pl.concat_str([pl.lit("0086"), n]))  # 008613800138000
        .when(s == 4)
        .then(pl.concat_str([pl.lit("+86 "), a, pl.lit(" "), b, pl.lit(" "), c]))  # +86 138 0013 8000
        .when(s == 5)
        .then(pl.concat_str([pl.lit("+86"), n]))  # +8613800138000
        .when(s == 6)
        .then(pl.concat_str([a, b, c], separator="-"))  # 138-0013-8000
        .when(s == 7)
        .then(n.str.replace_many(ASCII_DIGITS, FULLWIDTH_DIGITS))  # full-width digits
        .otherwise(n)
    )
    return df.select(expr.alias("phone")).to_series()


def _mess_email(rng: np.random.Generator, email: pl.Series, p_case: float, p_space: float) -> pl.Series:
    """Random upper/capitalised/title case and stray whitespace (the address itself stays the same)."""
    m = len(email)
    u, v, sp = rng.random(m), rng.random(m), rng.integers(0, 3, m)
    df = pl.DataFrame({"e": email, "u": u, "v": v, "sp": sp})
    e = pl.col("e")
    cased = (
        pl.when(pl.col("u") < p_case * 0.3)
        .then(e.str.to_uppercase())
        .when(pl.col("u") < p_case * 0.7)
        .then(pl.concat_str([e.str.slice(0, 1).str.to_uppercase(), e.str.slice(1)]))
        .when(pl.col("u") < p_case)
        .then(e.str.to_titlecase())
        .otherwise(e)
    )
    spaced = (
        pl.when(pl.col("v") >= p_space)
        .then(cased)
        .when(pl.col("sp") == 0)
        .then(pl.concat_str([pl.lit(" "), cased]))
        .when(pl.col("sp") == 1)
        .then(pl.concat_str([cased, pl.lit(" ")]))
        .otherwise(pl.concat_str([pl.lit("  "), cased, pl.lit("\t")]))
    )
    return df.select(spaced.alias("email")).to_series()


def _name_variants(
    rng: np.random.Generator, names: pl.Series, latin: np.ndarray, p_typo: float, p_swap: float
) -> pl.Series:
    """A few names get one wrong/missing character; some Latin names come family-name first."""
    m = len(names)
    u = rng.random(m)
    length = names.str.len_chars().fill_null(0).to_numpy().astype(np.int64)
    typo = (u < p_typo) & (length >= 2)
    swap = latin & (u >= p_typo) & (u < p_typo + p_swap)
    # Chinese names: a wrong character in the given name; Latin names: a dropped or wrong letter.
    pos = np.where(latin, rng.random(m) * np.maximum(length, 1), 1 + rng.random(m) * np.maximum(length - 1, 1))
    pos = np.minimum(pos.astype(np.int64), np.maximum(length - 1, 0))
    drop = latin & (rng.random(m) < 0.5)
    rep = _when(
        drop,
        "",
        _when(
            latin,
            _lookup(list("aeiounrlst"), rng.integers(0, 10, m)),
            _lookup([g for g, _ in tx.GIVEN], rng.integers(0, len(tx.GIVEN), m)),
        ),
    )
    df = pl.DataFrame({"n": names, "pos": pos, "rep": rep, "typo": typo, "swap": swap})
    n = pl.col("n")
    typoed = pl.concat_str([n.str.slice(0, pl.col("pos")), pl.col("rep"), n.str.slice(pl.col("pos") + 1)])
    swapped = n.str.split(" ").list.reverse().list.join(" ")
    expr = pl.when(pl.col("typo")).then(typoed).when(pl.col("swap")).then(swapped).otherwise(n)
    return df.select(expr.alias("name")).to_series()


def _placeholders(rng: np.random.Generator, values: pl.Series, rate: float, fakes: Sequence[str]) -> pl.Series:
    m = len(values)
    mask = rng.random(m) < rate
    return _when(mask, _lookup(fakes, rng.integers(0, len(fakes), m)), values)


# ----------------------------------------------------------------------------------------------- templates


@dataclass(frozen=True)
class _Templates:
    text: pl.Series
    ends: np.ndarray  # cumulative weights, rows sorted by group
    first: np.ndarray  # per (effective) group: first row
    last: np.ndarray
    lo: np.ndarray  # cumulative weight before the group's first row
    total: np.ndarray
    effective: np.ndarray  # group code -> group code that has templates (fallback for empty groups)


def _group(tp: np.ndarray | int, kind: np.ndarray | int, lang: np.ndarray | int) -> np.ndarray | int:
    return (tp * len(tx.TEXT_KINDS) + kind) * len(tx.LANGS) + lang


@lru_cache(maxsize=1)
def _templates() -> _Templates:
    groups: list[int] = []
    texts: list[str] = []
    weights: list[float] = []
    for ti, tp in enumerate(tx.TOUCHPOINTS):  # loops over templates only; rows come out sorted by group
        for ki, kind in enumerate(tx.TEXT_KINDS):
            for li, variants in enumerate(tx.TEMPLATES[tp].get(kind, ((), ()))):
                for t in variants:
                    text, weight = (t, 1) if isinstance(t, str) else t
                    groups.append(int(_group(ti, ki, li)))
                    texts.append(text)
                    weights.append(float(weight))
    n_groups = len(tx.TOUCHPOINTS) * len(tx.TEXT_KINDS) * len(tx.LANGS)
    g = np.array(groups)
    w = np.array(weights)
    ends = np.cumsum(w)
    counts = np.bincount(g, minlength=n_groups)
    first = np.searchsorted(g, np.arange(n_groups), side="left")
    last = np.searchsorted(g, np.arange(n_groups), side="right") - 1
    effective = np.arange(n_groups)
    for code in np.flatnonzero(counts == 0):
        ti, rest = divmod(int(code), len(tx.TEXT_KINDS) * len(tx.LANGS))
        ki, li = divmod(rest, len(tx.LANGS))
        candidates = [_group(ti, KIND["inquiry"], li), _group(ti, ki, 1 - li), _group(ti, KIND["complaint"], li)]
        candidates += [_group(ti, k, lang) for lang in (li, 1 - li) for k in range(len(tx.TEXT_KINDS))]
        effective[code] = next(int(c) for c in candidates if counts[int(c)] > 0)
    first_e, last_e = first[effective], last[effective]
    lo = ends[first_e] - w[first_e]
    return _Templates(pl.Series(texts, dtype=pl.String), ends, first_e, last_e, lo, ends[last_e] - lo, effective)


SLOTS: Final = ("product", "order", "city", "days", "amount", "courier", "points")
PRODUCT_FLAT: Final = [p[0] for p in tx.PRODUCTS] + [p[1] for p in tx.PRODUCTS]
CITY_FLAT: Final = [c[0] for c in tx.CITIES] + [c[1] for c in tx.CITIES]
COURIER_FLAT: Final = [c[0] for c in tx.COURIERS] + [c[1] for c in tx.COURIERS]


def _slots(rng: np.random.Generator, lang: np.ndarray) -> pl.DataFrame:
    m = len(lang)
    product = rng.integers(0, len(tx.PRODUCTS), m)
    city = _choice(rng, [c[3] for c in tx.CITIES], m)
    return pl.DataFrame(
        {
            "product": _lookup(PRODUCT_FLAT, lang * len(tx.PRODUCTS) + product),
            "order": _cat("SO", _digits(rng, m, 12)),
            "city": _lookup(CITY_FLAT, lang * len(tx.CITIES) + city),
            "days": _int_str(rng.integers(2, 16, m)),
            "amount": _lookup(tx.AMOUNTS, rng.integers(0, len(tx.AMOUNTS), m)),
            "courier": _lookup(COURIER_FLAT, lang * len(tx.COURIERS) + rng.integers(0, len(tx.COURIERS), m)),
            "points": _int_str(rng.integers(1, 60, m) * 100),
            "price": pl.Series(np.array([p[2] for p in tx.PRODUCTS], dtype=np.float64)[product]),
        }
    )


def _fill(template: pl.Series, slots: pl.DataFrame) -> pl.Series:
    expr = pl.lit(template)
    for slot in SLOTS:
        expr = expr.str.replace_all("{" + slot + "}", pl.col(slot), literal=True)
    return slots.select(expr.alias("text")).to_series()


def _texts(rng: np.random.Generator, tp: np.ndarray, kind: np.ndarray, lang: np.ndarray) -> pl.DataFrame:
    """Customer texts for (touchpoint, kind, language) codes: the slot values plus a `text` column."""
    t = _templates()
    g = t.effective[_group(tp, kind, lang)]
    r = t.lo[g] + rng.random(len(tp)) * t.total[g]
    idx = np.clip(np.searchsorted(t.ends, r, side="right"), t.first[g], t.last[g])
    slots = _slots(rng, lang)
    return slots.with_columns(text=_fill(t.text.gather(idx), slots))


# ----------------------------------------------------------------------------------------------- world


@dataclass(frozen=True)
class _Agents:
    table: pl.DataFrame  # agent_id, name, team, department
    team: np.ndarray
    load: np.ndarray
    aht: np.ndarray
    resolve: np.ndarray


@lru_cache(maxsize=1)
def _agents() -> _Agents:
    """The agent roster: fixed (its own constant seed), the same for every demo dataset."""
    rng = np.random.default_rng(20251001)
    counts = np.array([t[2] for t in tx.TEAMS])
    team = np.repeat(np.arange(len(tx.TEAMS)), counts)
    n = len(team)
    sur = _choice(rng, [s[2] for s in tx.SURNAMES], n)
    g1, g2 = rng.integers(0, len(tx.GIVEN), n), rng.integers(0, len(tx.GIVEN), n)
    given = [g for g, _ in tx.GIVEN]
    name = _cat(
        _lookup([s[0] for s in tx.SURNAMES], sur),
        _lookup(given, g1),
        _when(rng.random(n) < 0.6, _lookup(given, g2), ""),
    )
    load = rng.gamma(4.0, 0.25, n)
    load[np.flatnonzero(team == TEAM["hotline"])[0]] *= 2.5  # one overloaded agent (burnout signal)
    table = pl.DataFrame(
        {
            "agent_id": _seq_ids("A", n, 1001, 4),
            "name": name,
            "team": _lookup([t[0] for t in tx.TEAMS], team),
            "department": _lookup([t[1] for t in tx.TEAMS], team),
        }
    )
    return _Agents(table, team, load, np.exp(rng.normal(0.0, 0.2, n)), rng.normal(0.0, 0.05, n))


def _assign_agents(rng: np.random.Generator, team: np.ndarray) -> np.ndarray:
    """One agent per row from the row's team, busier agents more often (loops over teams only)."""
    ag = _agents()
    agent = np.zeros(len(team), dtype=np.int64)
    for t in range(len(tx.TEAMS)):
        rows = np.flatnonzero(team == t)
        members = np.flatnonzero(ag.team == t)
        agent[rows] = members[_choice(rng, ag.load[members], len(rows))]
    return agent


@dataclass
class _World:
    n: int
    start: date
    days: int
    t0: int  # epoch seconds of local midnight at `start`
    day_cdf: np.ndarray
    trouble: np.ndarray  # per day: shipping trouble (after Double 11 and in the last SHIPPING_TROUBLE_DAYS)
    people: pl.DataFrame
    a: dict[str, np.ndarray]  # numpy copies of people columns used for sampling
    kiosks: pl.Series
    kiosk_users: np.ndarray  # customers (members) who use a kiosk
    kiosk_of: np.ndarray
    anon: dict[str, np.ndarray]  # per channel: the person of each anonymous visitor row
    walk_in: np.ndarray  # kiosk walk-ins: one anonymous row each, on the web or in the app
    walk_in_kiosk: np.ndarray
    walk_in_web: np.ndarray

    @property
    def t_end(self) -> int:
        return self.t0 + self.days * 86400

    def pid(self, who: np.ndarray) -> pl.Series:
        return self.people["person_id"].gather(who)

    def col(self, name: str, who: np.ndarray) -> pl.Series:
        return self.people[name].gather(who)


def _calendar(start: date, days: int) -> tuple[np.ndarray, np.ndarray]:
    """Day weights (growth, weekday, Double 11 peak, Spring Festival dip) and shipping-trouble days."""
    weight = np.empty(days)
    trouble = np.zeros(days, dtype=bool)
    for i in range(days):  # a loop over calendar days, not records
        d = start + timedelta(days=i)
        f = (1.0 + 0.35 * i / days) * WEEKDAY_FACTOR[d.weekday()]
        if d.month == 11 and 1 <= d.day <= 12:
            f *= 1.7
        if d.month == 11 and 11 <= d.day <= 25:
            trouble[i] = True
        if any(-3 <= (d - sf).days <= 5 for sf in SPRING_FESTIVALS):
            f *= 0.55
        weight[i] = f
    trouble[max(0, days - SHIPPING_TROUBLE_DAYS) :] = True
    return weight, trouble


def _unique_phones(rng: np.random.Generator, n: int) -> np.ndarray:
    m = n + n // 8 + 64
    prefixes = np.array(MOBILE_PREFIXES, dtype=np.int64)
    cand = prefixes[rng.integers(0, len(prefixes), m)] * 10**8 + rng.integers(0, 10**8, m)
    cand = cand[~np.isin(cand, [int(PLACEHOLDER_PHONE), 13800138000])]
    _, first = np.unique(cand, return_index=True)
    keep = np.sort(first)[:n]
    if len(keep) < n:  # pragma: no cover - astronomically unlikely
        raise RuntimeError("could not draw enough distinct phone numbers")
    return cand[keep]


def _unique_sequence(rng: np.random.Generator, n: int, base: int, max_gap: int) -> np.ndarray:
    """n distinct integers above `base`, in random order (for customer and member numbers)."""
    return (base + np.cumsum(rng.integers(1, max_gap, n)))[rng.permutation(n)]


def _dedupe(values: pl.Series, sep: str) -> pl.Series:
    """Make values unique by appending `<sep>k` to the k-th repeat (row order decides, so deterministic)."""
    df = pl.DataFrame({"v": values}).with_columns(k=pl.int_range(pl.len()).over("v"))
    return df.select(
        pl.when(pl.col("k") > 0)
        .then(pl.concat_str([pl.col("v"), pl.lit(sep), pl.col("k").cast(pl.String)]))
        .otherwise(pl.col("v"))
    ).to_series()


def _people(rng: np.random.Generator, customers: int, visitors: int, days: int, t0: int) -> pl.DataFrame:
    """Ground-truth persons with every identifier they may show on some channel: the customers first (rows
    0 .. customers-1, person ids P...), then the anonymous one-off visitors (person ids V...), who have a device,
    cookie, WeChat openid, social handle, nickname and name but no phone, e-mail, CRM or member number."""
    n = customers + visitors
    latin = rng.random(n) < 0.30
    sur = _choice(rng, [s[2] for s in tx.SURNAMES], n)
    g1, g2 = rng.integers(0, len(tx.GIVEN), n), rng.integers(0, len(tx.GIVEN), n)
    two = rng.random(n) < 0.62
    lg, lf = rng.integers(0, len(tx.LATIN_GIVEN), n), rng.integers(0, len(tx.LATIN_FAMILY), n)
    city = _choice(rng, [c[3] for c in tx.CITIES], n)
    n_dist = np.array([len(c[4]) for c in tx.CITIES])
    dist_off = np.concatenate([[0], np.cumsum(n_dist)[:-1]])
    district = dist_off[city] + rng.integers(0, 1 << 30, n) % n_dist[city]
    road = rng.integers(0, len(tx.ROADS), n)
    number, building = rng.integers(1, 889, n), rng.integers(1, 31, n)
    room = rng.integers(1, 33, n) * 100 + rng.integers(1, 7, n)
    post = rng.integers(0, 1000, n)
    addr_en = latin & (rng.random(n) < 0.5)
    has_email = rng.random(n) < 0.80
    phones = _unique_phones(rng, n)

    # Families: ~1 % of customers share a phone (and address) with another, different customer.
    n_pairs = max(2, round(customers * 0.005)) if customers >= 20 else 0
    pairs = rng.choice(customers, size=2 * n_pairs, replace=False)
    a, b = pairs[:n_pairs], pairs[n_pairs:]
    same_family_name = rng.random(n_pairs) < 0.5
    latin[b] = latin[a]
    sur[b] = np.where(same_family_name, sur[a], sur[b])
    lf[b] = np.where(same_family_name, lf[a], lf[b])
    g1[b] = (g1[a] + 1 + rng.integers(0, len(tx.GIVEN) - 1, n_pairs)) % len(tx.GIVEN)
    lg[b] = (lg[a] + 1 + rng.integers(0, len(tx.LATIN_GIVEN) - 1, n_pairs)) % len(tx.LATIN_GIVEN)
    for arr in (city, district, road, number, building, room, post, addr_en, phones):
        arr[b] = arr[a]
    has_email[pairs] = True
    family = np.full(n, -1, dtype=np.int64)
    family[a], family[b] = b, a

    sur_zh = _lookup([s[0] for s in tx.SURNAMES], sur)
    sur_py = _lookup([s[1] for s in tx.SURNAMES], sur)
    given_zh = _cat(_lookup([g[0] for g in tx.GIVEN], g1), _when(two, _lookup([g[0] for g in tx.GIVEN], g2), ""))
    given_py = _cat(_lookup([g[1] for g in tx.GIVEN], g1), _when(two, _lookup([g[1] for g in tx.GIVEN], g2), ""))
    lat_given = _lookup(tx.LATIN_GIVEN, lg)
    lat_family = _lookup([f[0] for f in tx.LATIN_FAMILY], lf)
    name = _when(latin, _cat(lat_given, " ", lat_family), _cat(sur_zh, given_zh))
    first = _when(latin, lat_given.str.to_lowercase(), given_py)
    last = _when(latin, _lookup([f[1] for f in tx.LATIN_FAMILY], lf), sur_py)
    name_py = _when(latin, name, _cat(given_py.str.to_titlecase(), " ", sur_py.str.to_titlecase()))

    birth_days = rng.integers(0, 48 * 365, n)
    birth_offset = (date(1958, 1, 1) - date(1970, 1, 1)).days
    birth = pl.Series(birth_offset + birth_days, dtype=pl.Int32).cast(pl.Date)
    birth = _when(rng.random(n) < 0.08, None, birth, dtype=pl.Date)
    yy = _int_str((1958 + birth_days // 365) % 100).str.zfill(2)

    style = rng.integers(0, 5, n)
    num = _int_str(rng.integers(1, 100, n))
    local = (
        pl.DataFrame({"f": first, "l": last, "s": style, "num": num, "yy": yy})
        .select(
            pl.when(pl.col("s") == 0)
            .then(pl.concat_str([pl.col("f"), pl.lit("."), pl.col("l")]))
            .when(pl.col("s") == 1)
            .then(pl.concat_str([pl.col("f"), pl.col("l"), pl.col("num")]))
            .when(pl.col("s") == 2)
            .then(pl.concat_str([pl.col("f").str.slice(0, 1), pl.col("l")]))
            .when(pl.col("s") == 3)
            .then(pl.concat_str([pl.col("l"), pl.col("f"), pl.col("yy")]))
            .otherwise(pl.concat_str([pl.col("f"), pl.lit("_"), pl.col("l")]))
        )
        .to_series()
    )
    domain = _lookup([d[0] for d in tx.EMAIL_DOMAINS], _choice(rng, [d[1] for d in tx.EMAIL_DOMAINS], n))
    email = _when(has_email, _dedupe_email(_cat(local, "@", domain)), None)

    city_zh = _lookup([c[0] for c in tx.CITIES], city)
    city_en = _lookup([c[1] for c in tx.CITIES], city)
    district_zh = _lookup([d for c in tx.CITIES for d in c[4]], district)
    address = _when(
        addr_en,
        _cat(
            "Rm ",
            _int_str(room),
            ", Bldg ",
            _int_str(building),
            ", No. ",
            _int_str(number),
            " ",
            _lookup([r[1] for r in tx.ROADS], road),
            ", ",
            city_en,
        ),
        _cat(
            city_zh,
            "市",
            district_zh,
            _lookup([r[0] for r in tx.ROADS], road),
            _int_str(number),
            "号",
            _int_str(building),
            "栋",
            _int_str(room),
            "室",
        ),
    )
    postcode = _cat(_lookup([c[2] for c in tx.CITIES], city), _int_str(post).str.zfill(3))

    created_day = np.where(rng.random(n) < 0.78, -rng.integers(1, 8 * 365, n), rng.integers(0, max(1, days - 10), n))
    created_ts = t0 + created_day * 86400 + rng.integers(9 * 3600, 21 * 3600, n)
    visitor = np.arange(n) >= customers
    has_wechat = rng.random(n) < np.where(latin, 0.25, 0.53)
    has_social = rng.random(n) < 0.40
    has_app = rng.random(n) < 0.55
    has_web = rng.random(n) < 0.70
    # Signing up in the app creates a membership, so every app user is a member (~85 % of customers in all).
    member = (has_app | (rng.random(n) < 0.67)) & ~visitor
    tier = _when(member, _lookup(TIERS, _choice(rng, [55, 25, 15, 5], n)), None)
    ios = rng.random(n) < 0.45
    handle_style = rng.integers(0, 3, n)
    handle_src = pl.DataFrame(
        {
            "f": first,
            "l": last,
            "num": num,
            "s": handle_style,
            "nick": _lookup(tx.NICKNAMES, rng.integers(0, len(tx.NICKNAMES), n)),
        }
    )
    handle = handle_src.select(
        pl.when(pl.col("s") == 0)
        .then(pl.concat_str([pl.col("f"), pl.lit("_"), pl.col("l"), pl.col("num")]))
        .when(pl.col("s") == 1)
        .then(pl.concat_str([pl.col("nick"), pl.col("l"), pl.col("num")]))
        .otherwise(pl.concat_str([pl.col("l"), pl.col("f")]))
    ).to_series()
    device_ios = _uuid(rng, n, upper=True)
    device_android = _rand_str(rng, n, 16, "0123456789abcdef")
    cookie = _cat("GA1.2.", _digits(rng, n, 10), ".", _int_str(created_ts - rng.integers(0, 86400 * 30, n)))
    nickname = _when(
        rng.random(n) < 0.35,
        _when(latin, lat_given, given_zh),
        _cat(
            _lookup(tx.NICKNAMES, rng.integers(0, len(tx.NICKNAMES), n)),
            _when(rng.random(n) < 0.5, _int_str(rng.integers(1, 100, n)), ""),
        ),
    )
    second_device = has_app & (rng.random(n) < 0.20) & ~visitor
    second_cookie = has_web & (rng.random(n) < 0.15) & ~visitor
    customer = ~visitor
    person_id = pl.concat([_seq_ids("P", customers, 1, 7), _seq_ids("V", visitors, 1, 7)])
    return pl.DataFrame(
        {
            "person_id": person_id,
            "visitor": visitor,
            "latin": latin,
            "name": name,
            "name_py": name_py,
            "ascii_name": _cat(first, ".", last),
            "phone": _when(customer, _int_str(phones), None),
            "family": family,
            "email": _when(customer, email, None),
            "crm_id": _when(customer, _cat("C", _int_str(_unique_sequence(rng, n, 10_000_000, 40))), None),
            "member_id": _when(member, _cat("M", _int_str(_unique_sequence(rng, n, 1_000_000_000, 50))), None),
            "tier": tier,
            "birth_date": _when(customer, birth, None, dtype=pl.Date),
            "city": city_zh,
            "address": address,
            "addr_en": addr_en,
            "postcode": postcode,
            "created_day": np.where(visitor, -1, created_day),
            "created_ts": created_ts,
            "wechat_id": _when(has_wechat | visitor, _cat("o", _rand_str(rng, n, 27, _ALNUM + "-_")), None),
            "wechat_in_crm": has_wechat & customer & (rng.random(n) < 0.55),
            # The service account binds most member followers to their member card (shown on every message).
            "wechat_bound": has_wechat & member & (rng.random(n) < 0.85),
            "social_handle": _when(has_social | visitor, _dedupe(handle, "_"), None),
            # Account linking in the member centre: the CRM knows most posting customers' handles.
            "social_in_crm": has_social & customer & (rng.random(n) < 0.88),
            "os": _when(has_app | visitor, _when(ios, "iOS", "Android"), None),
            "device1": _when(has_app | visitor, _when(ios, device_ios, device_android), None),
            "device2": _when(second_device, _uuid(rng, n, upper=False), None),
            # Every browser has a cookie (the chat widget sees it too); `web` = shows up in web analytics.
            "cookie1": cookie,
            "web": has_web & customer,
            "cookie2": _when(second_cookie, _cat("GA1.2.", _digits(rng, n, 10), ".", _int_str(created_ts)), None),
            "nickname": nickname,
            "weight": np.where(visitor, 0.0, rng.gamma(0.9, 1.0, n) + 0.05),
            "p_zh": np.where(latin, 0.25, 0.82),
            "sat_bias": rng.normal(0.0, 0.5, n),
        }
    )


def _dedupe_email(addresses: pl.Series) -> pl.Series:
    """Unique addresses: the k-th repeat of `local@domain` becomes `local.k@domain`."""
    df = pl.DataFrame({"e": addresses}).with_columns(k=pl.int_range(pl.len()).over("e"))
    parts = pl.col("e").str.split_exact("@", 1)
    return df.select(
        pl.when(pl.col("k") > 0)
        .then(
            pl.concat_str(
                [
                    parts.struct.field("field_0"),
                    pl.lit("."),
                    pl.col("k").cast(pl.String),
                    pl.lit("@"),
                    parts.struct.field("field_1"),
                ]
            )
        )
        .otherwise(pl.col("e"))
    ).to_series()


def _world(rng: np.random.Generator, n: int, start: date, days: int) -> _World:
    t0 = int(datetime(start.year, start.month, start.day, tzinfo=UTC).timestamp()) - LOCAL_OFFSET_S
    weight, trouble = _calendar(start, days)
    # Store kiosks: one device id used by 60+ different customers in the app and on the web.
    n_kiosks = 1 + n // 50_000
    per_kiosk = min(max(1, n // 10), 60 + n // 2000)  # 60+ customers per kiosk from 600 customers up
    walk_ins = n_kiosks * round(per_kiosk * KIOSK_WALK_INS)
    # Anonymous one-off visitors: a block of people after the customers, each with its rows on one channel.
    visitors = {ch: round(VOLUME[ch] * n * share / mean) for ch, (share, mean) in ANONYMOUS.items()}
    total = sum(visitors.values()) + walk_ins
    people = _people(rng, n, total, days, t0)
    arrays = {c: people[c].to_numpy() for c in ("latin", "family", "created_day", "weight", "p_zh", "sat_bias")}
    for c in ("email", "member_id", "wechat_id", "social_handle", "device1", "device2", "cookie2"):
        arrays["has_" + c] = people[c].is_not_null().to_numpy()
    for c in ("web", "wechat_bound", "wechat_in_crm", "social_in_crm", "visitor"):
        arrays[c] = people[c].to_numpy()
    arrays["diamond"] = (people["tier"] == "钻石会员").fill_null(False).to_numpy()
    anon: dict[str, np.ndarray] = {}
    first = n
    for ch, count in visitors.items():
        rows = rng.geometric(1.0 / ANONYMOUS[ch][1], count)  # rows per visitor, at least one
        anon[ch] = np.repeat(np.arange(first, first + count), rows)
        first += count
    members = np.flatnonzero(arrays["has_member_id"][:n])  # a kiosk session starts with a member-code scan
    users = rng.choice(members, size=min(len(members), n_kiosks * per_kiosk), replace=False)
    walk_in = np.arange(first, first + walk_ins)
    return _World(
        n,
        start,
        days,
        t0,
        _cdf(weight),
        trouble,
        people,
        arrays,
        _uuid(rng, n_kiosks, upper=True),
        users,
        np.repeat(np.arange(n_kiosks), per_kiosk)[: len(users)],
        anon,
        walk_in,
        rng.integers(0, n_kiosks, walk_ins),
        rng.random(walk_ins) < 0.5,
    )


def _draw(rng: np.random.Generator, w: _World, m: int, eligible: np.ndarray | None = None) -> np.ndarray:
    """Which customer each of m records belongs to (activity-weighted; never an anonymous visitor)."""
    weights = w.a["weight"][: w.n] if eligible is None else w.a["weight"][: w.n] * eligible[: w.n]
    return _choice(rng, weights, m)


def _once(rng: np.random.Generator, key: np.ndarray) -> np.ndarray:
    """One randomly chosen row per distinct key value (True there, False elsewhere)."""
    order = np.argsort(key * (1 << 24) + rng.integers(0, 1 << 24, len(key)))  # by key, random within a key
    ordered = key[order]
    head = np.ones(len(key), dtype=bool)
    head[1:] = ordered[1:] != ordered[:-1]
    chosen = np.zeros(len(key), dtype=bool)
    chosen[order[head]] = True
    return chosen


def _with_visitors(w: _World, channel: str, who: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Customer rows followed by the channel's anonymous visitor rows, and the visitor mask."""
    anon = w.anon[channel]
    return np.concatenate([who, anon]), np.concatenate([np.zeros(len(who), bool), np.ones(len(anon), bool)])


def _customer_rows(w: _World, channel: str) -> int:
    """Customer rows of a channel: its volume less the anonymous visitor rows (at least one)."""
    return max(1, round(VOLUME[channel] * w.n) - len(w.anon[channel]))


def _times(
    rng: np.random.Generator, w: _World, who: np.ndarray, hours: Sequence[float]
) -> tuple[np.ndarray, np.ndarray]:
    """Epoch seconds (UTC) and day index per record; never before the customer was created."""
    m = len(who)
    day = np.minimum(np.searchsorted(w.day_cdf, rng.random(m), side="right"), w.days - 1)
    c = w.a["created_day"][who]
    day = np.where(c >= 0, c + 1 + (day * np.maximum(w.days - c - 1, 0)) // w.days, day)
    sec = _choice(rng, hours, m) * 3600 + rng.integers(0, 3600, m)
    return w.t0 + day * 86400 + sec, day


COMPLAINT_P: Final = np.array([tx.COMPLAINT_SHARE[k] for k in tx.TOUCHPOINTS])


def _topics(
    rng: np.random.Generator, w: _World, day: np.ndarray, probs: dict[str, float], kind_p: Sequence[float] | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Touchpoint and kind codes; shipping questions and complaints rise on trouble days."""
    m = len(day)
    tp = _pick_tp(rng, probs, m)
    hot = w.trouble[day]
    if "shipping" in probs:
        tp = np.where(hot & (rng.random(m) < 0.25), TP["shipping"], tp)
    if kind_p is not None:
        return tp, _choice(rng, kind_p, m)
    pc = COMPLAINT_P[tp] + 0.20 * (hot & (tp == TP["shipping"]))
    u = rng.random(m)
    kind = np.where(
        u < pc,
        KIND["complaint"],
        np.where(u < pc + 0.05, KIND["suggestion"], np.where(u < pc + 0.10, KIND["praise"], 0)),
    )
    return tp, kind.astype(np.int64)


def _langs(rng: np.random.Generator, w: _World, who: np.ndarray, zh_boost: float = 0.0) -> np.ndarray:
    return (rng.random(len(who)) >= np.minimum(w.a["p_zh"][who] + zh_boost, 1.0)).astype(np.int64)


def _sort(arrays: dict[str, np.ndarray], key: str = "ts") -> dict[str, np.ndarray]:
    order = np.argsort(arrays[key], kind="stable")
    return {k: v[order] for k, v in arrays.items()}


@dataclass(frozen=True)
class _Export:
    file: str
    source: str
    frame: pl.DataFrame
    record_id: str  # column holding the record id
    person: pl.Series  # ground-truth person per row


# ----------------------------------------------------------------------------------------------- channels


def _crm(rng: np.random.Generator, w: _World) -> _Export:
    p = w.people.head(w.n).sort("created_ts", "crm_id")
    n = p.height
    birthday = _when(
        rng.random(n) < 0.7, p["birth_date"].dt.strftime("%Y-%m-%d"), p["birth_date"].dt.strftime("%Y%m%d")
    )
    style = np.where(rng.random(n) < 0.8, 0, np.where(rng.random(n) < 0.5, 4, 6))
    frame = pl.DataFrame(
        {
            "Id": _cat("0015g0000", _int_str(104_729 + np.arange(n) * 13 + rng.integers(0, 13, n)).str.zfill(9)),
            "customer_no": p["crm_id"],
            "member_no": p["member_id"],
            "cust_name": p["name"],
            "mobile": _fmt_phone(p["phone"], style),
            "email_addr": _mess_email(rng, p["email"], 0.06, 0.0),
            "birthday": birthday,
            "addr": p["address"],
            "city": p["city"],
            "zip": p["postcode"],
            "member_level": p["tier"],
            "created_time": _fmt_ts(p["created_ts"].to_numpy(), "%Y-%m-%d %H:%M:%S"),
            "wechat_openid": _when(p["wechat_in_crm"].to_numpy(), p["wechat_id"], None),
            "social_handle": _when(p["social_in_crm"].to_numpy(), p["social_handle"], None),
            "register_channel": _lookup(("门店", "官网", "App", "微信", "热线"), _choice(rng, [35, 20, 25, 15, 5], n)),
        }
    )
    return _Export("crm_customers.csv", "crm", frame, "Id", p["person_id"])


def _call_round(rng: np.random.Generator, w: _World, c: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Queue wait, abandonment, team, agent and resolution for one batch of calls."""
    m = len(c["who"])
    weekday = (w.start.weekday() + c["day"]) % 7
    wait = (
        rng.lognormal(np.log(30.0), 0.9, m)
        * np.where(w.trouble[c["day"]], 1.6, 1.0)
        * np.where(weekday == 0, 1.25, 1.0)
    )
    wait = np.where(c["outbound"], 0, np.round(wait)).astype(np.int64)
    abandoned = ~c["outbound"] & (rng.random(m) < 0.015 + 0.35 * (1 - np.exp(-wait / 300.0)))
    tp, u = c["tp"], rng.random(m)
    team = np.full(m, TEAM["hotline"])
    team[np.isin(tp, [TP["shipping"], TP["installation"]]) & (u < 0.7)] = TEAM["logistics-desk"]
    team[np.isin(tp, [TP["repair"], TP["product_quality"], TP["app_usage"]]) & (u < 0.5)] = TEAM["tech-support"]
    team[np.isin(tp, [TP["billing"], TP["payment"]]) & (u < 0.6)] = TEAM["billing-desk"]
    team[w.a["diamond"][c["who"]]] = TEAM["vip-care"]
    team[(c["kind"] == KIND["complaint"]) & (rng.random(m) < 0.04)] = TEAM["escalation-desk"]
    agent = _assign_agents(rng, team)
    p = _per_tp(RESOLVE_P, 0.75)[tp] - 0.08 * (c["kind"] == KIND["complaint"]) + _agents().resolve[agent]
    p = p + np.where(c["repeat"] > 0, 0.1, 0.0)
    resolved = ~abandoned & (rng.random(m) < p)
    return {**c, "wait": wait, "abandoned": abandoned, "team": team, "agent": agent, "resolved": resolved}


def _hotline(rng: np.random.Generator, w: _World) -> _Export:
    m = max(1, round(VOLUME["hotline"] * w.n))
    partner = w.a["family"][: w.n]
    first = np.flatnonzero(partner > np.arange(w.n))[:5]  # in five families both members call (small data too)
    family = np.concatenate([first, partner[first]])
    who = np.concatenate([_draw(rng, w, max(1, m - len(family))), family])
    m = len(who)
    ts, day = _times(rng, w, who, HOURS_SERVICE)
    tp, kind = _topics(rng, w, day, HOTLINE_TP)
    calls = _call_round(
        rng,
        w,
        {
            "who": who,
            "ts": ts,
            "day": day,
            "tp": tp,
            "kind": kind,
            "case": np.arange(m),
            "repeat": np.zeros(m, dtype=np.int64),
            "outbound": np.zeros(m, dtype=bool),
        },
    )
    calls["case"] = np.where(calls["abandoned"], -1, calls["case"])
    rounds = [calls]
    for r, p_open, p_done in ((1, 0.55, 0.06), (2, 0.35, 0.0)):  # repeat contacts on the same case
        prev = rounds[-1]
        u = rng.random(len(prev["who"]))
        sel = ~prev["abandoned"] & ((~prev["resolved"] & (u < p_open)) | (prev["resolved"] & (u < p_done)))
        nxt = {k: v[sel] for k, v in prev.items() if k in ("who", "tp", "kind", "case")}
        k = int(sel.sum())
        nxt["ts"] = prev["ts"][sel] + rng.integers(3 * 3600, 5 * 86400, k)
        nxt["repeat"] = np.full(k, r, dtype=np.int64)
        nxt["outbound"] = rng.random(k) < 0.3
        keep = nxt["ts"] < w.t_end
        nxt = {key: v[keep] for key, v in nxt.items()}
        nxt["day"] = (nxt["ts"] - w.t0) // 86400
        rounds.append(_call_round(rng, w, nxt))
    c = _sort({k: np.concatenate([r[k] for r in rounds]) for k in rounds[0]})
    c["case"] = np.where(c["abandoned"], -1, c["case"])  # nobody opened a case for a call nobody answered
    m = len(c["who"])
    ab, lang = c["abandoned"], _langs(rng, w, c["who"])
    ag = _agents()
    talk = rng.lognormal(np.log(200.0), 0.5, m) * _per_tp(TALK_FACTOR, 1.0)[c["tp"]] * ag.aht[c["agent"]]
    hold = np.where(rng.random(m) < 0.35, rng.lognormal(np.log(40.0), 0.7, m), 0.0)
    acw = rng.integers(10, 90, m)
    texts = _texts(rng, c["tp"], c["kind"], lang)
    prefix = np.where(c["outbound"], 2, np.where(c["repeat"] > 0, 1, 0)) * 2 + lang
    notes = _cat(
        _lookup([*tx.NOTE_PREFIX, *tx.NOTE_PREFIX_REPEAT, *tx.NOTE_PREFIX_CALLBACK], prefix),
        texts["text"],
        _lookup([*tx.NOTE_RESOLVED, *tx.NOTE_OPEN], np.where(c["resolved"], 0, 2) + lang),
    )
    who = c["who"]
    phone = _fmt_phone(w.col("phone", who), _choice(rng, [35, 15, 15, 10, 15, 5, 5], m))
    phone = _placeholders(rng, phone, 0.004, [PLACEHOLDER_PHONE])
    named = ~ab & (rng.random(m) < 0.30)
    caller_name = _when(named, _name_variants(rng, w.col("name", who), w.a["latin"][who], 0.05, 0.10), None)
    categories = {v: k for k, v in tx.HOTLINE_CATEGORIES.items()}
    category = _lookup([categories.get(t, "其他") for t in tx.TOUCHPOINTS], c["tp"])
    zh_kind = _lookup(list(tx.ZH_KINDS), c["kind"])
    answered = ~ab

    def answered_only(values: np.ndarray) -> pl.Series:
        return _when(answered, _int_str(np.round(values)), None)

    frame = pl.DataFrame(
        {
            "call_id": _seq_ids("CL", m, 310_000_000 + int(rng.integers(0, 1_000_000)), 9),
            "start_time": _fmt_ts(c["ts"], "%Y/%m/%d %H:%M:%S"),
            "caller_number": phone,
            "caller_name": caller_name,
            "call_direction": _when(c["outbound"], "呼出", "呼入"),
            "skill_group": _lookup([t[0] for t in tx.TEAMS], c["team"]),
            "agent_no": _when(answered, ag.table["agent_id"].gather(c["agent"]), None),
            "wait_seconds": pl.Series(c["wait"]),
            "talk_seconds": answered_only(talk),
            "hold_seconds": answered_only(hold),
            "acw_seconds": answered_only(acw),
            "is_abandoned": _when(ab, "Y", "N"),
            "is_resolved": _when(c["resolved"], "Y", _when(ab & (rng.random(m) < 0.7), None, "N")),
            "case_no": _when(c["case"] >= 0, _cat("CS", _int_str(20_000_000 + c["case"])), None),
            "category": _when(answered, category, None),
            "request_type": _when(answered, zh_kind, None),
            "notes": _when(answered, notes, None),
        }
    )
    bad = _bad_rows(rng, m, 3)
    frame = frame.with_columns(
        call_id=_when(bad == 0, None, frame["call_id"]),
        start_time=_when(bad == 1, "31/02/2026 10:00:00", _when(bad == 2, "yesterday", frame["start_time"])),
    )
    return _Export("hotline_calls.csv", "hotline", frame, "call_id", w.pid(who))


def _chat(rng: np.random.Generator, w: _World) -> _Export:
    who, anon = _with_visitors(w, "chat", _draw(rng, w, _customer_rows(w, "chat")))
    m = len(who)
    ts, day = _times(rng, w, who, HOURS_DIGITAL)
    tp, kind = _topics(rng, w, day, CHAT_TP)
    c = _sort({"who": who, "ts": ts, "day": day, "tp": tp, "kind": kind, "anon": anon})
    who, tp, kind, day, anon = c["who"], c["tp"], c["kind"], c["day"], c["anon"]
    hot = w.trouble[day]
    missed = rng.random(m) < np.where(hot, 0.12, 0.05)
    lang = _langs(rng, w, who)
    team = np.where(
        np.isin(tp, [TP["product_quality"], TP["app_usage"], TP["repair"]]) & (rng.random(m) < 0.4),
        TEAM["tech-support"],
        TEAM["online-care"],
    )
    agent = _assign_agents(rng, team)
    ag = _agents()
    resolved = ~missed & (rng.random(m) < _per_tp(RESOLVE_P, 0.75)[tp] + ag.resolve[agent])
    texts = _texts(rng, tp, kind, lang)
    reply_idx = np.where(
        resolved,
        rng.integers(0, len(tx.CHAT_REPLIES_RESOLVED), m),
        len(tx.CHAT_REPLIES_RESOLVED) + rng.integers(0, len(tx.CHAT_REPLIES_OPEN), m),
    )
    replies = [r[0] for r in (*tx.CHAT_REPLIES_RESOLVED, *tx.CHAT_REPLIES_OPEN)]
    replies += [r[1] for r in (*tx.CHAT_REPLIES_RESOLVED, *tx.CHAT_REPLIES_OPEN)]
    n_replies = len(tx.CHAT_REPLIES_RESOLVED) + len(tx.CHAT_REPLIES_OPEN)
    visitor_line = _cat(_lookup(["访客：", "Visitor: "], lang), texts["text"])
    transcript = _when(
        missed,
        _cat(visitor_line, _lookup(["\n[系统] 访客已离开", "\n[system] visitor left before an agent joined"], lang)),
        _cat(visitor_line, _lookup(["\n客服：", "\nAgent: "], lang), _lookup(replies, lang * n_replies + reply_idx)),
    )
    # The pre-chat form asks for an e-mail or a mobile: a customer leaves one in at least one session (a few
    # never do); anonymous visitors never do. The widget records the app device or browser cookie.
    has_email = w.a["has_email"][who]
    contact = _once(rng, who) & ~anon & (rng.random(m) < 0.97)
    show_email = has_email & ~anon & (rng.random(m) < 0.6)
    show_phone = ~anon & ((rng.random(m) < np.where(show_email, 0.2, 0.55)) | (contact & ~show_email))
    device = _when(w.a["has_device1"][who], w.col("device1", who), w.col("cookie1", who))
    email = _placeholders(rng, _mess_email(rng, w.col("email", who), 0.15, 0.05), 0.005, [PLACEHOLDER_EMAIL])
    phone = _placeholders(
        rng, _fmt_phone(w.col("phone", who), _choice(rng, [40, 20, 10, 5, 15, 5, 5], m)), 0.005, ["000000"]
    )
    rating_good = _choice(rng, [1, 1, 8, 30, 60], m) + 1
    rating_bad = _choice(rng, [35, 30, 20, 10, 5], m) + 1
    rating = np.where(resolved, rating_good, rating_bad)
    frame = pl.DataFrame(
        {
            "id": _cat("cs_", _rand_str(rng, m, 20, "abcdefghijklmnopqrstuvwxyz0123456789")),
            "started_at": _cat(_fmt_ts(c["ts"], "%Y-%m-%dT%H:%M:%S"), "+08:00"),
            "name": _when(
                rng.random(m) < 0.4, _name_variants(rng, w.col("name", who), w.a["latin"][who], 0.05, 0.10), None
            ),
            "email": _when(show_email, email, None),
            "phone": _when(show_phone, phone, None),
            "device": _when(rng.random(m) < 0.92, device, None),
            "agent_id": _when(missed, None, ag.table["agent_id"].gather(agent)),
            "team": _when(missed, None, _lookup([t[0] for t in tx.TEAMS], team)),
            "first_reply_s": _when(
                missed,
                None,
                pl.Series(np.round(rng.lognormal(np.log(20.0), 0.8, m) * np.where(hot, 1.8, 1.0)).astype(np.int64)),
                dtype=pl.Int64,
            ),
            "duration_s": _when(
                missed, None, pl.Series(np.round(rng.lognormal(np.log(420.0), 0.6, m)).astype(np.int64)), dtype=pl.Int64
            ),
            "transcript": transcript,
            "resolved": pl.Series(resolved),
            "missed": pl.Series(missed),
            "disposition": _lookup(["Inquiry", "Complaint", "Suggestion", "Praise"], kind),
            "rating": _when(~missed & (rng.random(m) < 0.25), pl.Series(rating), None, dtype=pl.Int64),
        }
    )
    bad = _bad_rows(rng, m, 2)
    frame = frame.with_columns(
        id=_when(bad == 0, None, frame["id"]),
        email=_when(bad == 1, "foo@@bar", frame["email"]),
    )
    nested = frame.select(
        "id",
        "started_at",
        pl.struct(pl.col("name"), pl.col("email"), pl.col("phone"), pl.col("device")).alias("visitor"),
        pl.when(pl.col("agent_id").is_null())
        .then(None)
        .otherwise(pl.struct(pl.col("agent_id").alias("id"), pl.col("team")))
        .alias("agent"),
        "first_reply_s",
        "duration_s",
        "transcript",
        "resolved",
        "missed",
        "disposition",
        "rating",
    )
    return _Export("chat_sessions.ndjson", "chat", nested, "id", w.pid(who))


def _email(rng: np.random.Generator, w: _World) -> _Export:
    m = max(1, round(VOLUME["email"] * w.n))
    who = _draw(rng, w, m, w.a["has_email"])
    ts, day = _times(rng, w, who, HOURS_DIGITAL)
    tp, kind = _topics(rng, w, day, EMAIL_TP)
    c = _sort({"who": who, "ts": ts, "day": day, "tp": tp, "kind": kind})
    who, tp, kind, day = c["who"], c["tp"], c["kind"], c["day"]
    lang = _langs(rng, w, who)
    texts = _texts(rng, tp, kind, lang)
    subject = _fill(_lookup([s for k in tx.TOUCHPOINTS for s in tx.SUBJECTS[k]], tp * 2 + lang), texts)
    latin = w.a["latin"][who]
    display = _when(~latin & (rng.random(m) < 0.25), w.col("name_py", who), w.col("name", who))
    display = _when(rng.random(m) < 0.85, _name_variants(rng, display, latin, 0.04, 0.08), None)
    work = rng.random(m) < 0.03  # writes from a work address the CRM does not know
    address = _when(
        work,
        _cat(w.col("ascii_name", who), "@corp-", _int_str(rng.integers(1, 500, m)), ".example.com"),
        w.col("email", who),
    )
    greeting = _lookup(["您好，\n", "Hi,\n\n"], lang)
    closing = _lookup(["\n谢谢！\n", "\n\nThanks,\n"], lang)
    body = _cat(greeting, texts["text"], closing, display.fill_null(""))
    team = np.full(m, TEAM["email-desk"])
    team[np.isin(tp, [TP["billing"], TP["payment"]]) & (rng.random(m) < 0.6)] = TEAM["billing-desk"]
    team[(kind == KIND["complaint"]) & (rng.random(m) < 0.05)] = TEAM["escalation-desk"]
    agent = _assign_agents(rng, team)
    ag = _agents()
    answered = rng.random(m) >= 0.06
    frt = np.round(rng.lognormal(np.log(180.0), 1.0, m) * np.where(w.trouble[day], 1.7, 1.0), 1)
    resolved = answered & (rng.random(m) < _per_tp(RESOLVE_P, 0.75)[tp] + ag.resolve[agent])
    status = np.where(resolved, np.where(rng.random(m) < 0.3, 1, 0), np.where(answered, 3, 2))
    frame = pl.DataFrame(
        {
            "ticket_id": _seq_ids("TK-", m, 100_000 + int(rng.integers(0, 50_000)), 7),
            "received_at": _fmt_ts(c["ts"], "%d/%m/%Y %H:%M"),
            "from_name": display,
            "from_address": _mess_email(rng, address, 0.35, 0.12),
            # The agent asks a sender the CRM does not know for the customer number.
            "crm_ref": _when(rng.random(m) < np.where(work, 0.8, 0.25), w.col("crm_id", who), None),
            "subject": subject,
            "body": body,
            "assignee": ag.table["agent_id"].gather(agent),
            "team": _lookup([t[0] for t in tx.TEAMS], team),
            "first_response_min": _when(answered, pl.Series(frt), None, dtype=pl.Float64),
            "status": _lookup(["Solved", "Closed", "Open", "Pending"], status),
            "ticket_type": _lookup(["question", "problem", "feedback", "compliment"], kind),
        }
    )
    bad = _bad_rows(rng, m, 4)
    frame = frame.with_columns(
        ticket_id=_when(bad == 0, None, frame["ticket_id"]),
        received_at=_when(bad == 1, "31/02/2026 09:30", _when(bad == 2, "yesterday", frame["received_at"])),
        from_address=_when(bad == 3, frame["from_address"].str.replace("@", "@@"), frame["from_address"]),
    )
    return _Export("email_tickets.csv", "email", frame, "ticket_id", w.pid(who))


def _wechat(rng: np.random.Generator, w: _World) -> _Export:
    who, anon = _with_visitors(w, "wechat", _draw(rng, w, _customer_rows(w, "wechat"), w.a["has_wechat_id"]))
    m = len(who)
    ts, day = _times(rng, w, who, HOURS_DIGITAL)
    tp, kind = _topics(rng, w, day, WECHAT_TP)
    c = _sort({"who": who, "ts": ts, "tp": tp, "kind": kind, "anon": anon})
    who, tp, kind, anon = c["who"], c["tp"], c["kind"], c["anon"]
    lang = _langs(rng, w, who, zh_boost=0.1)
    texts = _texts(rng, tp, kind, lang)
    # Bound followers show their member card on every message. The others are known to the CRM by openid, or
    # the agent asks for their mobile in at least one conversation (most of them give it).
    bound = w.a["wechat_bound"][who]
    unknown = ~bound & ~w.a["wechat_in_crm"][who]
    typed = ~anon & ((rng.random(m) < 0.22) | (_once(rng, who) & unknown & (rng.random(m) < 0.9)))
    phone = _fmt_phone(w.col("phone", who), _choice(rng, [45, 20, 0, 0, 10, 0, 15, 10], m))
    phone = _placeholders(rng, phone, 0.03, ["000000", "N/A", PLACEHOLDER_PHONE])
    mention = typed & (rng.random(m) < 0.5)
    content = _when(
        mention, _cat(texts["text"], _lookup(["，我的手机号是", " my number is "], lang), phone), texts["text"]
    )
    agent = _assign_agents(rng, np.full(m, TEAM["online-care"]))
    frame = pl.DataFrame(
        {
            "msg_id": _int_str(7_300_000_000_000_000_000 + np.arange(m) * 1000 + rng.integers(0, 1000, m)),
            "openid": w.col("wechat_id", who),
            "nickname": w.col("nickname", who),
            "member_card": _when(bound, w.col("member_id", who), None),
            "create_time": pl.Series(c["ts"] * 1000 + rng.integers(0, 1000, m)),
            "msg_type": pl.repeat("text", m, eager=True),
            "content": content,
            "kf_account": _agents().table["agent_id"].gather(agent),
            "customer_phone": _when(typed, phone, None),
            "session_tag": _lookup(list(tx.ZH_KINDS), kind),
        }
    )
    bad = _bad_rows(rng, m, 2)
    frame = frame.with_columns(
        msg_id=_when(bad == 0, None, frame["msg_id"]),
        create_time=_when(bad == 1, None, frame["create_time"], dtype=pl.Int64),
    )
    return _Export("wechat_messages.csv", "wechat", frame, "msg_id", w.pid(who))


def _device_rows(rng: np.random.Generator, w: _World, channel: str, eligible: np.ndarray) -> dict[str, np.ndarray]:
    """App / web rows sorted by time: customers on their own devices, members' kiosk sessions (one or two each),
    the kiosk walk-ins of this channel and its anonymous visitors (`anon`: walk-ins and visitors)."""
    own = _draw(rng, w, _customer_rows(w, channel), eligible)
    k_events = rng.integers(1, 3, len(w.kiosk_users))
    walk = w.walk_in_web if channel == "web" else ~w.walk_in_web
    who = np.concatenate([own, np.repeat(w.kiosk_users, k_events), w.walk_in[walk], w.anon[channel]])
    n_own, n_kiosk = len(own), int(k_events.sum()) + int(walk.sum())
    at_kiosk = np.zeros(len(who), dtype=bool)
    at_kiosk[n_own : n_own + n_kiosk] = True
    kiosk_idx = np.zeros(len(who), dtype=np.int64)
    kiosk_idx[n_own : n_own + n_kiosk] = np.concatenate([np.repeat(w.kiosk_of, k_events), w.walk_in_kiosk[walk]])
    ts, day = _times(rng, w, who, HOURS_DIGITAL)
    rows = _sort({"who": who, "ts": ts, "day": day, "at_kiosk": at_kiosk, "kiosk": kiosk_idx})
    rows["anon"] = w.a["visitor"][rows["who"]]
    return rows


def _identified_once(rng: np.random.Generator, rows: dict[str, np.ndarray], second: np.ndarray) -> np.ndarray:
    """One row per (customer, own device or cookie) where the customer identifies, for 97 % of them."""
    key = np.where(rows["at_kiosk"] | rows["anon"], -1, rows["who"] * 2 + second)
    return _once(rng, key) & (key >= 0) & (rng.random(len(key)) < 0.97)


def _app(rng: np.random.Generator, w: _World) -> _Export:
    c = _device_rows(rng, w, "app", w.a["has_device1"])
    who, day, at_kiosk, anon = c["who"], c["day"], c["at_kiosk"], c["anon"]
    m = len(who)
    releases = np.array([0, int(w.days * 0.3), int(w.days * 0.6), w.days - BAD_RELEASE_DAYS])
    versions = ("5.0.3", "5.1.0", "5.1.4", "5.2.0")
    v = np.searchsorted(releases, day, side="right") - 1
    v = np.maximum(v - (rng.random(m) < 0.2), 0)
    event = _choice(rng, [72, 8, 6, 14], m)  # view, purchase, crash, feedback
    event = np.where((v == 3) & (event == 0) & (rng.random(m) < 0.08), 2, event)
    event = np.where(anon & (event == 1), 0, event)  # buying needs an account
    event = np.where(at_kiosk, np.where(rng.random(m) < 0.3, 1, 0), event)
    tp, kind = _topics(rng, w, day, APP_FEEDBACK_TP, kind_p=[5, 45, 35, 15])
    texts = _texts(rng, tp, kind, _langs(rng, w, who))
    second = w.a["has_device2"][who] & ~at_kiosk & (rng.random(m) < 0.35)
    device = _when(second, w.col("device2", who), w.col("device1", who))
    device = _when(at_kiosk, w.kiosks.gather(c["kiosk"]), device)
    # App users are members: each of their devices is signed in at least once (a few never are), a kiosk session
    # starts with a member-code scan; walk-ins and anonymous visitors have no member number.
    signed_in = (rng.random(m) < 0.75) | at_kiosk | _identified_once(rng, c, second)
    logged_in = w.a["has_member_id"][who] & signed_in
    screen = _lookup(APP_SCREENS, rng.integers(0, len(APP_SCREENS), m))
    frame = pl.DataFrame(
        {
            "event_id": _uuid(rng, m),
            "device_id": device,
            "member_id": _when(logged_in, w.col("member_id", who), None),
            "event_name": _lookup(["view", "purchase", "crash", "feedback"], event),
            "event_time": pl.from_epoch(
                pl.Series(c["ts"] * 1000 + rng.integers(0, 1000, m)), time_unit="ms"
            ).dt.replace_time_zone("UTC"),
            "screen": _when(event == 1, "order_success", _when(event == 3, "feedback", screen)),
            "app_version": _lookup(versions, v),
            "os": _when(at_kiosk, "Android", w.col("os", who)),
            "error_code": _when(event == 2, _cat("E", _rand_str(rng, m, 4, "0123456789ABCDEF")), None),
            "feedback_text": _when(event == 3, texts["text"], None),
            "order_no": _when(event == 1, texts["order"], None),
            "amount": _when(event == 1, texts["price"], None, dtype=pl.Float64),
        }
    )
    bad = _bad_rows(rng, m, 2)
    frame = frame.with_columns(
        event_id=_when(bad == 0, None, frame["event_id"]),
        event_time=_when(bad == 1, None, frame["event_time"], dtype=pl.Datetime("ms", "UTC")),
    )
    return _Export("app_events.parquet", "app", frame, "event_id", w.pid(who))


def _web(rng: np.random.Generator, w: _World) -> _Export:
    c = _device_rows(rng, w, "web", w.a["web"])
    who, day, at_kiosk, anon = c["who"], c["day"], c["at_kiosk"], c["anon"]
    m = len(who)
    has_email, has_member = w.a["has_email"][who], w.a["has_member_id"][who]
    event = _choice(rng, [78, 5, 7, 10], m)  # pageview, newsletter_signup, contact_form, order_complete
    event = np.where(~has_email & ((event == 1) | (event == 2)), 0, event)
    event = np.where(anon, 0, event)  # anonymous visitors only browse
    event = np.where(at_kiosk, np.where(rng.random(m) < 0.3, 3, 0), event)
    second = w.a["has_cookie2"][who] & ~at_kiosk & (rng.random(m) < 0.35)
    # Each browser of a customer is identified at least once (a few never are): members sign in, the others sign
    # up for the newsletter or check out as a guest (e-mail if they have one; guest orders carry the mobile).
    ident = _identified_once(rng, c, second)
    by_email = ident & ~has_member & has_email
    event = np.where(by_email & (event == 0), np.where(rng.random(m) < 0.5, 1, 3), event)
    event = np.where(ident & ~has_member & ~has_email, 3, event)
    member = has_member & ((rng.random(m) < np.where(event == 3, 0.6, 0.35)) | ident | at_kiosk)
    guest_order = (event == 3) & ~member
    show_email = (event == 1) | (event == 2) | (guest_order & has_email & ((rng.random(m) < 0.6) | by_email))
    email = _placeholders(rng, _mess_email(rng, w.col("email", who), 0.2, 0.05), 0.01, [PLACEHOLDER_EMAIL])
    cookie = _when(second, w.col("cookie2", who), w.col("cookie1", who))
    cookie = _when(at_kiosk, w.kiosks.gather(c["kiosk"]), cookie)
    tp, kind = _topics(rng, w, day, WEB_FORM_TP)
    texts = _texts(rng, tp, kind, _langs(rng, w, who))
    address = w.col("address", who)
    address_variant = _when(w.a["latin"][who], address.str.to_lowercase(), address.str.slice(3))
    address = _when(rng.random(m) < 0.25, address_variant, address)
    ship_mobile = _fmt_phone(w.col("phone", who), _choice(rng, [70, 0, 0, 0, 10, 10, 10], m))
    page = _lookup(WEB_PAGES, rng.integers(0, len(WEB_PAGES), m))
    url = _lookup([f"{SITE}{p}" for p in ("", "/newsletter/subscribe", "/support/contact", "/checkout/success")], event)
    url = _when(event == 0, _cat(SITE, page), url)
    frame = pl.DataFrame(
        {
            "event_id": _cat("w", _rand_str(rng, m, 16, "0123456789abcdef")),
            "cookie_id": cookie,
            "member_id": _when(member, w.col("member_id", who), None),
            "email": _when(show_email, email, None),
            "page_url": url,
            "ts": _fmt_ts(c["ts"], "%Y-%m-%dT%H:%M:%SZ", offset_s=0),
            "event_type": _lookup(["pageview", "newsletter_signup", "contact_form", "order_complete"], event),
            "message": _when(event == 2, texts["text"], None),
            "utm_campaign": _when(
                rng.random(m) < 0.12,
                _lookup(["brand_search", "newsletter", "wechat_menu", "weibo_ad"], rng.integers(0, 4, m)),
                None,
            ),
            "ship_name": _when(
                guest_order, _name_variants(rng, w.col("name", who), w.a["latin"][who], 0.04, 0.08), None
            ),
            "ship_address": _when(guest_order, address, None),
            "ship_postcode": _when(guest_order, w.col("postcode", who), None),
            "ship_mobile": _when(guest_order, ship_mobile, None),
        }
    )
    bad = _bad_rows(rng, m, 4)
    frame = frame.with_columns(
        event_id=_when(bad == 0, None, frame["event_id"]),
        ts=_when(bad == 1, "31/02/2026", _when(bad == 2, "yesterday", frame["ts"])),
        email=_when(bad == 3, "foo@@bar", frame["email"]),
    )
    return _Export("web_events.csv", "web", frame, "event_id", w.pid(who))


def _survey(rng: np.random.Generator, w: _World) -> _Export:
    m = max(1, round(VOLUME["survey"] * w.n))
    who = _draw(rng, w, m)
    ts, day = _times(rng, w, who, HOURS_DIGITAL)
    tp = _pick_tp(rng, SURVEY_TP, m)
    c = _sort({"who": who, "ts": ts, "day": day, "tp": tp})
    who, day, tp = c["who"], c["day"], c["tp"]
    late = day >= w.days - SHIPPING_TROUBLE_DAYS
    nov = w.trouble[day] & ~late
    s = (
        _per_tp(SURVEY_MU, 0.0)[tp]
        + 0.15 * day / w.days
        + w.a["sat_bias"][who]
        + rng.normal(0.0, 0.8, m)
        - 1.0 * ((tp == TP["shipping"]) & late)
        - 0.5 * ((tp == TP["shipping"]) & nov)
        - 0.5 * ((tp == TP["app_usage"]) & (day >= w.days - BAD_RELEASE_DAYS))
    )
    csat = np.clip(np.rint(3.7 + 0.9 * s + rng.normal(0, 0.3, m)), 1, 5).astype(np.int64)
    nps = np.clip(np.rint(7.3 + 2.0 * s + rng.normal(0, 0.6, m)), 0, 10).astype(np.int64)
    ces = np.clip(np.rint(5.0 + 1.1 * s + rng.normal(0, 0.4, m)), 1, 7).astype(np.int64)
    kind = np.where(csat <= 2, KIND["complaint"], np.where(csat == 3, KIND["suggestion"], KIND["praise"]))
    lang = _langs(rng, w, who)
    texts = _texts(rng, tp, kind, lang)
    by_email = w.a["has_email"][who] & (rng.random(m) < 0.5)
    mobile = _fmt_phone(w.col("phone", who), _choice(rng, [40, 15, 10, 10, 10, 10, 5], m))
    email = _mess_email(rng, w.col("email", who), 0.25, 0.10)
    placeholder = (rng.random(m) < 0.015) | _once(rng, by_email.astype(np.int64))  # each kind at least once
    mobile = _when(placeholder, _lookup([PLACEHOLDER_PHONE, "000000", "N/A"], rng.integers(0, 3, m)), mobile)
    email = _when(placeholder, _lookup([PLACEHOLDER_EMAIL, "N/A"], rng.integers(0, 2, m)), email)
    submitted = _when(rng.random(m) < 0.8, _fmt_ts(c["ts"], "%Y-%m-%d %H:%M:%S"), _fmt_ts(c["ts"], "%Y-%m-%d %H:%M"))
    frame = pl.DataFrame(
        {
            "response_id": _cat("R_", _rand_str(rng, m, 15, _ALNUM)),
            "contact_mobile": _when(by_email, None, mobile),
            "contact_email": _when(by_email, email, None),
            "submitted_at": submitted,
            "tp_key": _lookup(tx.TOUCHPOINTS, tp),
            "nps_score": _when(rng.random(m) < 0.07, None, pl.Series(nps), dtype=pl.Int64),
            "csat_score": _when(rng.random(m) < 0.09, None, pl.Series(csat), dtype=pl.Int64),
            "ces_score": _when(rng.random(m) < 0.35, None, pl.Series(ces), dtype=pl.Int64),
            "comment": _when(rng.random(m) < 0.55, texts["text"], None),
            "survey_channel": _when(
                by_email, "邮件", _lookup(["二维码", "短信", "App内"], _choice(rng, [50, 35, 15], m))
            ),
        }
    )
    bad = _bad_rows(rng, m, 7)
    frame = frame.with_columns(
        response_id=_when(bad == 0, None, frame["response_id"]),
        nps_score=_when(bad == 1, 11, _when(bad == 2, -1, frame["nps_score"], dtype=pl.Int64), dtype=pl.Int64),
        csat_score=_when(bad == 3, 0, frame["csat_score"], dtype=pl.Int64),
        submitted_at=_when(bad == 4, "31/02/2026", _when(bad == 5, "yesterday", frame["submitted_at"])),
        contact_email=_when(bad == 6, "foo@@bar", frame["contact_email"]),
    )
    return _Export("survey_responses.csv", "survey", frame, "response_id", w.pid(who))


def _social(rng: np.random.Generator, w: _World) -> _Export:
    who, _ = _with_visitors(w, "social", _draw(rng, w, _customer_rows(w, "social"), w.a["has_social_handle"]))
    m = len(who)
    ts, day = _times(rng, w, who, HOURS_DIGITAL)
    tp, kind = _topics(rng, w, day, SOCIAL_TP, kind_p=[15, 50, 10, 25])
    c = _sort({"who": who, "ts": ts, "tp": tp, "kind": kind})
    who = c["who"]
    lang = _langs(rng, w, who)
    texts = _texts(rng, c["tp"], c["kind"], lang)
    platform = np.where(lang == 1, np.where(rng.random(m) < 0.7, 3, 0), _choice(rng, [50, 30, 20], m))
    style = rng.integers(0, 3, m)
    text = _when(
        style == 0,
        _cat(_lookup([f"@{tx.BRAND_ZH}官方 ", f"@{tx.BRAND_EN}Global "], lang), texts["text"]),
        _when(style == 1, _cat(texts["text"], _lookup([f" #{tx.BRAND_ZH}#", f" #{tx.BRAND_EN}"], lang)), texts["text"]),
    )
    post_id = _int_str(4_900_000_000_000_000 + np.arange(m) * 7919 + rng.integers(0, 7919, m))
    platform_name = _lookup(["weibo", "xiaohongshu", "douyin", "x"], platform)
    utc = platform == 3  # X timestamps come in UTC, the Chinese platforms in +08:00
    posted = _when(
        utc,
        _cat(_fmt_ts(c["ts"], "%Y-%m-%dT%H:%M:%S", offset_s=0), "+00:00"),
        _cat(_fmt_ts(c["ts"], "%Y-%m-%dT%H:%M:%S"), "+08:00"),
    )
    frame = pl.DataFrame(
        {
            "post_id": post_id,
            "platform": platform_name,
            "handle": w.col("social_handle", who),
            "posted_at": posted,
            "content": text,
            "likes": pl.Series(rng.geometric(0.05, m) - 1),
            "reposts": pl.Series(rng.geometric(0.3, m) - 1),
            "url": _cat("https://", platform_name, ".example/p/", post_id),
        }
    )
    bad = _bad_rows(rng, m, 2)
    frame = frame.with_columns(
        post_id=_when(bad == 0, None, frame["post_id"]),
        posted_at=_when(bad == 1, "yesterday", frame["posted_at"]),
    )
    return _Export("social_posts.csv", "social", frame, "post_id", w.pid(who))


CHANNELS: Final[tuple[Callable[[np.random.Generator, _World], _Export], ...]] = (
    _crm,
    _hotline,
    _chat,
    _email,
    _wechat,
    _app,
    _web,
    _survey,
    _social,
)


# ----------------------------------------------------------------------------------------------- mapping files


def _toml_table(name: str, values: dict[str, str]) -> str:
    rows = "\n".join(f'"{k}" = "{v}"' for k, v in values.items())
    return f"[{name}]\n{rows}\n"


def mapping_texts() -> dict[str, str]:
    """The mapping TOML of every demo export, keyed by file stem (docs/source-mapping.md format)."""
    zh_kinds = _toml_table("values.kind", tx.ZH_KINDS)
    return {
        "crm_customers": """# CRM customer master: one row per customer; the record's time is when the customer was created.
# `Id` is the CRM row id (record_id), `customer_no` the customer number other systems may quote (crm_id).
source = "crm"
channel = "store"
files = ["../crm_customers*.csv"]
format = "csv"
timezone = "Asia/Shanghai"
phone_region = "CN"

[columns]
Id = "record_id"
customer_no = "crm_id"
member_no = "member_id"
cust_name = "name"
mobile = "phone"
email_addr = "email"
birthday = "birth_date"
addr = "address"
zip = "postcode"
created_time = "occurred_at"
wechat_openid = "wechat_id"
social_handle = "social_handle"

[formats]
occurred_at = ["%Y-%m-%d %H:%M:%S"]
birth_date = ["%Y-%m-%d", "%Y%m%d"]

[profile]
city = "city"
member_tier = "member_level"
""",
        "hotline_calls": f"""# Call-centre export. Local wall-clock time (Asia/Shanghai), caller numbers in many formats.
# Abandoned calls have no talk/hold/acw time, no agent and usually no resolution; repeat calls share case_no.
source = "hotline"
channel = "phone"
files = ["../hotline_calls*.csv"]
format = "csv"
timezone = "Asia/Shanghai"
phone_region = "CN"

[columns]
call_id = "record_id"
start_time = "occurred_at"
caller_number = "phone"
caller_name = "name"
call_direction = "direction"
skill_group = "team"
agent_no = "agent_id"
wait_seconds = "queue_wait_s"
is_abandoned = "abandoned"
is_resolved = "resolved"
case_no = "case_id"
category = "touchpoint"
request_type = "kind"
notes = "text"

[formats]
occurred_at = ["%Y/%m/%d %H:%M:%S"]

[sum]
handle_s = ["talk_seconds", "hold_seconds", "acw_seconds"]

[values.abandoned]
Y = true
N = false

[values.resolved]
Y = true
N = false

[values.direction]
"呼入" = "inbound"
"呼出" = "outbound"

{_toml_table("values.touchpoint", tx.HOTLINE_CATEGORIES)}
{zh_kinds}""",
        "chat_sessions": """# Web/app chat sessions (NDJSON, nested objects flattened with '.').
# started_at carries its own offset (+08:00). missed = the visitor left before an agent joined.
# rating is the post-chat satisfaction score (1-5).
source = "chat"
channel = "chat"
files = ["../chat_sessions*.ndjson"]
format = "ndjson"
timezone = "Asia/Shanghai"
phone_region = "CN"

[columns]
id = "record_id"
started_at = "occurred_at"
"visitor.name" = "name"
"visitor.email" = "email"
"visitor.phone" = "phone"
"visitor.device" = "device_id"
"agent.id" = "agent_id"
"agent.team" = "team"
first_reply_s = "first_response_s"
duration_s = "handle_s"
transcript = "text"
resolved = "resolved"
missed = "abandoned"
disposition = "kind"
rating = "csat"

[formats]
occurred_at = ["%Y-%m-%dT%H:%M:%S%z"]

[values.kind]
Inquiry = "inquiry"
Complaint = "complaint"
Suggestion = "suggestion"
Praise = "praise"

[constants]
direction = "inbound"
""",
        "email_tickets": """# Help-desk e-mail tickets. received_at is day-first local time (Asia/Shanghai).
# from_address is a bare address with random case and whitespace; the display name is in from_name.
# first_response_min is in MINUTES (scaled to seconds below); crm_ref is quoted on some tickets.
source = "email"
channel = "email"
files = ["../email_tickets*.csv"]
format = "csv"
timezone = "Asia/Shanghai"

[columns]
ticket_id = "record_id"
received_at = "occurred_at"
from_name = "name"
from_address = "email"
crm_ref = "crm_id"
body = "text"
assignee = "agent_id"
team = "team"
first_response_min = "first_response_s"
status = "resolved"
ticket_type = "kind"

[formats]
occurred_at = ["%d/%m/%Y %H:%M"]

[scale]
first_response_s = 60

[values.resolved]
Solved = true
Closed = true
Open = false
Pending = false

[values.kind]
question = "inquiry"
problem = "complaint"
feedback = "suggestion"
compliment = "praise"

[constants]
direction = "inbound"
""",
        "wechat_messages": f"""# WeChat customer-service messages. create_time is epoch MILLISECONDS (UTC).
# customer_phone is a number the customer typed (any format, sometimes full-width digits or junk).
# member_card is the member number of the card the follower bound to the service account (most members do).
# nickname is not a real name, so it is left unmapped (kept in `extra`).
source = "wechat"
channel = "wechat"
files = ["../wechat_messages*.csv"]
format = "csv"
timezone = "Asia/Shanghai"
phone_region = "CN"

[columns]
msg_id = "record_id"
openid = "wechat_id"
member_card = "member_id"
create_time = "occurred_at"
content = "text"
kf_account = "agent_id"
customer_phone = "phone"
session_tag = "kind"

[formats]
occurred_at = ["epoch_ms"]

{zh_kinds}
[constants]
team = "online-care"
direction = "inbound"
""",
        "app_events": """# Mobile-app events (Parquet). event_time is a typed UTC timestamp; member_id only when logged in.
# Kind: view -> visit, purchase -> purchase, crash -> complaint (error_code set), feedback -> suggestion.
source = "app"
channel = "app"
files = ["../app_events*.parquet"]
format = "parquet"
timezone = "UTC"

[columns]
event_id = "record_id"
device_id = "device_id"
member_id = "member_id"
event_time = "occurred_at"
event_name = "kind"
feedback_text = "text"

[values.kind]
view = "visit"
purchase = "purchase"
crash = "complaint"
feedback = "suggestion"
""",
        "web_events": """# Website events. ts is UTC in ISO form with a literal Z.
# cookie_id is the browser id; email comes from the newsletter/contact forms and guest checkout;
# guest checkouts carry the receiver's mobile and the shipping name/address/postcode (fuzzy-match material).
source = "web"
channel = "web"
files = ["../web_events*.csv"]
format = "csv"
timezone = "UTC"
phone_region = "CN"

[columns]
event_id = "record_id"
cookie_id = "device_id"
member_id = "member_id"
email = "email"
ts = "occurred_at"
event_type = "kind"
message = "text"
ship_name = "name"
ship_address = "address"
ship_postcode = "postcode"
ship_mobile = "phone"

[formats]
occurred_at = ["%Y-%m-%dT%H:%M:%SZ"]

[values.kind]
pageview = "visit"
newsletter_signup = "visit"
contact_form = "inquiry"
order_complete = "purchase"
""",
        "survey_responses": """# QR/SMS/e-mail surveys. submitted_at is local time, with or without seconds.
# Respondents leave a mobile OR an e-mail. tp_key is already a touchpoint key. CES: 1-7, 7 = very easy.
source = "survey"
channel = "survey"
files = ["../survey_responses*.csv"]
format = "csv"
timezone = "Asia/Shanghai"
phone_region = "CN"

[columns]
response_id = "record_id"
contact_mobile = "phone"
contact_email = "email"
submitted_at = "occurred_at"
tp_key = "touchpoint"
nps_score = "nps"
csat_score = "csat"
ces_score = "ces"
comment = "text"

[formats]
occurred_at = ["%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M"]

[constants]
kind = "survey"
direction = "inbound"
""",
        "social_posts": """# Public social-media posts mentioning the brand. posted_at carries its offset (+08:00, or +00:00 on X).
# Handles link to customers only through the CRM's social_handle column (account linking in the member centre);
# many posts come from people who are not customers.
source = "social"
channel = "social"
files = ["../social_posts*.csv"]
format = "csv"
timezone = "Asia/Shanghai"

[columns]
post_id = "record_id"
handle = "social_handle"
posted_at = "occurred_at"
content = "text"

[formats]
occurred_at = ["%Y-%m-%dT%H:%M:%S%z"]

[constants]
direction = "inbound"
""",
    }


# ----------------------------------------------------------------------------------------------- entry points


def _write(export: _Export, out: Path) -> None:
    path = out / export.file
    if export.file.endswith(".csv"):
        export.frame.write_csv(path)
    elif export.file.endswith(".ndjson"):
        export.frame.write_ndjson(path)
    else:
        export.frame.write_parquet(path, compression="zstd", statistics=False)


def generate(
    customers: int, seed: int, out: Path, *, start: date | None = None, days: int = DEFAULT_DAYS
) -> DemoManifest:
    """Write the demo exports, their mapping files, ground truth, agents and a manifest into `out`.

    The same (customers, seed, start, days) always gives byte-identical files.
    """
    if customers < 1:
        raise ValueError(f"customers must be at least 1, got {customers}")
    if days < 90:
        raise ValueError(f"days must be at least 90 (trend windows need history), got {days}")
    start = start or DEFAULT_START
    out = Path(out)
    (out / "mappings").mkdir(parents=True, exist_ok=True)
    seeds = np.random.SeedSequence(seed).spawn(len(CHANNELS) + 1)
    world = _world(np.random.default_rng(seeds[0]), customers, start, days)
    files: dict[str, int] = {}
    truth: list[pl.DataFrame] = []
    for make, child in zip(CHANNELS, seeds[1:], strict=True):
        export = make(np.random.default_rng(child), world)
        _write(export, out)
        files[export.file] = export.frame.height
        truth.append(
            pl.DataFrame(
                {
                    "source": pl.Series([export.source] * export.frame.height, dtype=pl.String),
                    "record_id": export.frame[export.record_id].cast(pl.String),
                    "person_id": export.person,
                }
            )
        )
    for stem, text in mapping_texts().items():
        (out / "mappings" / f"{stem}.toml").write_text(text, encoding="utf-8")
    pl.concat(truth).write_csv(out / "ground_truth.csv")
    _agents().table.write_csv(out / "agents.csv")
    total = sum(files.values())
    manifest = DemoManifest(out, seed, customers, start, days, files, total)
    (out / "manifest.json").write_text(
        json.dumps(
            {
                "generator": "etl.demo",
                "seed": seed,
                "customers": customers,
                "start": start.isoformat(),
                "days": days,
                "files": files,
                "interactions": total,
                "extra_files": {"ground_truth.csv": total, "agents.csv": _agents().table.height},
            },
            indent=2,
            ensure_ascii=False,
        )
        + "\n",
        encoding="utf-8",
    )
    return manifest


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text}")
    return value


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of `python -m etl demo`."""
    parser.add_argument(
        "--customers",
        type=_positive_int,
        default=DEFAULT_CUSTOMERS,
        help=f"number of customers (about 5 interactions each; default {DEFAULT_CUSTOMERS})",
    )
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED, help=f"random seed (default {DEFAULT_SEED})")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help=f"output folder (default {DEFAULT_OUT})")
    parser.add_argument(
        "--start",
        type=date.fromisoformat,
        default=DEFAULT_START,
        help=f"first day of the data, YYYY-MM-DD (default {DEFAULT_START.isoformat()})",
    )
    parser.add_argument("--days", type=int, default=DEFAULT_DAYS, help=f"days covered (default {DEFAULT_DAYS})")


def run(args: argparse.Namespace) -> int:
    """Generate the demo dataset and print what was written."""
    manifest = generate(args.customers, args.seed, Path(args.out), start=args.start, days=args.days)
    end = manifest.start + timedelta(days=manifest.days - 1)
    print(
        f"demo data: {manifest.customers:,} customers, seed {manifest.seed}, "
        f"{manifest.start.isoformat()} .. {end.isoformat()} -> {manifest.out}"
    )
    for name, rows in manifest.files.items():
        print(f"  {name:<24} {rows:>10,} rows")
    print(
        f"  {'total':<24} {manifest.interactions:>10,} interactions "
        f"({manifest.interactions / manifest.customers:.2f} per customer)"
    )
    print("  + mappings/*.toml, ground_truth.csv, agents.csv, manifest.json")
    return 0
