"""Writing to the store: every table of one run in ONE transaction, fast (ADBC on SQLite, COPY on PostgreSQL).

Values are written exactly as the SQLAlchemy models read them back: on SQLite ``UtcDateTime`` as naive-UTC text
``YYYY-MM-DD HH:MM:SS.ffffff``, dates as ``YYYY-MM-DD``, booleans as 0/1, JSON as text; on PostgreSQL through
``COPY ... (FORMAT csv)`` into the real column types. A process killed before :meth:`Writer.commit` leaves the
previous state (SQLite's WAL and PostgreSQL both discard the unfinished transaction).

SQLite and ADBC: the ADBC driver bundles its own copy of SQLite. Two copies of SQLite must never have the same
database file open in one process at the same time (closing a file in one releases the other's POSIX locks,
see https://sqlite.org/howtocorrupt.html, "multiple copies of SQLite"). So the pipeline reads what it needs
through SQLAlchemy first, closes the engine's pooled connections (``engine.dispose()``), and only then opens
ADBC connections; processes where other threads use the store (the Streamlit app) run the pipeline in a
child process (etl.pipeline.load_demo).
"""

from __future__ import annotations

import fcntl
import os
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import date, datetime
from pathlib import Path
from typing import Any, Final

import polars as pl
from sqlalchemy import Boolean, Date, Engine, Float, Integer, SmallInteger, String, Table, Text, text
from sqlalchemy.types import BigInteger

from cx.errors import EtlError, StoreError
from cx.types import UtcDateTime

_COPY_CHUNK: Final = 200_000
#: Arrow export of frames handed to ADBC: the newest level passes strings as views, without copying them
#: (the large_string export of a 1M-row frame costs ~1-2 s).
_ARROW: Final = pl.CompatLevel.newest()
#: Above this many rows into a table (and half the rows already there), SQLite drops its secondary indexes and
#: rebuilds them after the insert (into an empty table: above REBUILD_EMPTY_ABOVE).
REBUILD_INDEXES_ABOVE: Final = 200_000
REBUILD_EMPTY_ABOVE: Final = 20_000
_ADVISORY_LOCK_ID: Final = 727_101
#: SQLite page cache of the writing connection (KiB): big random index inserts thrash the default 2 MB cache.
CACHE_KIB: Final = 512_000
#: Memory-mapped bytes of the ETL's reading SQLite connections.
MMAP_BYTES: Final = 1 << 31
#: Pragmas of the writing SQLite connection. ``synchronous=NORMAL`` as the app's connections (cx.db: WAL stays
#: safe from corruption; the checkpoint syncs). ``threads``: CREATE INDEX sorts with a helper thread.
#: ``wal_autocheckpoint=0``: the commit does not copy the whole transaction into the database file on the spot;
#: the pipeline checkpoints right after (:func:`checkpoint`), so the copy is timed and can overlap other work.
WRITER_PRAGMAS: Final = (
    "synchronous=NORMAL",
    "busy_timeout=60000",
    f"cache_size=-{CACHE_KIB}",
    "temp_store=MEMORY",
    "threads=2",
    "wal_autocheckpoint=0",
)


def _is_json(column: Any) -> bool:
    return "JSON" in type(column.type).__name__.upper() or "JSON" in repr(column.type).upper()


def column_kinds(table: Table) -> dict[str, str]:
    """Column -> one of datetime, date, bool, int, float, json, text (how values are converted for the store)."""
    kinds: dict[str, str] = {}
    for column in table.columns:
        kind = column.type
        if isinstance(kind, UtcDateTime):
            kinds[column.name] = "datetime"
        elif isinstance(kind, Date):
            kinds[column.name] = "date"
        elif isinstance(kind, Boolean):
            kinds[column.name] = "bool"
        elif isinstance(kind, Integer | SmallInteger | BigInteger):
            kinds[column.name] = "int"
        elif isinstance(kind, Float):
            kinds[column.name] = "float"
        elif _is_json(column):
            kinds[column.name] = "json"
        elif isinstance(kind, String | Text):
            kinds[column.name] = "text"
        else:
            kinds[column.name] = "text"
    return kinds


def _as_json_text(expr: pl.Expr, dtype: pl.DataType, values: pl.Series | None = None) -> pl.Expr:
    if dtype == pl.String:
        return expr
    if values is not None and dtype == pl.List(pl.String) and not _needs_escape(values):
        # lists of plain strings (sources, channels): ["a","b"] built directly, as json_encode writes it
        return (
            pl.when(expr.list.len() > 0)
            .then(pl.concat_str([pl.lit('["'), expr.list.join('","'), pl.lit('"]')]))
            .when(expr.is_not_null())
            .then(pl.lit("[]"))
        )
    encoded = pl.struct(expr.alias("v")).struct.json_encode()  # {"v":...}: slices count characters, not bytes
    return pl.when(expr.is_not_null()).then(encoded.str.slice(5).str.head(-1))


def _needs_escape(values: pl.Series) -> bool:
    """Whether any string of a list column needs escaping in JSON (quotes, backslashes, control characters)."""
    strings = values.explode().drop_nulls()
    return bool(strings.len() and strings.str.contains(r'["\\\x00-\x1f]').any())


def to_store(frame: pl.DataFrame, table: Table, dialect: str) -> pl.DataFrame:
    """The frame's columns converted to what ``dialect`` stores for ``table`` (see the module doc)."""
    kinds = column_kinds(table)
    unknown = [c for c in frame.columns if c not in kinds]
    if unknown:
        raise EtlError(f"{table.name} has no columns {unknown}")
    exprs: list[pl.Expr] = []
    for name, dtype in frame.schema.items():
        kind = kinds[name]
        col = pl.col(name)
        if kind == "datetime":
            if isinstance(dtype, pl.Datetime):
                utc = col.dt.convert_time_zone("UTC") if dtype.time_zone else col.dt.replace_time_zone("UTC")
                col = utc.dt.cast_time_unit("us")
                if dialect == "sqlite":
                    col = col.dt.replace_time_zone(None).dt.strftime("%Y-%m-%d %H:%M:%S.%6f")
        elif kind == "date":
            if dialect == "sqlite" and dtype != pl.String:
                col = col.cast(pl.Date).dt.strftime("%Y-%m-%d")
        elif kind == "bool":
            col = col.cast(pl.Int64) if dialect == "sqlite" else col.cast(pl.Boolean)
        elif kind == "int":
            col = col.cast(pl.Int64)
        elif kind == "float":
            col = col.cast(pl.Float64)
        elif kind == "json":
            col = _as_json_text(col, dtype, frame.get_column(name))
        else:
            col = col.cast(pl.String)
        exprs.append(col.alias(name))
    return frame.select(exprs)


def from_store(frame: pl.DataFrame, table: Table) -> pl.DataFrame:
    """Columns read from ``table`` with the types the models give them (UTC datetimes, dates, booleans, ...)."""
    kinds = column_kinds(table)
    exprs: list[pl.Expr] = []
    for name, dtype in frame.schema.items():
        kind = kinds.get(name, "text")
        col = pl.col(name)
        if kind == "datetime":
            if dtype == pl.String:
                col = col.str.strptime(pl.Datetime("us"), "%Y-%m-%d %H:%M:%S%.f", strict=False).dt.replace_time_zone(
                    "UTC"
                )
            elif isinstance(dtype, pl.Datetime):
                col = (
                    col.dt.convert_time_zone("UTC") if dtype.time_zone else col.dt.replace_time_zone("UTC")
                ).dt.cast_time_unit("us")
            else:
                col = col.cast(pl.Datetime("us", "UTC"))
        elif kind == "date":
            col = col.str.strptime(pl.Date, "%Y-%m-%d", strict=False) if dtype == pl.String else col.cast(pl.Date)
        elif kind == "bool":
            col = col.cast(pl.Boolean)
        elif kind == "int":
            col = col.cast(pl.Int64)
        elif kind == "float":
            col = col.cast(pl.Float64)
        else:
            col = col.cast(pl.String) if dtype != pl.String else col
        exprs.append(col.alias(name))
    return frame.select(exprs)


def _insert_order(table: Table, columns: Sequence[str]) -> list[str]:
    """The key rows are best inserted in: the primary key, else the first unique constraint (B-tree appends)."""
    from sqlalchemy import UniqueConstraint

    keys = [c.name for c in table.primary_key.columns]
    if not set(keys) <= set(columns):
        keys = next(
            (
                [c.name for c in constraint.columns]
                for constraint in table.constraints
                if isinstance(constraint, UniqueConstraint) and {c.name for c in constraint.columns} <= set(columns)
            ),
            [],
        )
    return keys if keys and set(keys) <= set(columns) else []


def _sorted(frame: pl.DataFrame, order: Sequence[str]) -> bool:
    """Whether the rows already come in ``order``'s first column's order (no copy needed)."""
    column = frame.get_column(order[0])
    return column.null_count() == 0 and column.is_sorted()


def sqlite_path(engine: Engine) -> str:
    database = engine.url.database
    if not database or database == ":memory:" or database.startswith("file:"):
        raise StoreError("The ETL needs a SQLite file (sqlite:///path/to/cx.db), not an in-memory database")
    return str(Path(database).expanduser().resolve())


def _param(value: Any, dialect: str) -> Any:
    if isinstance(value, datetime) and dialect == "sqlite":
        from datetime import UTC

        aware = value if value.tzinfo else value.replace(tzinfo=UTC)
        return aware.astimezone(UTC).replace(tzinfo=None).strftime("%Y-%m-%d %H:%M:%S.%f")
    if isinstance(value, date) and not isinstance(value, datetime) and dialect == "sqlite":
        return value.isoformat()
    if isinstance(value, bool) and dialect == "sqlite":
        return int(value)
    return value


class Writer:
    """One write transaction on the store: ``execute`` SQL, ``append`` frames, ``delete_keys``; then commit.

    ``timings``: seconds spent per table and phase (``<table>:convert|ingest|index``), for the run's report.
    """

    dialect: str
    timings: dict[str, float]

    def execute(self, sql: str, params: Sequence[Any] = ()) -> None:
        raise NotImplementedError

    def query(self, sql: str, params: Sequence[Any] = ()) -> pl.DataFrame:
        raise NotImplementedError

    def _append_stored(self, table: Table, frame: pl.DataFrame) -> None:
        raise NotImplementedError

    def commit(self) -> None:
        raise NotImplementedError

    def rollback(self) -> None:
        raise NotImplementedError

    @contextmanager
    def savepoint(self, name: str) -> Iterator[None]:
        """What the block writes is undone if it raises (the exception goes on); the rest of the transaction stays."""
        self.execute(f"SAVEPOINT {name}")
        try:
            yield
        except BaseException:
            self.execute(f"ROLLBACK TO SAVEPOINT {name}")
            self.execute(f"RELEASE SAVEPOINT {name}")
            raise
        self.execute(f"RELEASE SAVEPOINT {name}")

    def close(self) -> None:
        raise NotImplementedError

    def append(self, table: Table, frame: pl.DataFrame) -> int:
        """Insert every row of ``frame`` (its columns are a subset of the table's)."""
        if frame.is_empty():
            return 0
        started = time.perf_counter()
        order = _insert_order(table, frame.columns)
        stored = to_store(frame, table, self.dialect)
        if order and not _sorted(stored, order):
            # the first key column is enough for mostly sequential B-tree inserts (a full multi-column sort
            # of a million strings costs more than it saves)
            stored = stored.sort(order[0], maintain_order=True)
        self._clock(f"{table.name}:convert", started)
        self._append_stored(table, stored)
        return frame.height

    def _clock(self, name: str, started: float) -> float:
        """Add the seconds since ``started`` to :attr:`timings` (where a load's time goes); returns now."""
        now = time.perf_counter()
        self.timings[name] = round(self.timings.get(name, 0.0) + now - started, 3)
        return now

    def _keys_table(self, frame: pl.DataFrame, index: str | Sequence[str] | None = None) -> str:
        raise NotImplementedError

    def temp_keys(self, frame: pl.DataFrame) -> str:
        """A temporary table holding ``frame`` (for joins in the SQL of this transaction); returns its name."""
        return self._keys_table(frame)

    def delete_keys(self, table: Table, keys: pl.DataFrame) -> None:
        """Delete the rows of ``table`` whose values in ``keys``' columns equal one of its rows."""
        if keys.is_empty():
            return
        stored = to_store(keys.unique(), table, self.dialect)
        temp = self._keys_table(stored)
        if stored.width == 1:
            column = stored.columns[0]
            self.execute(f'DELETE FROM "{table.name}" WHERE "{column}" IN (SELECT "{column}" FROM {temp})')
            return
        condition = " AND ".join(f'k."{c}" = "{table.name}"."{c}"' for c in stored.columns)
        self.execute(f'DELETE FROM "{table.name}" WHERE EXISTS (SELECT 1 FROM {temp} AS k WHERE {condition})')

    def update_from(self, table: Table, key: str, frame: pl.DataFrame) -> None:
        """Set the other columns of ``frame`` on the rows of ``table`` whose ``key`` matches."""
        if frame.is_empty():
            return
        stored = to_store(frame.unique(key, keep="last"), table, self.dialect)
        temp = self._keys_table(stored, index=key)
        sets = ", ".join(f'"{c}" = k."{c}"' for c in stored.columns if c != key)
        self.execute(f'UPDATE "{table.name}" SET {sets} FROM {temp} AS k WHERE k."{key}" = "{table.name}"."{key}"')

    def replace_rows(
        self, table: Table, frame: pl.DataFrame, key: Sequence[str], scope: pl.DataFrame | None = None
    ) -> None:
        """Make ``table`` hold ``frame``'s rows for their ``key`` values and, with ``scope`` (values of some
        columns, e.g. profile ids), no other rows within the scope; ``frame``'s rows must lie within it.

        Here: delete the scope (or the keys) and append. SQLite (:class:`SqliteWriter`) rewrites only what differs.
        """
        if scope is not None:
            self.delete_keys(table, scope)
        else:
            self.delete_keys(table, frame.select(key))
        self.append(table, frame)

    def rebuild_indexes(self, table: Table, rows: int, constant: Sequence[str] = ()) -> list[str]:
        """Drop ``table``'s secondary indexes before a large insert; returns the DDL to run after it."""
        return []

    def __enter__(self) -> Writer:
        return self

    def __exit__(self, *exc: object) -> None:
        if exc[0] is not None:
            self.rollback()
        self.close()


class SqliteWriter(Writer):
    """ADBC connection to the same SQLite file: ``BEGIN IMMEDIATE`` ... ``COMMIT``."""

    dialect = "sqlite"

    def __init__(self, engine: Engine) -> None:
        import adbc_driver_sqlite.dbapi as adbc

        self._connection = adbc.connect(sqlite_path(engine), autocommit=True)
        self._cursor = self._connection.cursor()
        for pragma in WRITER_PRAGMAS:
            self._cursor.execute(f"PRAGMA {pragma}")
            self._cursor.fetchall()
        self._cursor.execute("BEGIN IMMEDIATE")
        self._open = True
        self._temps = 0
        self.timings = {}

    def execute(self, sql: str, params: Sequence[Any] = ()) -> None:
        self._cursor.execute(sql, [_param(p, self.dialect) for p in params] if params else None)

    def query(self, sql: str, params: Sequence[Any] = ()) -> pl.DataFrame:
        return read_sqlite(self._cursor, sql, params)

    def _append_stored(self, table: Table, frame: pl.DataFrame) -> None:
        started = time.perf_counter()
        constant = [c for c in ("batch_id",) if c in frame.columns and frame.get_column(c).n_unique() == 1]
        rebuild = self.rebuild_indexes(table, frame.height, constant)
        self._cursor.adbc_ingest(table.name, frame.to_arrow(compat_level=_ARROW), mode="append")
        started = self._clock(f"{table.name}:ingest", started)
        for ddl in rebuild:
            self._cursor.execute(ddl)
        self._clock(f"{table.name}:index", started)

    def _keys_table(self, frame: pl.DataFrame, index: str | Sequence[str] | None = None) -> str:
        self._temps += 1
        name = f"etl_keys_{self._temps}"
        self._cursor.adbc_ingest(name, frame.to_arrow(compat_level=_ARROW), mode="replace", temporary=True)
        if index:
            columns = ", ".join(f'"{c}"' for c in ([index] if isinstance(index, str) else index))
            self._cursor.execute(f"CREATE INDEX temp.{name}_key ON {name} ({columns})")
        return f"temp.{name}"

    def replace_rows(
        self, table: Table, frame: pl.DataFrame, key: Sequence[str], scope: pl.DataFrame | None = None
    ) -> None:
        """As :meth:`Writer.replace_rows`, touching only rows that change: stored rows equal to one of ``frame``
        are left alone, the others updated in place (``ON CONFLICT`` on ``key``, a unique index), so neither their
        pages nor the entries of unchanged indexed values are rewritten — a small batch re-deciding many profiles
        otherwise rewrites tens of thousands of identical rows (and the WAL, and the checkpoint, grow with them)."""
        unset = [c.name for c in table.columns if c.name not in frame.columns and not c.primary_key]
        if unset or frame.is_empty():  # an update would keep the unset columns' old values: delete and append
            super().replace_rows(table, frame, key, scope)
            return
        started = time.perf_counter()
        name = f'"{table.name}"'
        stored = to_store(frame, table, self.dialect)
        temp = self._keys_table(stored, index=list(key))
        if scope is not None and not scope.is_empty():
            # the scope's rows found through the table's index on the scope columns (a row value IN a subquery)
            scoped = self._keys_table(to_store(scope.unique(), table, self.dialect))
            columns = ", ".join(f'"{c}"' for c in scope.columns)
            other = " AND ".join(f'k."{c}" = {name}."{c}"' for c in key)
            self.execute(
                f"DELETE FROM {name} WHERE ({columns}) IN (SELECT {columns} FROM {scoped}) "
                f"AND NOT EXISTS (SELECT 1 FROM {temp} AS k WHERE {other})"
            )
        started = self._clock(f"{table.name}:delete", started)
        values = [c for c in stored.columns if c not in key]
        same = " AND ".join([*(f't."{c}" = k."{c}"' for c in key), *(f't."{c}" IS k."{c}"' for c in values)])
        listed = ", ".join(f'"{c}"' for c in stored.columns)
        selected = ", ".join(f'k."{c}"' for c in stored.columns)
        conflict = ", ".join(f'"{c}"' for c in key)
        update = "DO UPDATE SET " + ", ".join(f'"{c}" = excluded."{c}"' for c in values) if values else "DO NOTHING"
        # WHERE before ON CONFLICT: SQLite's parser needs it after INSERT ... SELECT
        self.execute(
            f"INSERT INTO {name} ({listed}) SELECT {selected} FROM {temp} AS k "
            f"WHERE NOT EXISTS (SELECT 1 FROM {name} AS t WHERE {same}) ON CONFLICT ({conflict}) {update}"
        )
        self._clock(f"{table.name}:upsert", started)

    def rebuild_indexes(self, table: Table, rows: int, constant: Sequence[str] = ()) -> list[str]:
        """Large inserts (or inserts into an empty table) go in without the secondary indexes, which are built
        afterwards in one sorted pass each — except an index on one column that is ``constant`` in the rows
        (the batch id): its entries are appended, which is cheaper than a rebuild."""
        if rows < REBUILD_EMPTY_ABOVE:
            return []
        self._cursor.execute(f'SELECT MAX(rowid) FROM "{table.name}"')  # ~ the rows there (O(log n))
        present = self._cursor.fetchall()[0][0] or 0
        if present:
            self._cursor.execute(f'SELECT 1 FROM "{table.name}" LIMIT 1')
            present = present if self._cursor.fetchall() else 0
        if present and rows < max(REBUILD_INDEXES_ABOVE, present // 2):
            return []  # a batch small against the table: maintaining the indexes costs less than rebuilding
        self._cursor.execute(
            "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = ? AND sql IS NOT NULL",
            [table.name],
        )
        rebuild = []
        for name, ddl in self._cursor.fetchall():
            self._cursor.execute(f'PRAGMA index_info("{name}")')
            columns = [row[2] for row in self._cursor.fetchall()]
            if len(columns) == 1 and columns[0] in constant:
                continue
            self._cursor.execute(f'DROP INDEX "{name}"')
            rebuild.append(ddl)
        return rebuild

    def commit(self) -> None:
        started = time.perf_counter()
        self._cursor.execute("COMMIT")
        self._open = False
        self._clock("commit", started)

    def rollback(self) -> None:
        if self._open:
            self._cursor.execute("ROLLBACK")
            self._open = False

    def close(self) -> None:
        self._cursor.close()
        self._connection.close()


class PostgresWriter(Writer):
    """A SQLAlchemy connection in one transaction; frames go in with psycopg's COPY (CSV)."""

    dialect = "postgresql"

    def __init__(self, engine: Engine) -> None:
        self._connection = engine.connect()
        self._transaction = self._connection.begin()
        self.timings = {}
        self._raw = self._connection.connection.driver_connection
        self._temps = 0

    def execute(self, sql: str, params: Sequence[Any] = ()) -> None:
        with self._raw.cursor() as cursor:
            cursor.execute(sql.replace("?", "%s"), list(params) if params else None)

    def query(self, sql: str, params: Sequence[Any] = ()) -> pl.DataFrame:
        with self._raw.cursor() as cursor:
            cursor.execute(sql.replace("?", "%s"), list(params) if params else None)
            names = [d.name for d in cursor.description]
            rows = cursor.fetchall()
        return pl.DataFrame(rows, schema=names, orient="row", infer_schema_length=None)

    def _append_stored(self, table: Table, frame: pl.DataFrame) -> None:
        started = time.perf_counter()
        self._copy(f'"{table.name}"', frame)
        self._clock(f"{table.name}:ingest", started)

    def _copy(self, target: str, frame: pl.DataFrame) -> None:
        columns = ", ".join(f'"{c}"' for c in frame.columns)
        with (
            self._raw.cursor() as cursor,
            cursor.copy(f"COPY {target} ({columns}) FROM STDIN WITH (FORMAT csv)") as copy,
        ):
            for offset in range(0, frame.height, _COPY_CHUNK):
                copy.write(frame.slice(offset, _COPY_CHUNK).write_csv(include_header=False))

    def _keys_table(self, frame: pl.DataFrame, index: str | Sequence[str] | None = None) -> str:
        self._temps += 1
        name = f"etl_keys_{self._temps}"
        _pg_temp_table(self._raw, name, frame)
        return name

    def commit(self) -> None:
        self._transaction.commit()

    def rollback(self) -> None:
        if self._transaction.is_active:
            self._transaction.rollback()

    def close(self) -> None:
        self._connection.close()


def open_writer(engine: Engine) -> Writer:
    """A writer holding the store's write transaction (SQLite: the write lock) until commit or rollback."""
    if engine.dialect.name == "sqlite":
        return SqliteWriter(engine)
    if engine.dialect.name == "postgresql":
        return PostgresWriter(engine)
    raise StoreError(f"The ETL writes to SQLite or PostgreSQL, not {engine.dialect.name}")


def _read_pragmas(cursor: Any) -> None:
    """Reading connections wait for a lock instead of failing at once (the writer opens on its own thread while
    the run reads the store, and opening may briefly lock the file), and map the file into memory (no read() call
    per page: random reads of many records by index cost ~20 % less)."""
    for pragma in ("busy_timeout=60000", f"mmap_size={MMAP_BYTES}"):
        cursor.execute(f"PRAGMA {pragma}")
        cursor.fetchall()


def read_sqlite(cursor: Any, sql: str, params: Sequence[Any] = ()) -> pl.DataFrame:
    """A query through an ADBC SQLite cursor as a polars frame (types inferred over the whole result)."""
    cursor.adbc_statement.set_options(**{"adbc.sqlite.query.batch_rows": "100000000"})
    cursor.execute(sql, [_param(p, "sqlite") for p in params] if params else None)
    return pl.from_arrow(cursor.fetch_arrow_table())  # type: ignore[return-value]


def read_frame(engine: Engine, sql: str, params: Sequence[Any] = (), *, table: Table | None = None) -> pl.DataFrame:
    """A read-only query as a polars frame (``?`` placeholders); with ``table`` the columns get the model types."""
    if engine.dialect.name == "sqlite":
        import adbc_driver_sqlite.dbapi as adbc

        with adbc.connect(sqlite_path(engine)) as connection, connection.cursor() as cursor:
            _read_pragmas(cursor)
            frame = read_sqlite(cursor, sql, params)
    else:
        with engine.connect() as connection:
            raw = connection.connection.driver_connection
            with raw.cursor() as cursor:
                cursor.execute(sql.replace("?", "%s"), list(params) if params else None)
                names = [d.name for d in cursor.description]
                rows = cursor.fetchall()
            connection.rollback()
        frame = pl.DataFrame(rows, schema=names, orient="row", infer_schema_length=None)
    return from_store(frame, table) if table is not None else frame


def read_keyed(engine: Engine, table: Table, columns: Sequence[str], key: str, values: pl.Series) -> pl.DataFrame:
    """Rows of ``table`` whose ``key`` is one of ``values`` (passed through a temporary table, not a long IN list)."""
    if values.is_empty():
        return read_matching(engine, table, columns, pl.DataFrame(schema={key: pl.String}))
    kinds = column_kinds(table)
    keys = values.drop_nulls().unique().alias(key).to_frame()
    if kinds[key] == "text":
        keys = keys.cast({key: pl.String})
    return read_matching(engine, table, columns, keys)


def _pg_type(dtype: pl.DataType) -> str:
    types = {pl.Int64: "bigint", pl.Float64: "double precision", pl.Boolean: "boolean", pl.Date: "date"}
    return types.get(dtype, "timestamptz" if isinstance(dtype, pl.Datetime) else "text")  # type: ignore[call-overload]


def _pg_temp_table(raw: Any, name: str, frame: pl.DataFrame) -> None:
    """A temporary table ``name`` on a psycopg connection holding ``frame`` (typed columns, COPY)."""
    columns = ", ".join(f'"{c}" {_pg_type(t)}' for c, t in frame.schema.items())
    names = ", ".join(f'"{c}"' for c in frame.columns)
    with raw.cursor() as cursor:
        cursor.execute(f"CREATE TEMP TABLE {name} ({columns}) ON COMMIT DROP")
        with cursor.copy(f"COPY {name} ({names}) FROM STDIN WITH (FORMAT csv)") as copy:
            for offset in range(0, frame.height, _COPY_CHUNK):
                copy.write(frame.slice(offset, _COPY_CHUNK).write_csv(include_header=False))
        cursor.execute(f"ANALYZE {name}")


def read_matching(engine: Engine, table: Table, columns: Sequence[str], keys: pl.DataFrame) -> pl.DataFrame:
    """Rows of ``table`` whose values in ``keys``' columns equal one row of ``keys`` (a join with a temporary table,
    on the values as stored, so the table's index on those columns is used); columns typed as the model reads them.
    """
    select_list = ", ".join(f't."{c}"' for c in columns)
    if keys.is_empty():
        frame = read_frame(engine, f'SELECT {select_list} FROM "{table.name}" AS t WHERE 1 = 0')
        if frame.width == 0:
            frame = pl.DataFrame(schema={c: pl.String for c in columns})
        return from_store(frame, table)
    dialect = engine.dialect.name
    stored = to_store(keys.unique(), table, dialect)
    condition = " AND ".join(f'k."{c}" = t."{c}"' for c in stored.columns)
    if dialect == "sqlite":
        import adbc_driver_sqlite.dbapi as adbc

        with adbc.connect(sqlite_path(engine)) as connection, connection.cursor() as cursor:
            _read_pragmas(cursor)
            cursor.adbc_ingest("etl_read_keys", stored.to_arrow(compat_level=_ARROW), mode="replace", temporary=True)
            frame = read_sqlite(
                cursor, f'SELECT {select_list} FROM temp.etl_read_keys AS k JOIN "{table.name}" AS t ON {condition}'
            )
    else:
        with engine.connect() as connection:
            raw = connection.connection.driver_connection
            _pg_temp_table(raw, "etl_read_keys", stored)
            with raw.cursor() as cursor:
                cursor.execute(f'SELECT {select_list} FROM etl_read_keys AS k JOIN "{table.name}" AS t ON {condition}')
                names = [d.name for d in cursor.description]
                rows = cursor.fetchall()
            connection.rollback()
        frame = pl.DataFrame(rows, schema=names, orient="row", infer_schema_length=None)
    if frame.width == 0:
        frame = pl.DataFrame(schema={c: pl.String for c in columns})
    return from_store(frame, table)


class Checkpoint:
    """SQLite: copy the write-ahead log into the database file in a background thread
    (``PRAGMA wal_checkpoint(PASSIVE)``: readers and writers go on meanwhile).

    The ETL writer does not checkpoint (see WRITER_PRAGMAS). Create this *before* the writer's connection closes:
    while it is open, closing the writer does not checkpoint on the spot (SQLite checkpoints when the last
    connection closes). :meth:`start`, then :meth:`join` (returns the seconds it took). No-op on PostgreSQL.
    """

    def __init__(self, engine: Engine) -> None:
        import threading

        self.seconds = 0.0
        self.error: BaseException | None = None
        self._thread: Any = None
        self._connection: Any = None
        self._copying = threading.Event()
        if engine.dialect.name == "sqlite":
            import adbc_driver_sqlite.dbapi as adbc

            self._connection = adbc.connect(sqlite_path(engine), autocommit=True)
            with self._connection.cursor() as cursor:  # a read opens the WAL: the writer is no longer the last
                cursor.execute("SELECT COUNT(*) FROM sqlite_master")
                cursor.fetchall()

    def _run(self) -> None:
        import time

        started = time.perf_counter()
        try:
            with self._connection.cursor() as cursor:
                cursor.execute("PRAGMA busy_timeout=60000")
                cursor.fetchall()
                self._copying.set()
                cursor.execute("PRAGMA wal_checkpoint(PASSIVE)")
                cursor.fetchall()
        except BaseException as exc:  # reported by the caller: the load is committed either way
            self.error = exc
        finally:
            self._copying.set()
            self.seconds = time.perf_counter() - started

    def start(self) -> None:
        """Start the copy; returns once its thread is about to run the checkpoint (which releases the GIL), so the
        caller's next work — freeing the run's frames, the text step — does not hold the thread back."""
        import threading

        if self._connection is not None:
            self._thread = threading.Thread(target=self._run, name="etl-checkpoint")
            self._thread.start()
            self._copying.wait(timeout=5)

    def join(self) -> float:
        if self._thread is not None:
            self._thread.join()
        if self._connection is not None:
            self._connection.close()
            self._connection = None
        return self.seconds


@contextmanager
def run_lock(engine: Engine) -> Iterator[None]:
    """Only one ETL run at a time per store (SQLite: a lock file beside the database; PostgreSQL: advisory lock)."""
    if engine.dialect.name == "sqlite":
        lock_path = sqlite_path(engine) + ".etl-lock"
        handle = os.open(lock_path, os.O_CREAT | os.O_RDWR, 0o644)
        try:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError as exc:
                raise EtlError("Another ETL run is loading into this store; wait until it finishes") from exc
            yield
        finally:
            os.close(handle)
        return
    with engine.connect() as connection:
        got = connection.execute(text("SELECT pg_try_advisory_lock(:id)"), {"id": _ADVISORY_LOCK_ID}).scalar()
        if not got:
            connection.rollback()
            raise EtlError("Another ETL run is loading into this store; wait until it finishes")
        try:
            yield
        finally:
            connection.execute(text("SELECT pg_advisory_unlock(:id)"), {"id": _ADVISORY_LOCK_ID})
            connection.commit()


class StoreIdentityStore:
    """etl.identity's ``IdentityStore`` over the store, read in bulk (ADBC on SQLite), no ORM session needed.

    ``columns``: what :meth:`records_of_profiles` reads (the identity columns at least), ``prepare``: applied to
    what it read (e.g. adding validity flags and name keys); the last frame stays in :attr:`records`, so the
    caller reuses it instead of reading the same records again.
    """

    def __init__(
        self,
        engine: Engine,
        columns: Sequence[str] | None = None,
        prepare: Callable[[pl.DataFrame], pl.DataFrame] | None = None,
    ) -> None:
        self.engine = engine
        self.columns = tuple(columns) if columns else None
        self.prepare = prepare
        self.records: pl.DataFrame | None = None

    def _interactions(self) -> Table:
        from cx.models import Interaction

        return Interaction.__table__

    def profiles_with_values(self, keys: pl.DataFrame) -> pl.DataFrame:
        """One join on (id_type, value): the ``ix_identifiers_type_value`` index answers it."""
        from cx.models import Identifier

        schema = {"id_type": pl.String, "value": pl.String, "profile_id": pl.String}
        if keys.is_empty():
            return pl.DataFrame(schema=schema)
        found = read_matching(
            self.engine, Identifier.__table__, tuple(schema), keys.select("id_type", "value").cast(pl.String)
        )
        return found.select(schema.keys()).cast(schema)  # type: ignore[arg-type]

    def block_members(self, birth_dates: Sequence[object], postcodes: Sequence[str]) -> pl.DataFrame:
        """Compared as stored (birth dates as dates), so the partial indexes on birth_date / postcode are used."""
        from etl.identity import BLOCK_MEMBER_COLUMNS, BLOCK_MEMBER_SCHEMA

        table = self._interactions()
        found = []
        if birth_dates:
            values = pl.Series("birth_date", list(birth_dates)).cast(pl.Date, strict=False).drop_nulls()
            if values.len():
                found.append(read_matching(self.engine, table, BLOCK_MEMBER_COLUMNS, values.to_frame()))
        if postcodes:
            values = pl.Series("postcode", list(postcodes), dtype=pl.String)
            found.append(read_matching(self.engine, table, BLOCK_MEMBER_COLUMNS, values.to_frame()))
        if not found:
            return pl.DataFrame(schema=BLOCK_MEMBER_SCHEMA)
        return pl.concat([f.cast(BLOCK_MEMBER_SCHEMA) for f in found])  # type: ignore[arg-type]

    def records_of_profiles(self, profile_ids: Sequence[str]) -> pl.DataFrame:
        from etl.identity import RECORD_COLUMNS

        columns = self.columns or (*RECORD_COLUMNS, "profile_id")
        values = pl.Series(list(profile_ids), dtype=pl.String)
        records = read_keyed(self.engine, self._interactions(), columns, "profile_id", values)
        self.records = self.prepare(records) if self.prepare is not None else records
        return self.records

    def profiles_of_records(self, interaction_ids: Sequence[str]) -> list[str]:
        values = pl.Series(list(interaction_ids), dtype=pl.String)
        found = read_keyed(self.engine, self._interactions(), ("profile_id",), "interaction_id", values)
        return sorted(set(found.get_column("profile_id").drop_nulls()))
