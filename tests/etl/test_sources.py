"""Reading every input format lazily with line numbers, flattening JSON, discovering what a folder holds."""

from __future__ import annotations

import json
import sqlite3
from datetime import UTC, datetime
from pathlib import Path

import polars as pl
import pytest

from cx.errors import EtlError
from etl import sources, validate
from etl.mapping import parse_mapping

COLUMNS = {"id": "record_id", "t": "occurred_at", "visitor.phone": "phone", "visitor.name": "name"}


def _mapping(fmt: str, **extra: object) -> object:
    return parse_mapping({"source": "s", "channel": "chat", "files": ["*"], "format": fmt, "columns": COLUMNS, **extra})


def _good_and_bad(lf: pl.LazyFrame, mapping: object) -> tuple[pl.DataFrame, pl.DataFrame]:
    lf = lf.with_columns(pl.lit("f").alias("_file"), pl.lit(0, dtype=pl.Int32).alias("_order"))
    good, bad = validate.validate(sources.apply_mapping(lf, mapping), mapping, timezone="UTC", region="CN")  # type: ignore[arg-type]
    return good.collect(), bad.collect()


def test_ndjson_nested_objects_are_flattened_and_lines_counted(tmp_path: Path) -> None:
    path = tmp_path / "chat.ndjson"
    rows = [
        {
            "id": "a",
            "t": "2026-03-05T10:00:00+08:00",
            "visitor": {"phone": "13800138000", "name": "王伟"},
            "tags": ["x", "y"],
        },
        {"id": None, "t": "2026-03-05T11:00:00+08:00", "visitor": {"phone": None, "name": None}, "tags": []},
    ]
    path.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows) + "\n", "utf-8")
    mapping = _mapping("ndjson")
    raw = sources.scan_raw(path, "ndjson", mapping)  # type: ignore[arg-type]
    assert {"_raw:visitor.phone", "_raw:visitor.name", "_raw:tags", "_line"} <= set(raw.collect_schema().names())
    good, bad = _good_and_bad(raw, mapping)
    assert good.row(0, named=True)["phone"] == "+8613800138000"
    assert good.row(0, named=True)["occurred_at"] == datetime(2026, 3, 5, 2, 0, tzinfo=UTC)
    assert json.loads(good.row(0, named=True)["extra"]) == {"tags": '["x","y"]'}
    assert bad.row(0, named=True)["line"] == 2 and bad.row(0, named=True)["rule"] == "required"


def test_json_parquet_and_excel(tmp_path: Path) -> None:
    frame = pl.DataFrame(
        {"id": ["a", "b"], "t": ["2026-03-05 10:00:00", "bad"], "visitor.phone": ["13800138000", None]}
    )
    frame.write_parquet(tmp_path / "x.parquet")
    frame.write_excel(tmp_path / "x.xlsx")
    (tmp_path / "x.json").write_text(json.dumps(frame.to_dicts()), "utf-8")
    for fmt, name, first_line in (("parquet", "x.parquet", 1), ("excel", "x.xlsx", 2), ("json", "x.json", 1)):
        mapping = _mapping(fmt)
        good, bad = _good_and_bad(sources.scan_raw(tmp_path / name, fmt, mapping), mapping)  # type: ignore[arg-type]
        assert good.get_column("record_id").to_list() == ["a"], fmt
        assert bad.get_column("line").to_list() == [first_line + 1], fmt
        assert bad.get_column("rule").to_list() == ["datetime"], fmt


def test_sql_table_source(tmp_path: Path) -> None:
    database = tmp_path / "crm.db"
    with sqlite3.connect(database) as connection:
        connection.execute("CREATE TABLE calls (id TEXT, t TEXT, phone TEXT)")
        connection.execute("INSERT INTO calls VALUES ('a', '2026-03-05 10:00:00', '13800138000')")
    mapping = parse_mapping(
        {
            "source": "crm",
            "channel": "phone",
            "url": f"sqlite:///{database}",
            "table": "calls",
            "columns": {"id": "record_id", "t": "occurred_at", "phone": "phone"},
        }
    )
    item = sources.SourceInput(mapping, None, sources.sql_key(mapping))
    assert item.format == "sql" and item.key.endswith("crm.db#calls")
    good, bad = _good_and_bad(sources.scan_input(item), mapping)
    assert good.get_column("interaction_id").to_list() == ["crm:a"] and bad.is_empty()
    broken = parse_mapping(
        {**{"source": "crm", "channel": "phone", "url": "sqlite:///nope/x.db", "table": "t"}, "columns": COLUMNS}
    )
    with pytest.raises(EtlError, match="cannot read the source table"):
        sources.read_sql(broken)  # type: ignore[arg-type]


def test_discovery_of_a_folder(export_dir: Path) -> None:
    (export_dir / "kiosk.csv").write_text("record_id,occurred_at,channel\nk1,2026-03-05 10:00:00,store\n", "utf-8")
    (export_dir / "agents.csv").write_text("agent_id,name,team,department\nA1,张三,hotline,service\n", "utf-8")
    (export_dir / "notes.csv").write_text("a,b\n1,2\n", "utf-8")
    found = sources.discover([export_dir])
    assert sorted((i.mapping.source, Path(i.key).name) for i in found.inputs) == [
        ("hotline", "calls_1.csv"),
        ("kiosk", "kiosk.csv"),
    ]
    assert [p.name for p in found.agent_files] == ["agents.csv"]
    assert [(Path(p).name, "record_id, occurred_at are missing" in why) for p, why in found.skipped] == [
        ("notes.csv", True)
    ]
    with pytest.raises(Exception, match="cannot be loaded as canonical"):
        sources.discover([export_dir / "notes.csv"])
    with pytest.raises(EtlError, match="does not exist"):
        sources.discover([export_dir / "missing"])


def test_a_mapping_given_on_the_command_line_takes_the_paths(export_dir: Path, tmp_path: Path) -> None:
    other = tmp_path / "elsewhere.csv"
    other.write_text((export_dir / "calls_1.csv").read_text("utf-8"), "utf-8")
    found = sources.discover([other], mapping_file=export_dir / "hotline.toml")
    assert [Path(i.key).name for i in found.inputs] == ["elsewhere.csv"]
    assert [Path(i.key).name for i in sources.discover([], mapping_file=export_dir / "hotline.toml").inputs] == [
        "calls_1.csv"
    ]
