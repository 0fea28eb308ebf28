"""Tests of the demo data generator: determinism, ground truth, mapping files and the planted mess."""

from __future__ import annotations

import argparse
import hashlib
import re
import tomllib
from datetime import timedelta
from pathlib import Path

import phonenumbers
import polars as pl
import pytest
import yaml

from bench.identity_quality import pairwise, reachable, read_demo
from cx.schema import CANONICAL_FIELDS, CHANNELS, DIRECTIONS, KINDS, STRONG_IDENTIFIERS
from etl import demo
from etl.mapping import PROFILE_ATTRIBUTES

JOURNEY = Path(__file__).resolve().parents[2] / "cx" / "data" / "default_journey.yaml"
MAPPING_KEYS = {
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
CJK = re.compile(r"[\u4e00-\u9fff]")


@pytest.fixture(scope="module")
def dataset(tmp_path_factory: pytest.TempPathFactory) -> demo.DemoManifest:
    return demo.generate(2000, 7, tmp_path_factory.mktemp("demo"))


def journey_touchpoints() -> set[str]:
    journey = yaml.safe_load(JOURNEY.read_text(encoding="utf-8"))
    return {tp["key"] for stage in journey["stages"] for tp in stage["touchpoints"]}


def mappings(out: Path) -> dict[str, dict]:
    return {p.stem: tomllib.loads(p.read_text(encoding="utf-8")) for p in sorted((out / "mappings").glob("*.toml"))}


def read_export(mapping_dir: Path, mapping: dict) -> pl.DataFrame:
    """The export as the ETL sees it: all CSV columns as text, nested JSON flattened with '.'."""
    paths = sorted(p for pattern in mapping["files"] for p in mapping_dir.glob(pattern))
    assert len(paths) == 1, paths
    path = paths[0]
    if mapping["format"] == "csv":
        return pl.read_csv(path, infer_schema=False)
    if mapping["format"] == "ndjson":
        df = pl.read_ndjson(path)
        return df.unnest([c for c, t in df.schema.items() if isinstance(t, pl.Struct)], separator=".")
    return pl.read_parquet(path)


def record_id_column(mapping: dict) -> str:
    return next(col for col, field in mapping["columns"].items() if field == "record_id")


def digest(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def national(phone: pl.Expr) -> pl.Expr:
    """Digits only (full-width digits too), country code dropped: enough to compare CN mobiles in tests."""
    digits = phone.str.normalize("NFKC").str.replace_all(r"\D", "")
    return digits.str.replace(r"^(0086|86)(1\d{10})$", "$2")


def test_same_seed_gives_byte_identical_files_and_another_seed_differs(tmp_path: Path) -> None:
    demo.generate(300, 11, tmp_path / "a")
    demo.generate(300, 11, tmp_path / "b")
    demo.generate(300, 12, tmp_path / "c")
    a, b, c = digest(tmp_path / "a"), digest(tmp_path / "b"), digest(tmp_path / "c")
    assert len(a) == len(demo.FILES) + len(demo.FILES) + 3  # exports, mappings, truth/agents/manifest
    assert a == b
    changed = {name for name in a if a[name] != c[name]}
    assert set(demo.FILES) <= changed


def test_manifest_counts_match_files(dataset: demo.DemoManifest) -> None:
    out = dataset.out
    assert list(dataset.files) == list(demo.FILES)
    for stem, mapping in mappings(out).items():
        file = next(f for f in demo.FILES if f.startswith(stem + "."))
        assert read_export(out / "mappings", mapping).height == dataset.files[file]
    assert dataset.interactions == sum(dataset.files.values())
    assert pl.read_csv(out / "agents.csv")["department"].unique().sort().to_list() == [
        "delivery",
        "executive",
        "it",
        "marketing",
        "product",
        "service",
    ]


def test_ground_truth_covers_every_record_exactly_once(dataset: demo.DemoManifest) -> None:
    out = dataset.out
    truth = pl.read_csv(out / "ground_truth.csv", infer_schema=False)
    assert truth.columns == ["source", "record_id", "person_id"]
    assert truth.height == dataset.interactions
    assert truth["person_id"].null_count() == 0
    for mapping in mappings(out).values():
        rows = read_export(out / "mappings", mapping)
        ids = rows[record_id_column(mapping)].cast(pl.String)
        expected = truth.filter(pl.col("source") == mapping["source"])
        assert expected.height == rows.height, mapping["source"]
        # Rows with an empty record id (planted bad rows) appear in the truth with an empty id, in file order.
        assert expected["record_id"].null_count() == ids.null_count()
        assert ids.null_count() > 0 or mapping["source"] == "crm"
        assert expected["record_id"].to_list() == ids.to_list()
        present = ids.drop_nulls()
        assert present.n_unique() == present.len(), f"duplicate record ids in {mapping['source']}"
        joined = pl.DataFrame({"record_id": present}).join(expected, on="record_id", how="left")
        assert joined["person_id"].null_count() == 0
    crm = truth.filter(pl.col("source") == "crm")
    assert crm["person_id"].n_unique() == crm.height == dataset.customers


def test_mapping_files_name_existing_columns_and_canonical_fields(dataset: demo.DemoManifest) -> None:
    touchpoints = journey_touchpoints()
    found = mappings(dataset.out)
    assert set(found) == {f.split(".")[0] for f in demo.FILES}
    for stem, mapping in found.items():
        assert set(mapping) <= MAPPING_KEYS, stem
        assert mapping["channel"] in CHANNELS
        columns = set(read_export(dataset.out / "mappings", mapping).columns)
        assert set(mapping["columns"]) <= columns, (stem, set(mapping["columns"]) - columns)
        fields = list(mapping["columns"].values()) + list(mapping.get("sum", {}))
        assert len(fields) == len(set(fields)), f"{stem}: a canonical field is mapped twice"
        assert set(fields) <= set(CANONICAL_FIELDS), stem
        assert {"record_id", "occurred_at"} <= set(fields) | set(mapping.get("constants", {}))
        for section in ("formats", "sum", "scale", "values", "constants"):
            assert set(mapping.get(section, {})) <= set(CANONICAL_FIELDS), (stem, section)
        for sources in mapping.get("sum", {}).values():
            assert set(sources) <= columns
        profile = mapping.get("profile", {})
        assert set(profile) <= set(PROFILE_ATTRIBUTES) and set(profile.values()) <= columns, stem
        values = mapping.get("values", {})
        assert set(values.get("touchpoint", {}).values()) <= touchpoints
        assert set(values.get("kind", {}).values()) <= set(KINDS)
        assert set(values.get("direction", {}).values()) <= set(DIRECTIONS)
        constants = mapping.get("constants", {})
        assert constants.get("kind", "survey") in KINDS
        assert constants.get("direction", "inbound") in DIRECTIONS
        assert set(mapping.get("identifiers", {}).get("strong", [])) <= set(STRONG_IDENTIFIERS)


def test_every_mapped_source_value_is_covered_by_its_value_map(dataset: demo.DemoManifest) -> None:
    touchpoints = journey_touchpoints()
    for stem, mapping in mappings(dataset.out).items():
        rows = read_export(dataset.out / "mappings", mapping)
        value_maps = mapping.get("values", {})
        for column, field in mapping["columns"].items():
            if field in value_maps:
                allowed = set(value_maps[field])
            elif field == "touchpoint":
                allowed = touchpoints  # the export already carries touchpoint keys
            elif field == "kind":
                allowed = set(KINDS)
            else:
                continue
            seen = set(rows[column].drop_nulls().cast(pl.String).unique().to_list())
            assert seen <= allowed, (stem, column, seen - allowed)


def test_volume_is_about_five_interactions_per_customer(dataset: demo.DemoManifest) -> None:
    assert 4.5 <= dataset.interactions / dataset.customers <= 5.5
    assert all(rows > 0 for rows in dataset.files.values())


def test_phone_mess_and_validity(dataset: demo.DemoManifest) -> None:
    out = dataset.out
    calls = pl.read_csv(out / "hotline_calls.csv", infer_schema=False)["caller_number"]
    styles = {
        "plain": r"^1\d{10}$",
        "spaced": r"^1\d{2} \d{4} \d{4}$",
        "intl_dash": r"^\+86-1\d{2}-\d{4}-\d{4}$",
        "0086": r"^00861\d{10}$",
        "intl_space": r"^\+86 1\d{2} \d{4} \d{4}$",
        "plus": r"^\+861\d{10}$",
    }
    assert all(calls.str.contains(pattern).sum() > 10 for pattern in styles.values())
    assert (calls == demo.PLACEHOLDER_PHONE).sum() > 0
    typed = pl.read_csv(out / "wechat_messages.csv", infer_schema=False)["customer_phone"].drop_nulls()
    assert typed.str.contains("[０-９]").sum() > 0  # full-width digits
    assert typed.is_in(["000000", "N/A"]).sum() > 0
    mobiles = pl.read_csv(out / "crm_customers.csv", infer_schema=False)["mobile"].to_list()
    assert all(phonenumbers.is_valid_number(phonenumbers.parse(m, "CN")) for m in mobiles)


def test_email_mess(dataset: demo.DemoManifest) -> None:
    out = dataset.out
    crm = pl.read_csv(out / "crm_customers.csv", infer_schema=False)
    tickets = pl.read_csv(out / "email_tickets.csv", infer_schema=False)["from_address"]
    assert tickets.str.contains("[A-Z]").sum() > 0.1 * tickets.len()
    assert (tickets != tickets.str.strip_chars()).sum() > 0
    clean = tickets.str.strip_chars().str.to_lowercase()
    known = clean.is_in(crm["email_addr"].drop_nulls().str.to_lowercase().implode())
    assert 0.85 < known.mean() < 1.0  # a few tickets come from addresses the CRM does not know, or are malformed
    assert tickets.str.contains("@@").sum() > 0
    survey = pl.read_csv(out / "survey_responses.csv", infer_schema=False)
    assert survey["contact_email"].is_in([demo.PLACEHOLDER_EMAIL, "N/A"]).sum() > 0
    assert survey["contact_mobile"].is_in([demo.PLACEHOLDER_PHONE, "000000", "N/A"]).sum() > 0


def test_family_phone_is_shared_by_two_different_customers(dataset: demo.DemoManifest) -> None:
    crm = pl.read_csv(dataset.out / "crm_customers.csv", infer_schema=False)
    shared = (
        crm.with_columns(national(pl.col("mobile")).alias("n"))
        .group_by("n")
        .agg(
            pl.len(), pl.col("customer_no").n_unique().alias("crm_ids"), pl.col("email_addr").n_unique().alias("mails")
        )
        .filter(pl.col("len") > 1)
    )
    assert shared.height >= 5
    assert (shared["len"] == 2).all() and (shared["crm_ids"] == 2).all() and (shared["mails"] == 2).all()
    truth = pl.read_csv(dataset.out / "ground_truth.csv", infer_schema=False)
    calls = pl.read_csv(dataset.out / "hotline_calls.csv", infer_schema=False).with_columns(
        national(pl.col("caller_number")).alias("n")
    )
    callers = (
        calls.join(truth.filter(pl.col("source") == "hotline"), left_on="call_id", right_on="record_id")
        .filter(pl.col("n").is_in(shared["n"].implode()))
        .group_by("n")
        .agg(pl.col("person_id").n_unique())
    )
    assert (callers["person_id"] == 2).any()  # both family members call from the one phone


def test_kiosk_device_is_used_by_many_customers(dataset: demo.DemoManifest) -> None:
    truth = pl.read_csv(dataset.out / "ground_truth.csv", infer_schema=False)
    app = pl.read_parquet(dataset.out / "app_events.parquet").select(
        pl.col("event_id").alias("record_id"), pl.col("device_id")
    )
    web = pl.read_csv(dataset.out / "web_events.csv", infer_schema=False).select(
        pl.col("event_id").alias("record_id"), pl.col("cookie_id").alias("device_id")
    )
    users = (
        pl.concat([app, web])
        .drop_nulls("record_id")
        .join(truth, on="record_id")
        .group_by("device_id")
        .agg(pl.col("person_id").n_unique().alias("people"), pl.col("source").n_unique().alias("sources"))
    )
    kiosk = users.sort("people", descending=True).row(0, named=True)
    assert kiosk["people"] >= 50 and kiosk["sources"] == 2
    assert users.filter(pl.col("people") > 1).height <= 3  # only kiosks are shared


def test_nearly_every_customer_record_is_linkable_and_the_traps_remain(dataset: demo.DemoManifest) -> None:
    records, truth = read_demo(dataset.out)
    # The perfect identifier-only resolver (each person's records joined through shared values) finds nearly every
    # true pair, but not all: a few records of customers stay unlinkable on purpose.
    ceiling = pairwise(reachable(records, truth).rename({"person_id": "profile_id"}), truth)["recall"]
    assert 0.98 <= ceiling < 1.0
    frame = records.join(truth, on="interaction_id")
    is_visitor = pl.col("person_id").str.starts_with("V")
    visitors, customers = frame.filter(is_visitor), frame.filter(~is_visitor)
    assert customers.get_column("person_id").n_unique() == dataset.customers
    # Anonymous one-off visitors: a few percent of the records, one channel each, never a contact or CRM number,
    # and nothing they carry is seen on a customer's record except the store-kiosk devices.
    assert 0.02 <= visitors.height / frame.height <= 0.06
    assert visitors.group_by("person_id").agg(pl.col("source").n_unique())["source"].max() == 1
    assert visitors.select("phone", "email", "crm_id", "member_id").null_count().row(0) == (visitors.height,) * 4
    for column, allowed in (
        ("device_id", dataset.customers // 50_000 + 1),
        ("wechat_id", 0),
        ("social_handle", 0),
    ):
        theirs = visitors.select(column).drop_nulls().unique()
        assert theirs.join(customers.select(column).drop_nulls().unique(), on=column).height <= allowed, column
    # The over-merge traps: family phones (two CRM customers, two crm ids), a kiosk device used by 50+ people,
    # a placeholder phone and e-mail given by several people, callers' names with typos or swapped parts.
    crm = customers.filter(pl.col("source") == "crm")
    family = crm.group_by("phone").agg(pl.col("crm_id").n_unique().alias("crm_ids"), pl.col("person_id").n_unique())
    assert family.filter((pl.col("crm_ids") == 2) & (pl.col("person_id") == 2)).height >= 5
    people_per_device = frame.drop_nulls("device_id").group_by("device_id").agg(pl.col("person_id").n_unique())
    assert people_per_device["person_id"].max() >= 50
    for column, placeholder in (("phone", "+86" + demo.PLACEHOLDER_PHONE), ("email", demo.PLACEHOLDER_EMAIL)):
        assert frame.filter(pl.col(column) == placeholder)["person_id"].n_unique() >= 2, column
    crm_names = crm.select("person_id", pl.col("name").alias("crm_name"))
    named = (
        customers.filter(pl.col("source").is_in(["hotline", "chat"])).drop_nulls("name").join(crm_names, on="person_id")
    )
    assert 0.02 * named.height < named.filter(pl.col("name") != pl.col("crm_name")).height < 0.2 * named.height


def test_texts_come_in_both_languages_with_recurring_questions(dataset: demo.DemoManifest) -> None:
    out = dataset.out
    texts = pl.concat(
        [
            pl.read_csv(out / "wechat_messages.csv", infer_schema=False)["content"],
            pl.read_csv(out / "survey_responses.csv", infer_schema=False)["comment"],
            pl.read_csv(out / "social_posts.csv", infer_schema=False)["content"],
            pl.read_ndjson(out / "chat_sessions.ndjson")["transcript"],
        ]
    ).drop_nulls()
    zh_share = texts.str.contains(CJK.pattern).mean()
    assert 0.5 < zh_share < 0.85
    notes = pl.read_csv(out / "hotline_calls.csv", infer_schema=False)["notes"]
    for question in ("如何修改收货地址", "怎么改收货地址？", "How do I change my delivery address?"):
        assert notes.str.contains(question, literal=True).sum() >= 2


def test_bad_rows_for_quarantine_are_planted(dataset: demo.DemoManifest) -> None:
    survey = pl.read_csv(dataset.out / "survey_responses.csv", infer_schema=False)
    assert set(survey["nps_score"].drop_nulls().to_list()) >= {"11", "-1"}
    assert "0" in survey["csat_score"].to_list()
    assert set(survey["submitted_at"].to_list()) >= {"31/02/2026", "yesterday"}
    assert "foo@@bar" in survey["contact_email"].to_list()
    calls = pl.read_csv(dataset.out / "hotline_calls.csv", infer_schema=False)
    assert set(calls["start_time"].to_list()) >= {"31/02/2026 10:00:00", "yesterday"}
    web = pl.read_csv(dataset.out / "web_events.csv", infer_schema=False)
    assert set(web["ts"].to_list()) >= {"31/02/2026", "yesterday"} and "foo@@bar" in web["email"].to_list()
    chat = pl.read_ndjson(dataset.out / "chat_sessions.ndjson").unnest("visitor", separator=".")
    assert "foo@@bar" in chat["visitor.email"].to_list()
    out_of_range = survey.filter(pl.col("nps_score").is_in(["11", "-1"]) | (pl.col("csat_score") == "0")).height
    assert 3 <= out_of_range <= max(10, 0.01 * survey.height)  # a few, not a flood


def test_survey_shipping_csat_drops_in_the_last_60_days(dataset: demo.DemoManifest) -> None:
    survey = pl.read_csv(dataset.out / "survey_responses.csv", infer_schema=False).with_columns(
        pl.col("submitted_at").str.slice(0, 10).str.to_date(strict=False).alias("day"),
        pl.col("csat_score").cast(pl.Int64, strict=False).alias("csat"),
    )
    cutoff = dataset.start + timedelta(days=dataset.days - demo.SHIPPING_TROUBLE_DAYS)
    shipping = survey.filter((pl.col("tp_key") == "shipping") & pl.col("csat").is_between(1, 5))
    late = shipping.filter(pl.col("day") >= cutoff)["csat"].mean()
    before = shipping.filter(pl.col("day") < cutoff)["csat"].mean()
    assert late is not None and before is not None and late < before - 0.3


def test_cli_arguments_and_summary(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    parser = argparse.ArgumentParser()
    demo.add_arguments(parser)
    defaults = parser.parse_args([])
    assert (defaults.customers, defaults.seed, defaults.out) == (2000, 7, Path("data/demo"))
    args = parser.parse_args(["--customers", "40", "--seed", "3", "--out", str(tmp_path / "d")])
    assert demo.run(args) == 0
    printed = capsys.readouterr().out
    assert "hotline_calls.csv" in printed and "per customer" in printed
    assert (tmp_path / "d" / "manifest.json").exists()
    with pytest.raises(SystemExit):
        parser.parse_args(["--customers", "0"])
