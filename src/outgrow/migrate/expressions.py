"""SQLite expressions rewritten for PostgreSQL by outgrow's own rules, or refused with the reason.

sqlglot parses; the rewrite is a whitelist, because a generic transpiler produces SQL PostgreSQL accepts but
that means something else (sqlglot's sqlite->postgres output was right in 28 of 178 probes measured). Each
rule keeps the meaning on both engines: GLOB becomes an anchored regex, LIKE (case-insensitive for ASCII in
SQLite, no escape character) becomes ILIKE ... ESCAPE '', ``a IS b`` becomes IS NOT DISTINCT FROM,
``json_extract(doc, '$.a.b')`` becomes ``doc #>> '{a,b}'``, 0/1 compared with a boolean column become
false/true. Text compared with <, >, BETWEEN is refused unless the text columns use the C collation (SQLite
compares bytes, PostgreSQL the locale); division is refused (SQLite divides integers as integers only when
both are integers at run time); so are functions whose results differ (round() rounds half to even on
PostgreSQL doubles, substr() counts a negative start from the end on SQLite).

The same rules serve CHECK constraints, index expressions and predicates, generated columns, views and
trigger bodies; each caller says how a column reference resolves (:class:`Scope`).
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from typing import Protocol

import sqlglot
from sqlglot import exp

__all__ = [
    "ColumnRef",
    "Scope",
    "TableScope",
    "Translated",
    "Untranslatable",
    "clock_kind",
    "clock_sql",
    "glob_to_regex",
    "parse_sqlite",
    "sqlite_affinity",
    "translate",
]

_TABLE_OPTIONS = re.compile(r"\)\s*(?:(?:WITHOUT\s+ROWID|STRICT)\s*,?\s*)+;?\s*$", re.IGNORECASE)


class _NoCommandFallbackNoise(logging.Filter):
    """sqlglot logs a warning when it reads a statement only as an opaque command; :func:`parse_sqlite` turns
    that case into a reported reason instead, so the warning would only be noise on the user's terminal."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "Falling back to parsing as a 'Command'" not in record.getMessage()


logging.getLogger("sqlglot").addFilter(_NoCommandFallbackNoise())


def parse_sqlite(text: str, what: str) -> exp.Expression:
    """One SQLite statement or expression, parsed; Untranslatable (naming ``what``) when sqlglot cannot read
    it, including when it would only keep it as an opaque command (its parts would then be invisible)."""
    if re.match(r"\s*CREATE\s+TABLE\b", text, re.IGNORECASE):
        text = _TABLE_OPTIONS.sub(")", text)  # sqlglot does not read WITHOUT ROWID / STRICT; neither matters here
    try:
        tree = sqlglot.parse_one(text, read="sqlite")
    except sqlglot.errors.SqlglotError as exc:
        raise Untranslatable(f"the {what} could not be parsed ({str(exc).splitlines()[0]})") from None
    if isinstance(tree, exp.Command) or not isinstance(tree, exp.Expression):
        raise Untranslatable(f"the {what} could not be parsed (a syntax sqlglot does not read)")
    return tree

# SQLite reads its clock once per statement: statement_timestamp(), not now() (the transaction's start).
_UTC_NOW = "(statement_timestamp() AT TIME ZONE 'UTC')"
_CLOCK_TEXT = {"timestamp": "YYYY-MM-DD HH24:MI:SS", "date": "YYYY-MM-DD", "time": "HH24:MI:SS"}
_CLOCK_CALLS = {"datetime": "timestamp", "date": "date", "time": "time"}


def clock_sql(clock: str, pg_type: str | None) -> str | None:
    """SQLite's clock (UTC, whole seconds; ``clock`` is timestamp, date or time) as PostgreSQL computes it for a
    value of ``pg_type``: the same instant for timestamp/date columns, the same text for text ones (and when the
    type is not known). None when the column could not hold SQLite's text."""
    base = (pg_type or ("bigint" if clock == "epoch_int" else "text")).split("(")[0]
    if clock in {"epoch", "epoch_int"}:  # strftime('%s', 'now'): whole seconds since 1970, as text
        seconds = "floor(extract(epoch FROM statement_timestamp()))::bigint"
        return seconds if base in _NUMERIC else f"{seconds}::text" if base in {"text", "varchar"} else None
    if base == "timestamp" and clock == "timestamp":
        return f"date_trunc('second', {_UTC_NOW})"
    if base == "timestamptz" and clock == "timestamp":
        return "date_trunc('second', statement_timestamp())"
    if base == "date" and clock == "date":
        return f"({_UTC_NOW})::date"
    if base in {"text", "varchar", "citext"}:
        return f"to_char({_UTC_NOW}, '{_CLOCK_TEXT[clock]}')"
    return None

_TEXT = {"text", "varchar", "citext"}
_NUMERIC = {"bigint", "integer", "smallint", "double precision", "real", "numeric"}
_TYPEOF_GUARANTEED = {"integer": {"bigint"}, "real": {"double precision"}, "text": {"text", "varchar", "citext"},
                      "blob": {"bytea"}}
# Nodes that mean the same on both engines as they stand (their children are checked on their own).
_SAME = (
    exp.Column, exp.Literal, exp.Boolean, exp.Null, exp.Paren, exp.And, exp.Or, exp.Not, exp.In, exp.Between,
    exp.Is, exp.Neg, exp.Add, exp.Sub, exp.Mul, exp.EQ, exp.NEQ, exp.GT, exp.GTE, exp.LT, exp.LTE, exp.Identifier,
    exp.Tuple, exp.Coalesce, exp.Nullif, exp.Case, exp.If, exp.Lower, exp.Upper, exp.Abs, exp.Replace, exp.Star,
    exp.NullSafeEQ, exp.NullSafeNEQ, exp.Count, exp.Sum, exp.Min, exp.Max, exp.Distinct, exp.Alias,
    exp.Length, exp.Glob, exp.Like, exp.Typeof, exp.Substring, exp.JSONExtractScalar, exp.JSONPath, exp.JSONPathRoot,
    exp.JSONPathKey, exp.JSONPathSubscript, exp.DPipe, exp.Trim, exp.CurrentTimestamp, exp.CurrentDate,
    exp.CurrentTime, exp.Exists, exp.Collate, exp.Var,
)
_ORDERING = (exp.GT, exp.GTE, exp.LT, exp.LTE, exp.Between, exp.Min, exp.Max)
# Where a column's collation decides the result: comparisons, sorting, grouping, min/max, and being selected.
_COLLATED_USES = (exp.EQ, exp.NEQ, exp.GT, exp.GTE, exp.LT, exp.LTE, exp.In, exp.Between, exp.NullSafeEQ,
                  exp.NullSafeNEQ, exp.Ordered, exp.Group, exp.Distinct, exp.Min, exp.Max, exp.Select, exp.Alias)
_PREDICATES = (exp.EQ, exp.NEQ, exp.GT, exp.GTE, exp.LT, exp.LTE, exp.In, exp.Between, exp.Is, exp.Like, exp.Glob,
               exp.And, exp.Or, exp.Not, exp.Exists, exp.NullSafeEQ, exp.NullSafeNEQ, exp.Boolean)


class Untranslatable(Exception):
    """The first construct that blocks a translation, in words."""


@dataclass(frozen=True)
class ColumnRef:
    """What a SQLite column reference becomes: its PostgreSQL name (and qualifier) and type, when known."""

    name: str
    pg_type: str | None
    qualifier: str | None = None
    qualifier_quoted: bool = True  # False for an alias or NEW/OLD, which PostgreSQL folds like the query does
    known: bool = True  # False: the name matches no column or output alias
    affinity: str | None = None  # SQLite's column affinity (TEXT, INTEGER, REAL, NUMERIC, BLOB), when known
    nocase: bool = False  # declared COLLATE NOCASE in SQLite


class Scope(Protocol):
    """How the names in an expression resolve."""

    text_order_same: bool  # every text column compares in the C collation (SQLite's byte order)

    def column(self, node: exp.Column) -> ColumnRef:
        """The PostgreSQL reference for ``node``; raise Untranslatable for an unknown column."""
        ...

    def table(self, node: exp.Table) -> exp.Table:
        """The PostgreSQL table for a table reference (views and trigger bodies)."""
        ...


@dataclass
class TableScope:
    """Columns of one table: CHECKs, indexes, generated columns. ``columns`` maps each SQLite column name
    (lowercase) to (PostgreSQL name, PostgreSQL type)."""

    columns: dict[str, tuple[str, str]]
    text_order_same: bool = False
    affinities: dict[str, str] = field(default_factory=dict)  # lowercase name -> SQLite affinity
    nocase: frozenset[str] = frozenset()  # lowercase names declared COLLATE NOCASE

    def column(self, node: exp.Column) -> ColumnRef:
        found = self.columns.get(node.name.lower())
        if found is None or node.table:
            raise Untranslatable(f"names an unknown column {node.sql(dialect='sqlite')!r}")
        return ColumnRef(found[0], found[1], affinity=self.affinities.get(node.name.lower()),
                         nocase=node.name.lower() in self.nocase)

    def table(self, node: exp.Table) -> exp.Table:
        raise Untranslatable("a table reference where only this table's columns are allowed")


@dataclass(frozen=True)
class Translated:
    source: str
    pg_sql: str | None
    problem: str | None = None
    notes: tuple[str, ...] = ()
    result_type: str | None = None  # the PostgreSQL type of the result, when outgrow can tell


@dataclass
class _Rewrite:
    scope: Scope
    notes: list[str] = field(default_factory=list)

    def quoted_string(self, node: exp.Column) -> exp.Literal | None:
        """SQLite reads a double-quoted name that matches no column as a string literal (a misfeature old
        schemas rely on, as in DEFAULT "" or CHECK (kind == "root")): the literal, or None for a real column."""
        if node.table or not isinstance(node.this, exp.Identifier) or not node.this.quoted:
            return None
        try:
            known = self.scope.column(node).known
        except Untranslatable:
            known = False
        return None if known else exp.Literal.string(node.name)

    def type_of(self, node: exp.Expression) -> str | None:
        """The PostgreSQL base type of a simple expression, when known."""
        if isinstance(node, exp.Paren):
            return self.type_of(node.this)
        if isinstance(node, exp.Column):
            if self.quoted_string(node) is not None:
                return "text"
            pg_type = self.scope.column(node).pg_type
            return pg_type.split("(")[0].removesuffix(" GENERATED BY DEFAULT AS IDENTITY") if pg_type else None
        if isinstance(node, exp.Literal):
            return "text" if node.is_string else ("bigint" if re.fullmatch(r"-?\d+", node.this) else "numeric")
        if isinstance(node, exp.Lower | exp.Upper | exp.DPipe | exp.Trim | exp.Replace | exp.Substring
                      | exp.JSONExtractScalar):
            return "text"
        if isinstance(node, exp.Length | exp.Count):
            return "bigint"
        if isinstance(node, _PREDICATES):
            return "boolean"
        if isinstance(node, exp.Add | exp.Sub | exp.Mul | exp.Neg | exp.Abs):
            types = {self.type_of(part) for part in node.iter_expressions()}
            if types <= {"bigint", "integer"}:
                return "bigint"
            if types <= _NUMERIC and "double precision" in types:
                return "double precision"
            return None
        if isinstance(node, exp.Coalesce | exp.Nullif):
            types = {self.type_of(part) for part in [node.this, *node.expressions, node.args.get("expression")]
                     if part is not None}
            return types.pop() if len(types) == 1 else None
        return None

    def check(self, node: exp.Expression) -> None:
        """Raise Untranslatable for the first construct whose meaning differs between the engines."""
        for child in node.walk(prune=lambda n: _clock_kind(n) is not None):
            if isinstance(child, exp.Select | exp.From | exp.Join | exp.Where | exp.Group | exp.Having | exp.Order
                          | exp.Ordered | exp.Limit | exp.Offset | exp.Table | exp.TableAlias | exp.Subquery
                          | exp.Union | exp.Intersect | exp.Except | exp.Avg | exp.GroupConcat | exp.Insert
                          | exp.Update | exp.Delete | exp.Values | exp.Schema | exp.OnConflict):
                continue  # clauses of a statement (views, triggers): their expressions are checked as walked
            if _clock_kind(child) is not None:
                continue
            if not isinstance(child, _SAME):
                raise Untranslatable(f"{_construct(child)} has no translation with the same meaning")
            if isinstance(child, exp.Column) and not isinstance(child.this, exp.Star):
                if self.quoted_string(child) is None:
                    self.scope.column(child)
            elif isinstance(child, _ORDERING) and not self.scope.text_order_same and self._orders_text(child):
                raise Untranslatable("orders text: SQLite compares bytes, PostgreSQL the locale (--collation C "
                                     "keeps SQLite's order)")
            elif isinstance(child, exp.Length):
                if self.type_of(child.this) not in _TEXT | {"bytea"}:
                    raise Untranslatable("length() of a value that is not text or a BLOB differs between the engines")
            elif isinstance(child, exp.Substring):
                start, length = child.args.get("start"), child.args.get("length")
                if not _positive_int(start) or (length is not None and not _positive_int(length, zero=True)):
                    raise Untranslatable("substr() with a start that is not a positive constant (SQLite counts a "
                                         "negative start from the end)")
            elif isinstance(child, exp.Trim) and (child.args.get("expression") is not None
                                                  or child.args.get("position")):
                raise Untranslatable("trim() with characters or a side differs in spelling; only trim(x) is carried")
            elif isinstance(child, exp.DPipe):
                for side in (child.this, child.expression):
                    if self.type_of(side) not in _TEXT | {"bigint", "integer"}:
                        raise Untranslatable("|| over a value that is not text or an integer (SQLite turns any "
                                             "value into text, PostgreSQL only some)")
            elif isinstance(child, exp.JSONExtractScalar) and not isinstance(child.this, exp.Column):
                raise Untranslatable("json_extract() of something other than a column")
            elif isinstance(child, exp.Collate) and child.expression.name.upper() != "BINARY":
                raise Untranslatable(f"COLLATE {child.expression.name} in an expression")

    def _orders_text(self, node: exp.Expression) -> bool:
        return any(self.type_of(child) in _TEXT for child in node.iter_expressions())

    def rewrite(self, node: exp.Expression, condition: bool = False) -> exp.Expression:
        """The PostgreSQL tree for a checked expression: the rules first, then the names (a rule's new node is
        not walked again by sqlglot's transform, so renaming is its own pass)."""
        ruled = node.transform(self._rewrite_one)
        if condition:
            ruled = self.truth(ruled)
        return ruled.transform(self._rename)

    def _rename(self, node: exp.Expression) -> exp.Expression:
        if isinstance(node, exp.Column) and isinstance(node.this, exp.Star):
            if node.table:  # t.*: only the qualifier is a name
                ref = self.scope.column(exp.column("*", table=node.table))
                node.set("table", exp.to_identifier(ref.qualifier, quoted=ref.qualifier_quoted))
            return node
        if isinstance(node, exp.Column):
            literal = self.quoted_string(node)
            if literal is not None:
                self.notes.append(f'"{node.name}" names no column, so SQLite reads it as the string '
                                  f"'{node.name}'; carried as that string")
                return literal
            ref = self.scope.column(node)
            qualifier = exp.to_identifier(ref.qualifier, quoted=ref.qualifier_quoted) if ref.qualifier else None
            renamed: exp.Expression = exp.Column(this=exp.to_identifier(ref.name, quoted=True), table=qualifier)
            compared = isinstance(node.parent, _COLLATED_USES)
            if ref.pg_type == "citext" and not compared:
                # NOCASE only governs comparisons in SQLite; GLOB, replace(), || and the rest see the bytes
                renamed = exp.cast(renamed, "text")
            return renamed
        if isinstance(node, exp.Table):
            return self.scope.table(node)
        return node

    def _rewrite_one(self, node: exp.Expression) -> exp.Expression:
        if isinstance(node, exp.EQ | exp.NEQ | exp.GT | exp.GTE | exp.LT | exp.LTE | exp.In | exp.Between):
            self._nocase(node)
        if isinstance(node, exp.EQ | exp.NEQ | exp.GT | exp.GTE | exp.LT | exp.LTE):
            self._affinity(node.this, [node.expression])
            self._affinity(node.expression, [node.this])
        elif isinstance(node, exp.In):
            self._affinity(node.this, node.expressions)
        if isinstance(node, exp.And | exp.Or | exp.Not):
            for key in ("this", "expression"):
                if isinstance(node.args.get(key), exp.Expression):
                    node.set(key, self.truth(node.args[key]))
        if isinstance(node, exp.If):
            node.set("this", self.truth(node.this))
        if isinstance(node, exp.Where | exp.Having):
            node.set("this", self.truth(node.this))
        if isinstance(node, exp.EQ | exp.NEQ):
            self._typed_clock(node)
            return self._typeof(node) or node
        clock = _clock_kind(node)
        if clock is not None:
            return exp.Var(this=clock_sql(clock, None))
        if isinstance(node, exp.Is) and not isinstance(node.expression, exp.Null | exp.Boolean):
            return exp.NullSafeEQ(this=node.this, expression=node.expression)
        if isinstance(node, exp.Glob):
            pattern = node.expression
            if not (isinstance(pattern, exp.Literal) and pattern.is_string):
                raise Untranslatable("GLOB with a pattern that is not a constant")
            return exp.RegexpLike(this=node.this, expression=exp.Literal.string(glob_to_regex(pattern.this)))
        if isinstance(node, exp.Like):
            if node.args.get("escape") is not None:
                raise Untranslatable("LIKE ... ESCAPE")
            self.notes.append("LIKE -> ILIKE: SQLite's LIKE ignores case for ASCII letters only, ILIKE for all")
            like = exp.Escape(this=exp.ILike(this=node.this, expression=node.expression),
                              expression=exp.Literal.string(""))
            return exp.Not(this=exp.Paren(this=like)) if node.args.get("negate") else like
        if isinstance(node, exp.JSONExtractScalar):
            return self._json_path(node)
        if isinstance(node, exp.GroupConcat) and self.type_of(node.this) not in _TEXT:
            # string_agg takes text; SQLite's group_concat turns any value into text first
            node.set("this", exp.cast(node.this.copy(), "text"))
            return node
        if isinstance(node, exp.DPipe):
            # text || bigint is only STABLE in PostgreSQL; an explicit cast keeps it usable in indexes and
            # generated columns, and gives the same digits SQLite gives.
            for key in ("this", "expression"):
                side = node.args[key]
                if self.type_of(side) in {"bigint", "integer"}:
                    node.set(key, exp.cast(side.copy(), "text"))
            return node
        if isinstance(node, exp.Collate):
            # BINARY is SQLite's byte order: the C collation is PostgreSQL's.
            return exp.Collate(this=node.this, expression=exp.Identifier(this="C", quoted=True))
        if isinstance(node, exp.Typeof):
            raise Untranslatable("typeof() that the PostgreSQL column type does not guarantee")
        if isinstance(node, exp.Lower | exp.Upper):
            self.notes.append("lower/upper: SQLite folds ASCII letters only, PostgreSQL every letter")
        return node

    def _affinity(self, column: exp.Expression, literals: list[exp.Expression]) -> None:
        """SQLite compares a column with a constant after giving the constant the column's affinity
        (sqlite.org/datatype3.html#comparisons): ``code = 1`` on a TEXT column compares with '1', ``n = '5'`` on
        an INTEGER column with 5, and an untyped column compares storage classes as they are. The constant is
        written as SQLite reads it; a comparison PostgreSQL would make differently is refused."""
        if not isinstance(column, exp.Column) or self.quoted_string(column) is not None:
            return
        ref = self.scope.column(column)
        pg_type = self.type_of(column)
        for literal in literals:
            if not isinstance(literal, exp.Literal) or (pg_type is None and ref.affinity is None):
                continue  # a view's computed column: nothing known to convert by
            shown = f"'{literal.this}'" if literal.is_string else literal.this
            numeric_text = literal.is_string and re.fullmatch(r"\s*[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?\s*",
                                                              literal.this)
            if pg_type == "boolean":
                if literal.is_string or literal.this not in {"0", "1"}:
                    raise Untranslatable(f"compares the boolean column {column.name} with {shown}")
                literal.replace(exp.Boolean(this=literal.this == "1"))
            elif ref.affinity in {"TEXT", None} and pg_type in _TEXT:
                if not literal.is_string:
                    literal.replace(exp.Literal.string(literal.this))
            elif ref.affinity in {"INTEGER", "REAL", "NUMERIC", None} and pg_type in _NUMERIC:
                if numeric_text:
                    literal.replace(exp.Literal.number(literal.this.strip()))
                elif literal.is_string:
                    raise Untranslatable(f"compares the number column {column.name} with the text {shown} "
                                         "(never equal in SQLite, an error in PostgreSQL)")
            elif ref.affinity == "BLOB" and (literal.is_string == (pg_type in _TEXT)) and pg_type in _TEXT | _NUMERIC:
                continue  # an untyped column: the constant's class is the one the column holds
            else:
                raise Untranslatable(f"compares the {pg_type or 'untyped'} column {column.name} with {shown}: "
                                     "SQLite compares the stored value as it is, PostgreSQL converts the constant")

    def _typed_clock(self, node: exp.Expression) -> None:
        """``updated_at = CURRENT_TIMESTAMP`` (a comparison, or an UPDATE's SET): the clock in the column's type."""
        for column, other in ((node.this, node.expression), (node.expression, node.this)):
            clock = _clock_kind(other)
            if clock is not None and isinstance(column, exp.Column):
                rendered = clock_sql(clock, self.type_of(column))
                if rendered is None:
                    raise Untranslatable(f"the clock in a {self.type_of(column)} column")
                other.replace(exp.Var(this=rendered))
                return

    def _nocase(self, node: exp.Expression) -> None:
        """A comparison involving a COLLATE NOCASE column kept as text (--nocase lower, or no citext): SQLite
        compares ignoring case, so both sides are compared as lower()."""
        operands = [(key, value) for key, value in node.args.items()
                    if key in {"this", "expression", "low", "high"} and isinstance(value, exp.Expression)]
        operands += [("expressions", value) for value in node.args.get("expressions") or []]
        folded = [v for _k, v in operands if isinstance(v, exp.Column) and self.quoted_string(v) is None
                  and (ref := self.scope.column(v)).nocase and ref.pg_type != "citext"]
        if not folded:
            return
        self.notes.append(f"{folded[0].name} is COLLATE NOCASE and stays text: compared as lower() on both sides")
        for _key, value in operands:
            value.replace(exp.Lower(this=value.copy()))

    def truth(self, node: exp.Expression) -> exp.Expression:
        """A value used as a condition: SQLite takes a number's truth (0 false, NULL unknown, else true);
        PostgreSQL needs a boolean, so a number becomes ``(x <> 0)``."""
        if self.type_of(node) in _NUMERIC:
            return exp.Paren(this=exp.NEQ(this=node.copy(), expression=exp.Literal.number(0)))
        return node

    def _typeof(self, node: exp.Expression) -> exp.Expression | None:
        call, literal = node.this, node.expression
        if isinstance(literal, exp.Typeof):
            call, literal = literal, call
        if not (isinstance(node, exp.EQ) and isinstance(call, exp.Typeof) and isinstance(literal, exp.Literal)
                and isinstance(call.this, exp.Column)):
            return None
        # typeof() answers in lowercase: typeof(x) = 'INTEGER' is always false in SQLite
        if self.type_of(call.this) not in _TYPEOF_GUARANTEED.get(literal.this, set()):
            raise Untranslatable("typeof() that the PostgreSQL column type does not guarantee")
        name = call.this.sql(dialect="sqlite")
        # typeof(NULL) is 'null': SQLite's test also refuses NULL, and that part must stay.
        self.notes.append(f"typeof({name}) is guaranteed by the PostgreSQL column type; kept as {name} IS NOT NULL, "
                          "since typeof(NULL) is 'null'")
        return exp.Not(this=exp.Is(this=call.this, expression=exp.Null()))

    def _json_path(self, node: exp.JSONExtractScalar) -> exp.Expression:
        path = node.expression
        keys: list[str] = []
        for part in path.expressions if isinstance(path, exp.JSONPath) else [None]:
            if isinstance(part, exp.JSONPathRoot):
                continue
            if isinstance(part, exp.JSONPathKey) and isinstance(part.this, str):
                keys.append(part.this)
            elif isinstance(part, exp.JSONPathSubscript) and isinstance(part.this, int) and part.this >= 0:
                keys.append(str(part.this))
            else:
                raise Untranslatable("json_extract() with a path other than $.key, $.a.b or $.a[0]")
        if not keys:
            raise Untranslatable("json_extract() of the whole document")
        column = node.this
        pg_type = self.type_of(column)
        document: exp.Expression = column if pg_type == "jsonb" else exp.cast(column.copy(), "jsonb")
        self.notes.append("json_extract -> ->> / #>>: PostgreSQL gives every value as text, SQLite numbers as numbers")
        if len(keys) == 1 and not keys[0].isdigit():
            return exp.Paren(this=exp.JSONExtractScalar(this=document, expression=exp.JSONPath(
                expressions=[exp.JSONPathRoot(), exp.JSONPathKey(this=keys[0])]), only_json_types=True))
        literal = "{" + ",".join('"' + k.replace('\\', '\\\\').replace('"', '\\"') + '"' for k in keys) + "}"
        return exp.Paren(this=exp.JSONBExtractScalar(this=document, expression=exp.Literal.string(literal)))


def translate(expression: exp.Expression, scope: Scope, *, condition: bool = False) -> Translated:
    """``expression`` (parsed as SQLite) for PostgreSQL, or the reason it is not carried. ``condition``: it is
    used as a truth value (a CHECK, a WHERE), so a number there becomes ``(x <> 0)``."""
    source = expression.sql(dialect="sqlite")
    rewrite = _Rewrite(scope)
    try:
        rewrite.check(expression)
        result_type = rewrite.type_of(expression)
        pg = rewrite.rewrite(expression, condition)
    except Untranslatable as exc:
        return Translated(source, None, str(exc))
    return Translated(source, pg.sql(dialect="postgres"), None, tuple(dict.fromkeys(rewrite.notes)), result_type)


def sqlite_affinity(declared: str) -> str:
    """The affinity SQLite gives a column declared ``declared`` (sqlite.org/datatype3.html#affname)."""
    upper = declared.upper()
    if "INT" in upper:
        return "INTEGER"
    if any(word in upper for word in ("CHAR", "CLOB", "TEXT")):
        return "TEXT"
    if "BLOB" in upper or not upper.strip():
        return "BLOB"
    if any(word in upper for word in ("REAL", "FLOA", "DOUB")):
        return "REAL"
    return "NUMERIC"


def clock_kind(node: exp.Expr) -> str | None:
    """timestamp/date/time/epoch/epoch_int for SQLite's spellings of "now", else None."""
    return _clock_kind(node)


def _clock_kind(node: exp.Expr) -> str | None:
    """timestamp/date/time for SQLite's spellings of "now", else None."""
    if isinstance(node, exp.CurrentTimestamp):
        return "timestamp"
    if isinstance(node, exp.CurrentDate):
        return "date"
    if isinstance(node, exp.CurrentTime):
        return "time"
    if (isinstance(node, exp.TimeToStr) and isinstance(node.this, exp.TsOrDsToTimestamp)
            and isinstance(node.this.this, exp.Literal) and node.this.this.this.lower() == "now"
            and isinstance(node.args.get("format"), exp.Literal) and node.args["format"].this == "%s"):
        return "epoch"
    if (isinstance(node, exp.Cast) and node.to.this in {exp.DataType.Type.INT, exp.DataType.Type.BIGINT}
            and _clock_kind(node.this) == "epoch"):
        return "epoch_int"
    if isinstance(node, exp.Anonymous | exp.Date) and len(node.expressions or [node.this]) == 1:
        argument = (node.expressions or [node.this])[0]
        name = node.name.lower() if isinstance(node, exp.Anonymous) else "date"
        if name in _CLOCK_CALLS and isinstance(argument, exp.Literal) and argument.this.lower() == "now":
            return _CLOCK_CALLS[name]
    return None


def _construct(node: exp.Expr) -> str:
    """How a user would name a construct: a function call by its SQLite name, anything else by its kind."""
    if isinstance(node, exp.Anonymous):
        return f"{node.name}()"
    if isinstance(node, exp.Func):
        return f"{node.sql(dialect='sqlite').split('(')[0].lower()}()"
    if isinstance(node, exp.Div):
        return "division (SQLite divides integers as integers)"
    if isinstance(node, exp.Mod):
        return "% (remainder)"
    return type(node).__name__.upper()


def _positive_int(node: exp.Expression | None, *, zero: bool = False) -> bool:
    if not isinstance(node, exp.Literal) or node.is_string or not re.fullmatch(r"\d+", node.this):
        return False
    return int(node.this) > 0 or (zero and int(node.this) == 0)


def glob_to_regex(pattern: str) -> str:
    """GLOB is case-sensitive and matches the whole value: * any, ? one, [...] a class ([^...] negated)."""
    out, i = ["^"], 0
    while i < len(pattern):
        char = pattern[i]
        if char == "*":
            out.append(".*")
        elif char == "?":
            out.append(".")
        elif char == "[":
            end = pattern.find("]", i + 2)
            if end == -1:
                out.append(re.escape(char))
            else:
                out.append(pattern[i:end + 1])
                i = end
        else:
            out.append(re.escape(char))
        i += 1
    out.append("$")
    return "".join(out)
