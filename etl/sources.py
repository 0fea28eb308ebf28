"""Reading channel exports lazily with polars (CSV, NDJSON/JSON, Parquet, Excel, SQL) and applying their mapping.

Every frame read here keeps each source column as ``_raw:<column>`` (so the raw row can be quarantined as it was
read), plus ``_line``: the row's number as a spreadsheet or editor shows it (CSV/Excel: the header is row 1, so
the first data row is 2; NDJSON: the line; Parquet/JSON/SQL: the 1-based row). CSV rows with more fields than the
header are kept with ``_overflow`` set (validation quarantines them); nothing is skipped or truncated silently.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import polars as pl
from sqlalchemy import MetaData, Table, create_engine, select, text
from sqlalchemy.engine import make_url

from cx.errors import EtlError, SchemaDriftError
from etl.mapping import (
    MAPPABLE_FIELDS,
    SUFFIX_FORMATS,
    MappingError,
    SourceMapping,
    canonical_mapping,
    load_mapping,
)

RAW: Final = "_raw:"
LINE: Final = "_line"
OVERFLOW: Final = "_overflow"
#: Prefix of the column naming the inputs of a [sum] that are not numbers (empty text when all are).
SUM_ERRORS: Final = "_sumerr:"
#: Columns of a reference file of agents (loaded into `agents`, not `interactions`).
AGENT_COLUMNS: Final = ("agent_id", "name", "team", "department")
_HASH_CHUNK: Final = 1 << 20


@dataclass(frozen=True)
class SourceInput:
    """One file (or SQL table/query) to read with its mapping; ``key`` identifies it in ``source_files``."""

    mapping: SourceMapping
    path: Path | None
    key: str
    mtime: float = 0.0

    @property
    def format(self) -> str:
        return self.mapping.format_of(self.path)

    @property
    def display(self) -> str:
        return self.path.name if self.path is not None else self.key


@dataclass
class Discovery:
    """What a run will read: inputs with their mappings, reference files of agents, and files left out (why)."""

    inputs: list[SourceInput] = field(default_factory=list)
    agent_files: list[Path] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)

    @property
    def sources(self) -> list[str]:
        return sorted({i.mapping.source for i in self.inputs})


# ------------------------------------------------------------------------------------------------ discovery


def _data_files(folder: Path) -> list[Path]:
    return sorted(
        p.resolve() for p in folder.iterdir() if p.is_file() and p.suffix.lower() in SUFFIX_FORMATS and p.name[0] != "."
    )


def _mapping_files(folder: Path) -> list[Path]:
    found = list(folder.glob("*.toml"))
    if (folder / "mappings").is_dir():
        found += list((folder / "mappings").glob("*.toml"))
    return sorted(p.resolve() for p in found)


def _file_input(mapping: SourceMapping, path: Path) -> SourceInput:
    return SourceInput(mapping, path, str(path), path.stat().st_mtime)


def sql_key(mapping: SourceMapping) -> str:
    """A readable key of a SQL source (password hidden)."""
    url = make_url(str(mapping.url)).render_as_string(hide_password=True)
    return f"{url}#{mapping.table or 'query'}"


def _inputs_of(mapping: SourceMapping, paths: Iterable[Path] | None = None) -> list[SourceInput]:
    if mapping.format == "sql":
        return [SourceInput(mapping, None, sql_key(mapping))]
    files = list(paths) if paths is not None else mapping.resolve_files()
    return [_file_input(mapping, p) for p in files]


def discover(
    paths: Sequence[Path | str], *, mapping_file: Path | str | None = None, channel: str | None = None
) -> Discovery:
    """Find what to load from files and folders.

    - ``mapping_file`` given: the PATHs (files, or every data file of a folder) are that source's files; without
      PATHs, the mapping's own ``files`` globs are used.
    - a folder: its mapping files (``*.toml`` in it and in ``mappings/``) claim files through their globs; a data
      file no mapping claims loads as canonical when its columns carry canonical names (with ``record_id``),
      as agents when its columns are agent_id/name/team/department, else it is listed as skipped with the reason.
    - a ``.toml`` file: that mapping with its globs. A data file: canonical (an error when it is not).
    """
    found = Discovery()
    if mapping_file is not None:
        mapping = load_mapping(mapping_file)
        files: list[Path] = []
        for raw in paths:
            path = Path(raw)
            files += _data_files(path) if path.is_dir() else [path.resolve()]
        missing = [str(p) for p in files if not p.is_file()]
        if missing:
            raise EtlError(f"These inputs do not exist: {', '.join(missing)}")
        found.inputs = _inputs_of(mapping, files if paths else None)
        if not found.inputs:
            raise EtlError(f"The mapping {mapping_file} matches no files ({', '.join(mapping.files)}); check its globs")
        return found

    claimed: set[Path] = set()
    mappings: list[SourceMapping] = []
    folders: list[Path] = []
    loose: list[Path] = []
    problems: list[str] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            folders.append(path)
            for mapping_path in _mapping_files(path):
                try:
                    mappings.append(load_mapping(mapping_path))
                except MappingError as exc:
                    problems.append(str(exc))
        elif path.suffix.lower() == ".toml" and path.is_file():
            try:
                mappings.append(load_mapping(path))
            except MappingError as exc:
                problems.append(str(exc))
        elif path.is_file():
            loose.append(path.resolve())
        else:
            problems.append(f"{path} does not exist")
    if problems:
        raise EtlError("Cannot start the run: " + " | ".join(problems))
    seen_sources: dict[str, str] = {}
    for mapping in mappings:
        if mapping.source in seen_sources and seen_sources[mapping.source] != mapping.origin:
            raise EtlError(
                f"Two mapping files name the source {mapping.source!r}: {seen_sources[mapping.source]} and "
                f"{mapping.origin}; give each source one mapping file"
            )
        seen_sources[mapping.source] = mapping.origin
        inputs = _inputs_of(mapping)
        found.inputs += inputs
        claimed.update(i.path for i in inputs if i.path is not None)
    candidates = [p for folder in folders for p in _data_files(folder)] + loose
    for path in candidates:
        if path in claimed:
            continue
        claimed.add(path)
        try:
            columns = header(path, SUFFIX_FORMATS.get(path.suffix.lower(), "csv"))
        except EtlError as exc:
            if path in loose:
                raise
            found.skipped.append((str(path), str(exc)))
            continue
        if "record_id" not in columns and set(columns) <= set(AGENT_COLUMNS) and "agent_id" in columns:
            found.agent_files.append(path)
            continue
        try:
            mapping = canonical_mapping(path, columns, channel=channel)
        except MappingError as exc:
            if path in loose:
                raise
            found.skipped.append((str(path), "no mapping file claims it, and " + "; ".join(exc.problems)))
            continue
        found.inputs.append(_file_input(mapping, path))
    return found


# ------------------------------------------------------------------------------------------------ reading


def content_hash(path: Path) -> str:
    """BLAKE2b-256 of the file's bytes (hex, 64 characters)."""
    digest = hashlib.blake2b(digest_size=32)
    with path.open("rb") as handle:
        while chunk := handle.read(_HASH_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def frame_hash(frame: pl.DataFrame) -> str:
    """A content hash of a frame read from a database (for incremental SQL sources)."""
    digest = hashlib.blake2b(digest_size=32)
    digest.update(repr(frame.schema).encode())
    digest.update(frame.write_csv().encode())
    return digest.hexdigest()


def _csv_header(path: Path, mapping: SourceMapping | None) -> list[str]:
    encoding = "utf8-lossy" if mapping is not None and mapping.encoding == "utf8-lossy" else "utf8"
    separator = mapping.delimiter if mapping is not None else ","
    try:
        return pl.read_csv(path, n_rows=0, infer_schema=False, encoding=encoding, separator=separator).columns
    except pl.exceptions.NoDataError:
        return []
    except pl.exceptions.ComputeError as exc:
        raise EtlError(f"{path.name}: cannot read the CSV header ({exc}); check encoding and delimiter") from exc


def header(path: Path, fmt: str, mapping: SourceMapping | None = None) -> list[str]:
    """The column names of a file (nested JSON objects flattened with '.')."""
    if fmt == "csv":
        return _csv_header(path, mapping)
    return list(_raw_schema(scan_raw(path, fmt, mapping)).keys())


def _raw_schema(lf: pl.LazyFrame) -> dict[str, pl.DataType]:
    return {n[len(RAW) :]: t for n, t in lf.collect_schema().items() if n.startswith(RAW)}


def _flatten(lf: pl.LazyFrame) -> pl.LazyFrame:
    """Nested objects -> ``parent.child`` columns (recursively); lists -> JSON text."""
    while True:
        schema = lf.collect_schema()
        structs = [n for n, t in schema.items() if isinstance(t, pl.Struct)]
        lists = [n for n, t in schema.items() if isinstance(t, pl.List | pl.Array)]
        if not structs and not lists:
            return lf
        exprs: list[pl.Expr] = []
        for name in structs:
            dtype = schema[name]
            assert isinstance(dtype, pl.Struct)
            exprs += [pl.col(name).struct.field(f.name).alias(f"{name}.{f.name}") for f in dtype.fields]
        for name in lists:
            encoded = pl.struct(pl.col(name).alias("v")).struct.json_encode()
            exprs.append(encoded.str.slice(5).str.head(-1).alias(name))  # {"v":...}; slices count characters
        lf = lf.with_columns(exprs).drop(structs)


def _null_columns_to_string(lf: pl.LazyFrame) -> pl.LazyFrame:
    schema = lf.collect_schema()
    nulls = [n for n, t in schema.items() if t == pl.Null]
    return lf.with_columns(pl.col(n).cast(pl.String) for n in nulls) if nulls else lf


def _prefixed(lf: pl.LazyFrame, first_line: int) -> pl.LazyFrame:
    renamed = lf.rename(lambda name: name if name == OVERFLOW else RAW + name)
    return renamed.with_row_index(LINE, offset=first_line).with_columns(pl.col(LINE).cast(pl.Int64))


def scan_raw(path: Path, fmt: str, mapping: SourceMapping | None = None) -> pl.LazyFrame:
    """The file as read: every column as ``_raw:<name>``, plus ``_line`` (and ``_overflow`` for CSV)."""
    try:
        if fmt == "csv":
            columns = _csv_header(path, mapping)
            if not columns:
                return pl.LazyFrame(schema={LINE: pl.Int64, OVERFLOW: pl.String})
            names = {c: pl.String for c in columns}
            if OVERFLOW in names:
                raise EtlError(f"{path.name}: a column may not be called {OVERFLOW}")
            lf = pl.scan_csv(
                path,
                has_header=False,
                skip_rows=1,
                schema={**names, OVERFLOW: pl.String},
                missing_columns="insert",
                truncate_ragged_lines=True,  # extra fields land in _overflow: quarantined, never dropped
                separator=mapping.delimiter if mapping else ",",
                encoding="utf8-lossy" if mapping is not None and mapping.encoding == "utf8-lossy" else "utf8",
                raise_if_empty=False,
            )
            return _prefixed(lf, 2)
        if fmt == "ndjson":
            lf = pl.scan_ndjson(path, infer_schema_length=None)
            return _prefixed(_null_columns_to_string(_flatten(lf)), 1)
        if fmt == "json":
            return _prefixed(_null_columns_to_string(_flatten(pl.read_json(path).lazy())), 1)
        if fmt == "parquet":
            return _prefixed(_null_columns_to_string(_flatten(pl.scan_parquet(path))), 1)
        if fmt == "excel":
            sheet = mapping.sheet if mapping is not None else None
            frame = pl.read_excel(path, sheet_name=sheet, infer_schema_length=0) if sheet else None
            if frame is None:
                frame = pl.read_excel(path, infer_schema_length=0)
            return _prefixed(_null_columns_to_string(frame.lazy()), 2)
    except (pl.exceptions.PolarsError, OSError, ValueError) as exc:
        raise EtlError(f"{path.name}: cannot be read as {fmt} ({exc})") from exc
    raise EtlError(f"{path.name}: unknown format {fmt!r}")


def read_sql(mapping: SourceMapping) -> pl.DataFrame:
    """The table or query of a SQL source, read through SQLAlchemy (the password never appears in messages)."""
    engine = create_engine(str(mapping.url))
    try:
        with engine.connect() as connection:
            if mapping.query:
                statement: Any = text(mapping.query)
            else:
                schema, _, name = str(mapping.table).rpartition(".")
                statement = select(Table(name, MetaData(), schema=schema or None, autoload_with=connection))
            return pl.read_database(statement, connection, infer_schema_length=None)
    except Exception as exc:
        raise EtlError(f"{sql_key(mapping)}: cannot read the source table ({type(exc).__name__}: {exc})") from exc
    finally:
        engine.dispose()


def scan_input(item: SourceInput, sql_frame: pl.DataFrame | None = None) -> pl.LazyFrame:
    """The raw frame of one input (see :func:`scan_raw`); SQL sources pass the frame read by :func:`read_sql`."""
    if item.format == "sql":
        frame = sql_frame if sql_frame is not None else read_sql(item.mapping)
        return _prefixed(_null_columns_to_string(_flatten(frame.lazy())), 1)
    assert item.path is not None
    return scan_raw(item.path, item.format, item.mapping)


def raw_schema(lf: pl.LazyFrame) -> dict[str, str]:
    """Source column -> polars type name, as stored in ``source_files.columns`` to detect drift."""
    return {name: str(dtype) for name, dtype in _raw_schema(lf).items()}


# ------------------------------------------------------------------------------------------------ drift


def _kind(dtype: str) -> str:
    """A coarse family of a type name: changes within a family (Int32 -> Int64) are not drift."""
    lowered = dtype.lower()
    for family in ("int", "float", "decimal", "bool", "datetime", "date", "time", "duration"):
        if lowered.startswith(family) or lowered.startswith("u" + family):
            return "number" if family in ("int", "float", "decimal") else family
    if lowered.startswith(("string", "utf8", "categorical", "enum")):
        return "text"
    return lowered


def schema_drift(
    item: SourceInput, schema: dict[str, str], previous: dict[str, str] | None, *, optional_missing_ok: bool
) -> list[str]:
    """Differences that stop a load: mapped columns missing, or mapped columns whose type family changed."""
    mapping = item.mapping
    problems: list[str] = []
    needed = mapping.used_columns
    required = mapping.required_columns()
    missing = sorted(c for c in needed if c not in schema and (c in required or not optional_missing_ok))
    if missing:
        problems.append(f"missing columns {', '.join(missing)} (the file has: {', '.join(schema) or 'none'})")
    if previous:
        changed = [
            f"{c} was {previous[c]}, now {schema[c]}"
            for c in sorted(needed)
            if c in schema
            and c in previous
            and _kind(schema[c]) != _kind(previous[c])
            and schema[c] != "Null"
            and previous[c] != "Null"
        ]
        if changed:
            problems.append("changed types: " + "; ".join(changed))
    return problems


def raise_drift(item: SourceInput, problems: list[str]) -> None:
    if problems:
        raise SchemaDriftError(
            f"Source {item.mapping.source!r}, {item.display}: the columns differ from what the mapping "
            f"{item.mapping.origin} expects — " + "; ".join(problems) + ". Fix the export or update the mapping."
        )


# ------------------------------------------------------------------------------------------------ mapping


def _raw_text(column: str) -> pl.Expr:
    return pl.col(RAW + column).cast(pl.String)


def _value_map(expr: pl.Expr, table: dict[str, Any]) -> pl.Expr:
    """Source text -> canonical value (as text; booleans as 'true'/'false'); unmatched values pass unchanged."""
    old = list(table)
    new = [("true" if v else "false") if isinstance(v, bool) else str(v) for v in table.values()]
    return expr.str.strip_chars().replace(old, new)


def apply_mapping(lf: pl.LazyFrame, mapping: SourceMapping) -> pl.LazyFrame:
    """Step: add one column per mapped canonical field (still raw text or the source's own type), ``source``,
    ``extra`` (JSON of unmapped columns and of the ``[profile]`` attributes under their attribute names, null when
    all are empty).

    Sums are added here (nulls count as 0, all-null stays null); ``_sumerr:<field>`` names inputs that are not
    numbers (validation quarantines those rows). Value maps apply here.
    The ``_raw:*`` columns stay for quarantine.
    """
    schema = _raw_schema(lf)
    exprs: list[pl.Expr] = [pl.lit(mapping.source).alias("source")]
    for column, target in mapping.columns.items():
        if column not in schema:
            exprs.append(pl.lit(None, dtype=pl.String).alias(target))
            continue
        expr = pl.col(RAW + column)
        if target in mapping.values:
            expr = _value_map(expr.cast(pl.String), mapping.values[target])
        exprs.append(expr.alias(target))
    for target, columns in mapping.sums.items():
        texts = [_raw_text(c) if c in schema else pl.lit(None, dtype=pl.String) for c in columns]
        cleaned = [pl.when(t.str.strip_chars().str.len_bytes() > 0).then(t.str.strip_chars()) for t in texts]
        numbers = [t.cast(pl.Float64, strict=False) for t in cleaned]
        present = pl.any_horizontal(n.is_not_null() for n in numbers)
        exprs.append(pl.when(present).then(pl.sum_horizontal(numbers)).otherwise(None).alias(target))
        errors = [
            pl.when(t.is_not_null() & n.is_null()).then(pl.format("{}='{}'", pl.lit(c), t))
            for c, t, n in zip(columns, cleaned, numbers, strict=True)
        ]
        exprs.append(pl.concat_str(errors, separator=", ", ignore_nulls=True).alias(f"{SUM_ERRORS}{target}"))
    for target, value in mapping.constants.items():
        literal = ("true" if value else "false") if isinstance(value, bool) else str(value)
        exprs.append(pl.lit(literal).alias(target))
    if mapping.channel and "channel" not in mapping.mapped_fields:
        exprs.append(pl.lit(mapping.channel).alias("channel"))
    unmapped = [c for c in schema if c not in mapping.used_columns and not (mapping.canonical and c in MAPPABLE_FIELDS)]
    unmapped = [c for c in unmapped if c not in mapping.profile]  # a profile attribute's own name wins
    kept = [pl.col(RAW + c).alias(c) for c in unmapped] + [
        _raw_text(c).alias(attribute) for attribute, c in mapping.profile.items() if c in schema
    ]
    if kept:
        present = pl.any_horizontal(e.is_not_null() for e in kept)
        exprs.append(pl.when(present).then(pl.struct(kept).struct.json_encode()).otherwise(None).alias("extra"))
    else:
        exprs.append(pl.lit(None, dtype=pl.String).alias("extra"))
    return lf.with_columns(exprs)


def file_mtime(path: Path) -> float:
    return os.stat(path).st_mtime
