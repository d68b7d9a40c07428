"""Core statements run on the driver's cursor: the statements of every call (SPEC S13).

A call's routing reads, its deposit's rows and events and its MWI lookup are a dozen and a half
small statements. Through `Connection.execute` each costs about twenty times its run in SQLite
(the execution context, the result's metadata, the events): in a switch worker, among forty
dialog threads, about 0.1 ms of CPU each. Run here, a voicemail call took 1.4 ms less CPU
(tests/bench/profile_worker.py, both ways side by side: 18.7 and 17.3 ms).

Rules of this file:
- What runs is what `Connection.execute` would run: SQLAlchemy's own compiler gives the SQL
  (once per dialect and set of parameter names), its bind processors the values sent, its
  result processors the values returned; the driver connection is the one of the session's
  transaction. Only the execution context is left out, so:
- A statement with anything for the context to do goes through `Connection.execute`, as
  before: expanding (IN) parameters, escaped parameter names, defaults that are neither a
  value nor a plain function (sequences, SQL expressions), duplicate or unusable column names
  in the result. Python-side defaults of an INSERT's columns left out are filled as the
  context would (a value, or the function called).
- A driver's error is raised as Connection.execute raises it (sqlalchemy.exc.IntegrityError,
  OperationalError, ...; a dropped connection invalidated).
- The result is read at once (the hot statements return a handful of rows) into named tuples:
  `.all()`, `.first()`, `.one()`, `.one_or_none()`, `.scalar()`, `.scalar_one()`,
  `.scalars()`.
- Statements are module constants: plans are cached by the statement object itself (MAX_PLANS
  at most, so a statement built for each call fills no memory: past them, the usual way).
"""

from __future__ import annotations

import collections
import keyword
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any, NamedTuple, cast

from sqlalchemy import Connection, Executable
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import MultipleResultsFound, NoResultFound
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.dml import Insert
from sqlalchemy.sql.elements import ClauseElement

Params = Mapping[str, Any]
Processor = Callable[[Any], Any] | None


class _Plan(NamedTuple):
    sql: str
    positional: tuple[str, ...] | None
    """Parameter names in order (qmark, format); None for named styles (pyformat)."""
    binds: tuple[tuple[str, Processor], ...]
    defaults: tuple[tuple[str, Callable[[], Any]], ...]
    """INSERT columns left out that have a Python-side default: name and how to get it."""
    result_types: tuple[Any, ...]
    row: type | None


MAX_PLANS = 512
"""Plans kept at most: statements built on the fly past them go through Connection.execute."""
_plans: dict[tuple[int, str, tuple[str, ...]], _Plan | None] = {}
_keep: dict[int, Executable] = {}
"""The statements planned (their ids key the plans: kept alive so an id is never reused)."""
_lock = threading.Lock()
_results: dict[tuple[int, str, tuple[Any, ...]], tuple[Processor, ...]] = {}


class Rows:
    """A statement's rows, read at once."""

    __slots__ = ("rows",)

    def __init__(self, rows: list[Any]) -> None:
        self.rows = rows

    def __iter__(self) -> Iterator[Any]:
        return iter(self.rows)

    def all(self) -> list[Any]:
        return self.rows

    def first(self) -> Any:
        return self.rows[0] if self.rows else None

    def one_or_none(self) -> Any:
        if len(self.rows) > 1:
            raise MultipleResultsFound("Multiple rows were found when one or none was required")
        return self.rows[0] if self.rows else None

    def one(self) -> Any:
        if not self.rows:
            raise NoResultFound("No row was found when one was required")
        return self.one_or_none()

    def scalar(self) -> Any:
        return self.rows[0][0] if self.rows else None

    def scalar_one(self) -> Any:
        return self.one()[0]

    def scalars(self) -> Rows:
        return Rows([r[0] for r in self.rows])


class Core:
    """The connection of a session's transaction, for the hot path's Core statements."""

    __slots__ = ("_key", "conn", "dialect")

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self.dialect = conn.dialect
        self._key = f"{self.dialect.name}+{self.dialect.driver}"

    def execute(
        self, statement: Executable, params: Params | Sequence[Params] | None = None
    ) -> Rows:
        batch: list[Params] | None = None
        if params is None or isinstance(params, Mapping):
            first: Params = params or {}
        else:
            batch = list(params)
            if not batch:
                return Rows([])
            first = batch[0]
        plan = self._plan(statement, first)
        if plan is None:
            result = self.conn.execute(statement, params)
            return Rows(list(result) if result.returns_rows else [])
        dbapi = self.conn.connection.driver_connection
        assert dbapi is not None
        cursor = dbapi.cursor()
        values: Any = None
        try:
            if batch is not None:
                values = [_values(plan, p) for p in batch]
                cursor.executemany(plan.sql, values)
                return Rows([])
            values = _values(plan, first)
            cursor.execute(plan.sql, values)
            if plan.row is None:
                return Rows([])
            raw = cursor.fetchall()
            description = cursor.description
        except self.dialect.loaded_dbapi.Error as exc:
            # As Connection.execute does: the driver's error as SQLAlchemy's (IntegrityError,
            # OperationalError, ...), and a connection the database dropped invalidated.
            self.conn._handle_dbapi_exception(exc, plan.sql, values, cursor, None)
            raise  # not reached: the line above raises
        finally:
            cursor.close()
        procs = self._result_processors(plan, statement, description)
        make = plan.row
        if any(procs):
            return Rows(
                [
                    make(*[v if p is None else p(v) for p, v in zip(procs, r, strict=True)])
                    for r in raw
                ]
            )
        return Rows([make(*r) for r in raw])

    def _plan(self, statement: Executable, params: Params) -> _Plan | None:
        key = (id(statement), self._key, tuple(params))
        try:
            return _plans[key]
        except KeyError:
            pass
        if len(_plans) >= MAX_PLANS:  # not a module constant: the usual way, uncached
            return None
        plan = _make_plan(statement, self.dialect, tuple(params))
        with _lock:
            _keep[id(statement)] = statement
            _plans[key] = plan
        return plan

    def _result_processors(
        self, plan: _Plan, statement: Executable, description: Any
    ) -> tuple[Processor, ...]:
        coltypes = tuple(d[1] for d in description)
        key = (id(statement), self._key, coltypes)
        procs = _results.get(key)
        if procs is None:
            procs = tuple(
                t._cached_result_processor(self.dialect, c)
                for t, c in zip(plan.result_types, coltypes, strict=True)
            )
            _results[key] = procs
        return procs


def _values(plan: _Plan, params: Params) -> Any:
    values = dict(params)
    for name, default in plan.defaults:
        if name not in values:
            values[name] = default()
    processed = {
        name: values[name] if proc is None else proc(values[name]) for name, proc in plan.binds
    }
    if plan.positional is None:
        return processed
    return [processed[name] for name in plan.positional]


def _make_plan(statement: Executable, dialect: Dialect, keys: tuple[str, ...]) -> _Plan | None:
    is_insert = isinstance(statement, Insert)
    compiled = cast(ClauseElement, statement).compile(
        dialect=dialect, column_keys=list(keys) if is_insert else None
    )
    assert isinstance(compiled, SQLCompiler)
    if compiled.escaped_bind_names or any(b.expanding for b in compiled.binds.values()):
        return None
    defaults: list[tuple[str, Callable[[], Any]]] = []
    for column in compiled.insert_prefetch:
        default = column.default
        if default is None or column.key in keys:
            continue
        if getattr(default, "is_scalar", False):
            defaults.append((column.key, lambda v=default.arg: v))  # type: ignore[attr-defined,misc]
        elif getattr(default, "is_callable", False):
            fn = default.arg  # type: ignore[attr-defined]
            defaults.append((column.key, lambda fn=fn: fn(None)))  # type: ignore[misc]
        else:
            return None
    if compiled.update_prefetch:
        return None
    # Values that are part of the statement (a literal compared in a WHERE clause).
    fixed = compiled.construct_params(_check=False)
    for name, value in fixed.items():
        if name not in keys and value is not None and not any(n == name for n, _ in defaults):
            defaults.append((name, lambda v=value: v))  # type: ignore[misc]
    # The parameters as rendered (compiled.binds also holds anonymous parameters by their
    # internal key): in order for a positional style, else the names construct_params gives.
    names = list(dict.fromkeys(compiled.positiontup or ())) if dialect.positional else list(fixed)
    if any(name not in compiled.binds for name in names):
        return None
    binds = tuple(
        (name, compiled.binds[name].type._cached_bind_processor(dialect)) for name in names
    )
    columns = tuple(entry[0] for entry in compiled._result_columns)
    if columns and (
        len(set(columns)) != len(columns)
        or not all(c.isidentifier() and not keyword.iskeyword(c) for c in columns)
        or any(c.startswith("_") for c in columns)
    ):
        return None
    if not columns and (compiled.returning or getattr(statement, "is_select", False)):
        return None
    row: type | None = collections.namedtuple("Row", columns) if columns else None
    return _Plan(
        sql=compiled.string,
        positional=tuple(compiled.positiontup or ()) if dialect.positional else None,
        binds=binds,
        defaults=tuple(defaults),
        result_types=tuple(entry[3] for entry in compiled._result_columns),
        row=row,
    )
