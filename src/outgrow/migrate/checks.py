"""CHECK constraints: parsed with sqlglot, rewritten by outgrow's own rules, or reported.

Only constructs whose meaning is the same on both engines are translated: comparisons, AND/OR/NOT, IN,
BETWEEN, IS [NOT] NULL, +, -, *, length() of text or BLOB columns, GLOB (to an anchored POSIX regex) and
``typeof(x) = '...'`` where the PostgreSQL column type already guarantees it (kept only as ``x IS NOT NULL``,
what it still means, and said so). Text
compared with <, >, BETWEEN is not translated: SQLite orders text by bytes, PostgreSQL by the locale. Division
is not translated either: SQLite divides integers as integers only when both sides are integers at run time.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import sqlglot
from sqlglot import exp

__all__ = ["CheckPlan", "read_checks", "read_index_predicate"]

_ALLOWED = (
    exp.Column, exp.Literal, exp.Boolean, exp.Null, exp.Paren, exp.And, exp.Or, exp.Not, exp.In, exp.Between,
    exp.Is, exp.Neg, exp.Add, exp.Sub, exp.Mul, exp.EQ, exp.NEQ, exp.GT, exp.GTE, exp.LT, exp.LTE, exp.Length,
    exp.Glob, exp.Identifier, exp.Tuple, exp.Typeof,
)
_ORDERING = (exp.GT, exp.GTE, exp.LT, exp.LTE, exp.Between)
_TYPEOF_GUARANTEED = {"integer": {"bigint"}, "real": {"double precision"}, "text": {"text", "varchar"},
                      "blob": {"bytea"}}


@dataclass(frozen=True)
class CheckPlan:
    """One CHECK constraint: its SQLite text, and its PostgreSQL text or why it is not carried."""

    source: str
    name: str | None
    pg_sql: str | None
    problem: str | None
    note: str | None = None


def read_checks(create_sql: str, columns: dict[str, tuple[str, str]]) -> list[CheckPlan]:
    """The CHECK constraints of a CREATE TABLE, translated. ``columns`` maps each SQLite column name
    (lowercase) to (PostgreSQL name, PostgreSQL type)."""
    try:
        tree = sqlglot.parse_one(create_sql, read="sqlite")
    except sqlglot.errors.ParseError as exc:
        return [CheckPlan(create_sql[:80], None, None, f"the CREATE TABLE could not be parsed ({exc})")]
    checks = []
    for constraint in tree.find_all(exp.CheckColumnConstraint):
        named = constraint.parent if isinstance(constraint.parent, exp.Constraint) else None
        name = named.this.name if named is not None and named.this is not None else None
        checks.append(_translate(constraint.this, name, columns))
    return checks


def read_index_predicate(create_index_sql: str, columns: dict[str, tuple[str, str]]) -> CheckPlan:
    """The WHERE of a partial CREATE INDEX, translated by the same rules as a CHECK (an expression means the
    same on both engines, so a row is in the index on one exactly when it is on the other)."""
    try:
        tree = sqlglot.parse_one(create_index_sql, read="sqlite")
    except sqlglot.errors.ParseError as exc:
        return CheckPlan(create_index_sql[:80], None, None, f"the CREATE INDEX could not be parsed ({exc})")
    where = tree.find(exp.Where)
    if where is None:
        return CheckPlan(create_index_sql[:80], None, None, "no WHERE found in a partial index")
    return _translate(where.this, None, columns)


def _translate(expression: exp.Expression, name: str | None, columns: dict[str, tuple[str, str]]) -> CheckPlan:
    source = expression.sql(dialect="sqlite")
    note = None
    for node in expression.walk():
        if not isinstance(node, _ALLOWED):
            return CheckPlan(source, name, None, f"{type(node).__name__.upper()} in a CHECK is translated by a "
                                                 "later step of Migration II")
        if isinstance(node, exp.Column) and node.name.lower() not in columns:
            return CheckPlan(source, name, None, f"CHECK names an unknown column {node.name!r}")
        if isinstance(node, _ORDERING) and _touches_text(node, columns):
            return CheckPlan(source, name, None, "orders text: SQLite compares bytes, PostgreSQL the locale")
        if isinstance(node, exp.Length):
            column = node.this
            if not isinstance(column, exp.Column) or columns[column.name.lower()][1].split("(")[0] not in {
                    "text", "varchar", "bytea"}:
                return CheckPlan(source, name, None, "length() of a non-text value differs between the engines")
    rewritten = expression.copy()
    for node in list(rewritten.find_all(exp.EQ)):
        guaranteed = _typeof_guaranteed(node, columns)
        if guaranteed is not None:
            # typeof(NULL) is 'null': SQLite's check also refuses NULL, and that part must stay.
            not_null = exp.Not(this=exp.Is(this=exp.column(guaranteed), expression=exp.Null()))
            rewritten = _replace(rewritten, node, not_null)
            note = (f"typeof({guaranteed}) is guaranteed by the PostgreSQL column type; kept as "
                    f"{guaranteed} IS NOT NULL, since typeof(NULL) is 'null'")
    if any(isinstance(n, exp.Typeof) for n in rewritten.walk()):
        return CheckPlan(source, name, None, "typeof() that the PostgreSQL column type does not guarantee")
    for glob in list(rewritten.find_all(exp.Glob)):
        pattern = glob.expression
        if not (isinstance(pattern, exp.Literal) and pattern.is_string):
            return CheckPlan(source, name, None, "GLOB with a pattern that is not a constant")
        regex = exp.RegexpLike(this=glob.this, expression=exp.Literal.string(_glob_to_regex(pattern.this)))
        rewritten = _replace(rewritten, glob, regex)
    for column in list(rewritten.find_all(exp.Column)):
        target = columns[column.name.lower()][0]
        rewritten = _replace(rewritten, column, exp.column(target, quoted=True))
    return CheckPlan(source, name, rewritten.sql(dialect="postgres"), None, note)


def _replace(root: exp.Expression, node: exp.Expression, new: exp.Expression) -> exp.Expression:
    """Replace ``node`` by ``new`` in the tree, the root included."""
    if node is root:
        return new
    node.replace(new)
    return root


def _touches_text(node: exp.Expression, columns: dict[str, tuple[str, str]]) -> bool:
    # length() of text is a number: what it wraps is not compared as text.
    for child in node.walk(prune=lambda n: isinstance(n, exp.Length)):
        if isinstance(child, exp.Literal) and child.is_string:
            return True
        if isinstance(child, exp.Column) and columns[child.name.lower()][1].split("(")[0] in {"text", "varchar"}:
            return True
    return False


def _typeof_guaranteed(node: exp.EQ, columns: dict[str, tuple[str, str]]) -> str | None:
    call, literal = node.this, node.expression
    if isinstance(literal, exp.Typeof):
        call, literal = literal, call
    if not (isinstance(call, exp.Typeof) and isinstance(literal, exp.Literal)):
        return None
    argument = call.this
    if not isinstance(argument, exp.Column) or argument.name.lower() not in columns:
        return None
    pg_type = columns[argument.name.lower()][1].split("(")[0]
    return argument.name if pg_type in _TYPEOF_GUARANTEED.get(literal.this.lower(), set()) else None


def _glob_to_regex(pattern: str) -> str:
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
