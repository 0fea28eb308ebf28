"""The mapping file model: a good file parses; a bad one reports every problem at once."""

from __future__ import annotations

import textwrap
import tomllib
from pathlib import Path

import pytest

from etl.mapping import MappingError, canonical_mapping, load_mapping, parse_mapping
from tests.etl.conftest import HOTLINE_MAPPING

DOC = Path(__file__).resolve().parents[2] / "docs" / "source-mapping.md"


def test_the_documented_example_parses() -> None:
    text = DOC.read_text(encoding="utf-8")
    example = text.split("```toml", 1)[1].split("```", 1)[0]
    mapping = parse_mapping(tomllib.loads(example), origin="docs")
    assert mapping.source == "hotline" and mapping.channel == "phone"
    assert mapping.columns["call_id"] == "record_id"
    assert mapping.sums["handle_s"] == ("talk_seconds", "hold_seconds", "acw_seconds")
    assert mapping.scale == {"first_response_s": 60.0}
    assert mapping.values["abandoned"] == {"Y": True, "N": False}
    assert mapping.constants == {"direction": "inbound", "kind": "inquiry"}
    assert mapping.strong_identifiers == ("phone", "crm_id")
    assert mapping.formats["occurred_at"] == ("%Y/%m/%d %H:%M:%S", "%Y-%m-%d %H:%M")


def test_mapping_file_resolves_its_globs(tmp_path: Path) -> None:
    (tmp_path / "m").mkdir()
    (tmp_path / "m" / "hotline.toml").write_text(HOTLINE_MAPPING.replace('"calls*.csv"', '"../calls*.csv"'), "utf-8")
    for name in ("calls_2.csv", "calls_1.csv", "other.csv"):
        (tmp_path / name).write_text("x\n", "utf-8")
    mapping = load_mapping(tmp_path / "m" / "hotline.toml")
    assert [p.name for p in mapping.resolve_files()] == ["calls_1.csv", "calls_2.csv"]
    assert mapping.strong_identifiers == ("phone", "email")


def test_every_problem_is_reported_together() -> None:
    bad = textwrap.dedent(
        """
        source = "bad name!"
        channel = "fax"
        format = "xml"
        timezone = "Mars/Olympus"
        phone_region = "XX"
        delimiter = ";;"
        colour = "red"
        [columns]
        a = "record_id"
        b = "no_such_field"
        c = "record_id"
        [scale]
        queue_wait_s = 0
        [formats]
        occurred_at = ["yesterday"]
        [identifiers]
        strong = ["name"]
        """
    )
    with pytest.raises(MappingError) as caught:
        parse_mapping(tomllib.loads(bad), origin="bad.toml")
    problems = caught.value.problems
    text = str(caught.value)
    assert "bad.toml" in text
    expected = [
        "unknown keys ['colour']",
        "source is required",
        "'no_such_field' is not a canonical field",
        "both map to 'record_id'",
        "[scale] queue_wait_s must be a non-zero number",
        "'yesterday' is not a strptime format",
        "'name' is not a strong identifier",
        "channel 'fax' is not one of",
        "format 'xml' is not one of",
        "files is required",
        "timezone 'Mars/Olympus'",
        "phone_region 'XX'",
        "delimiter must be one character",
        "required fields not mapped: occurred_at",
    ]
    for fragment in expected:
        assert any(fragment in p for p in problems), (fragment, problems)


def test_sql_source_needs_url_and_one_of_table_or_query() -> None:
    with pytest.raises(MappingError) as caught:
        parse_mapping({"source": "crm", "channel": "store", "table": "t", "query": "select 1", "columns": {}})
    text = str(caught.value)
    assert "needs url" in text and "exactly one of table" in text and "required fields not mapped" in text
    ok = parse_mapping(
        {
            "source": "crm",
            "channel": "store",
            "url": "sqlite:///x.db",
            "table": "t",
            "columns": {"id": "record_id", "t": "occurred_at"},
        }
    )
    assert ok.format == "sql" and ok.files == ()


def test_channel_from_a_column_instead_of_the_key() -> None:
    mapping = parse_mapping(
        {"source": "mixed", "files": ["*.csv"], "columns": {"id": "record_id", "t": "occurred_at", "ch": "channel"}}
    )
    assert mapping.channel is None
    with pytest.raises(MappingError, match="channel is required"):
        parse_mapping({"source": "mixed", "files": ["*.csv"], "columns": {"id": "record_id", "t": "occurred_at"}})


def test_canonical_file_needs_record_id_occurred_at_and_a_channel(tmp_path: Path) -> None:
    path = tmp_path / "kiosk_visits.csv"
    mapping = canonical_mapping(path, ["record_id", "occurred_at", "phone", "note"], channel="store")
    assert mapping.source == "kiosk_visits" and mapping.canonical
    assert mapping.columns == {"record_id": "record_id", "occurred_at": "occurred_at", "phone": "phone"}
    with pytest.raises(MappingError) as caught:
        canonical_mapping(path, ["id", "phone"])
    assert "record_id, occurred_at are missing" in str(caught.value) and "--channel" in str(caught.value)


def test_missing_and_broken_mapping_files(tmp_path: Path) -> None:
    with pytest.raises(MappingError, match="does not exist"):
        load_mapping(tmp_path / "nope.toml")
    broken = tmp_path / "broken.toml"
    broken.write_text("source = ", "utf-8")
    with pytest.raises(MappingError, match="not valid TOML"):
        load_mapping(broken)
