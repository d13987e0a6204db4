"""Which columns of a table a statement filters and orders on: the columns an index hint should name.

Read from sqlglot's syntax tree, not from the plan: SQLite's ``EXPLAIN QUERY PLAN`` does not print the
conditions of a SCAN, and PostgreSQL prints them as expressions to be parsed again. Each SELECT, UPDATE and
DELETE is looked at on its own (its FROM, its WHERE, its JOIN ... ON, its ORDER BY), so a column of a
subquery is never credited to the outer query's table of the same name.
"""

from __future__ import annotations

import sqlglot
from sqlglot import exp

from outgrow.monitor.fingerprint import replace_parameters

__all__ = ["filtered_columns", "table_aliases"]

_SCOPES = (exp.Select, exp.Update, exp.Delete)
_EQUALITY = (exp.EQ, exp.In, exp.Is, exp.NullSafeEQ)
_RANGE = (exp.GT, exp.GTE, exp.LT, exp.LTE)
# The wildcards that, leading a pattern, leave an index nothing to seek on.
_PATTERN: dict[type[exp.Expr], str] = {exp.Like: "%_", exp.Glob: "*?["}


def filtered_columns(sql: str, dialect: str, table: str, alias: str | None = None) -> tuple[str, ...]:
    """The columns of ``table`` (as ``alias`` when the plan names one) that ``sql`` compares for equality, then
    by range (``<``, ``BETWEEN``, ``LIKE 'x%'``), then orders by; duplicates dropped. When the statement filters
    the table on nothing else, its join keys (``ON e.project_id = p.id``): an index on them turns the scan of
    an inner loop into a search. Empty when the statement does not parse."""
    tree = _parse(sql, dialect)
    if tree is None:
        return ()
    fold = _Fold(dialect in ("postgresql", "postgres"))
    found: dict[str, list[str]] = {"equal": [], "range": [], "join": [], "order": []}
    for scope in tree.find_all(*_SCOPES):
        sources = _sources(scope)
        refs = [t for t in sources if isinstance(t, exp.Table) and fold(t.this) == fold(table)
                and (alias is None or fold(_alias_node(t)) == fold(alias))]
        if not refs:
            continue
        mine = _Belongs(scope, {fold(_alias_node(t)) for t in refs}, len(sources) == 1, fold)
        for condition in _conditions(scope):
            for column in condition.find_all(exp.Column, bfs=False):  # in the order written
                kind = _comparison(column) if mine(column) else None
                if kind is not None:
                    found[kind].append(fold.written(column.this))
        order = scope.args.get("order")
        aliases = {fold(e.args["alias"]) for e in scope.expressions if isinstance(e, exp.Alias)} \
            if isinstance(scope, exp.Select) else set()
        for term in order.expressions if order is not None else []:
            column = term.this if isinstance(term, exp.Ordered) else term
            if isinstance(column, exp.Column) and mine(column) and not (
                    column.args.get("table") is None and fold(column.this) in aliases):  # ORDER BY a select alias
                found["order"].append(fold.written(column.this))
    names = [*found["equal"], *found["range"]] or found["join"]
    unique: dict[str, str] = {}
    for name in [*names, *found["order"]]:
        unique.setdefault(name.lower() if not fold.postgres else name, name)
    return tuple(unique.values())


def table_aliases(sql: str, dialect: str) -> dict[str, str]:
    """The statement's table aliases (lower case) and the tables they name: SQLite's plan says ``SCAN e`` for
    ``FROM events e``."""
    tree = _parse(sql, dialect)
    if tree is None:
        return {}
    return {t.alias.lower(): t.name for t in tree.find_all(exp.Table) if t.alias}


def _parse(sql: str, dialect: str) -> exp.Expr | None:
    postgres = dialect in ("postgresql", "postgres")
    try:
        # sqlglot reads neither SQLite's ?1 and $name nor psycopg's %b: one style per dialect
        return sqlglot.parse_one(replace_parameters(sql, dialect, "%s" if postgres else "?"),
                                 read="postgres" if postgres else "sqlite")
    except Exception:  # ParseError, TokenError, or whatever else the application's text provokes: no hint
        return None


class _Fold:
    """A name as the engine resolves it: PostgreSQL folds unquoted names to lower case and keeps quoted ones;
    SQLite ignores case (a name is compared in lower case but reported as written)."""

    def __init__(self, postgres: bool) -> None:
        self.postgres = postgres

    def __call__(self, name: exp.Expr | str | None) -> str:
        if name is None:
            return ""
        if isinstance(name, str):
            return name if self.postgres else name.lower()
        text = name.name
        if not self.postgres:
            return text.lower()
        return text if isinstance(name, exp.Identifier) and name.quoted else text.lower()

    def written(self, name: exp.Expr) -> str:
        """The name to put in DDL: as PostgreSQL resolves it, as SQLite's statement wrote it."""
        return self(name) if self.postgres else name.name


class _Belongs:
    """Whether a column of ``scope`` is the table's: qualified by one of its names, or unqualified in a scope
    that reads from that table alone (a column of a subquery belongs to the subquery's scope)."""

    def __init__(self, scope: exp.Expr, names: set[str], alone: bool, fold: _Fold) -> None:
        self.scope, self.names, self.alone, self.fold = scope, names, alone, fold

    def __call__(self, column: exp.Column) -> bool:
        if column.find_ancestor(*_SCOPES) is not self.scope:
            return False
        qualifier = column.args.get("table")
        return self.fold(qualifier) in self.names if qualifier is not None else self.alone


def _alias_node(table: exp.Table) -> exp.Expr:
    alias = table.args.get("alias")
    node = alias.this if isinstance(alias, exp.TableAlias) and alias.this is not None else table.this
    assert isinstance(node, exp.Expr)
    return node


def _sources(scope: exp.Expr) -> list[exp.Expr]:
    """The tables and subqueries ``scope`` reads from directly."""
    sources: list[exp.Expr] = []
    if isinstance(scope, exp.Update | exp.Delete) and scope.this is not None:
        sources.append(scope.this)
    from_ = scope.args.get("from_")
    if from_ is not None:
        sources.append(from_.this)
    sources += [join.this for join in scope.args.get("joins") or []]
    sources += list(scope.args.get("using") or []) if isinstance(scope, exp.Delete) else []
    return sources


def _conditions(scope: exp.Expr) -> list[exp.Expr]:
    where = scope.args.get("where")
    found = [where.this] if where is not None else []
    return found + [j.args["on"] for j in scope.args.get("joins") or [] if j.args.get("on") is not None]


def _comparison(column: exp.Column) -> str | None:
    """How the condition around ``column`` uses it: "equal", "range", "join" (equal to another column), or
    None (inside a function, negated, a pattern with a leading wildcard: no plain index serves it)."""
    node: exp.Expr = column
    parent = column.parent
    while isinstance(parent, exp.Paren):
        node, parent = parent, parent.parent
    if parent is None or isinstance(parent.parent, exp.Not) or parent.args.get("negate"):
        return None
    if isinstance(parent, exp.EQ):
        other = parent.expression if parent.this is node else parent.this
        return "join" if isinstance(other, exp.Column) else "equal"
    if isinstance(parent, _EQUALITY) and parent.this is node:
        return "equal"
    if isinstance(parent, _RANGE) or (isinstance(parent, exp.Between) and parent.this is node):
        return "range"
    wildcards = _PATTERN.get(type(parent))
    if wildcards is not None and parent.this is node:
        pattern = parent.expression
        if isinstance(pattern, exp.Literal) and pattern.is_string and pattern.this[:1] not in ("", *wildcards):
            return "range"
    return None
