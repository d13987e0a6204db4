"""Names in views and trigger bodies: which migrated table a reference means, and its PostgreSQL spelling.

A :class:`QueryScope` knows every migrated table (and view) by its SQLite name, with each column's PostgreSQL
name and type, so :mod:`outgrow.migrate.expressions` can rewrite a whole statement: tables become
schema-qualified quoted names, columns quoted names, table aliases quoted in lowercase everywhere they appear
(SQLite matches them ignoring case; quoting keeps any character harmless), and ``NEW``/``OLD`` stay the
trigger's records.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlglot import exp

from outgrow.migrate.expressions import ColumnRef, Untranslatable

__all__ = ["QueryScope", "Relation"]


@dataclass(frozen=True)
class Relation:
    """A migrated table or view: PostgreSQL name, and columns (lowercase SQLite name -> (name, type or None))."""

    name: str
    columns: dict[str, tuple[str, str | None]]
    affinities: dict[str, str] = field(default_factory=dict)  # lowercase SQLite name -> SQLite affinity
    nocase: frozenset[str] = frozenset()  # lowercase SQLite names declared COLLATE NOCASE


@dataclass
class QueryScope:
    schema: str
    relations: dict[str, Relation]  # lowercase SQLite name -> Relation
    text_order_same: bool = False
    records: dict[str, str] = field(default_factory=dict)  # NEW/OLD (uppercase) -> lowercase SQLite table
    aliases: dict[str, str] = field(default_factory=dict)  # alias (lowercase) -> lowercase SQLite table
    used: set[str] = field(default_factory=set)  # lowercase SQLite tables the statement reads or writes
    outputs: set[str] = field(default_factory=set)  # lowercase output aliases (SELECT x AS total)
    notes: list[str] = field(default_factory=list)  # remarks gathered while translating (for the plan)

    def bind(self, statement: exp.Expression) -> None:
        """Learn the statement's table references and aliases (before translating it)."""
        for table in statement.find_all(exp.Table):
            name = table.name.lower()
            if table.args.get("db") is not None and table.args["db"].name.lower() not in {"main"}:
                raise Untranslatable(f"a table in another database: {table.sql(dialect='sqlite')}")
            if name not in self.relations:
                if isinstance(table.parent, exp.From | exp.Join) and _is_cte(table, name):
                    raise Untranslatable("WITH (a common table expression)")
                raise Untranslatable(f"uses {table.name!r}, which is not migrated")
            self.used.add(name)
            if table.alias:
                if table.args["alias"].columns:
                    raise Untranslatable("a table alias with a column list")
                self.aliases[table.alias.lower()] = name
        self.outputs |= {alias.alias.lower() for alias in statement.find_all(exp.Alias)}

    def column(self, node: exp.Column) -> ColumnRef:
        qualifier = node.table
        if qualifier.upper() in self.records:
            relation = self.relations[self.records[qualifier.upper()]]
            return self._ref(relation, node.name, qualifier.upper(), quoted=False)
        if qualifier:
            lowered = qualifier.lower()
            if lowered in self.aliases:
                return self._ref(self.relations[self.aliases[lowered]], node.name, lowered, quoted=True)
            if lowered in self.relations:
                relation = self.relations[lowered]
                return self._ref(relation, node.name, relation.name, quoted=True)
            raise Untranslatable(f"names an unknown table {qualifier!r}")
        found = [self.relations[t] for t in sorted(self.used) if node.name.lower() in self.relations[t].columns]
        if not found:
            # An output alias (ORDER BY total) is kept; any other name is one no table has, which SQLite reads
            # as a string when it is double-quoted (outgrow.migrate.expressions), else refuses.
            if node.name.lower() in self.outputs:
                return ColumnRef(node.name, None)
            if isinstance(node.this, exp.Identifier) and node.this.quoted:
                return ColumnRef(node.name, None, known=False)
            raise Untranslatable(f"names an unknown column {node.name!r}")
        lowered, relation = node.name.lower(), found[0]
        types = {r.columns[lowered][1] for r in found}
        alone = len(found) == 1  # several tables have it: SQLite would call it ambiguous; nothing is assumed
        return ColumnRef(relation.columns[lowered][0], types.pop() if len(types) == 1 else None,
                         affinity=relation.affinities.get(lowered) if alone else None,
                         nocase=alone and lowered in relation.nocase)

    def table(self, node: exp.Table) -> exp.Table:
        relation = self.relations[node.name.lower()]
        new = exp.table_(exp.to_identifier(relation.name, quoted=True), db=exp.to_identifier(self.schema, quoted=True))
        if node.alias:
            new.set("alias", exp.TableAlias(this=exp.to_identifier(node.alias.lower(), quoted=True)))
        return new

    def _ref(self, relation: Relation, name: str, qualifier: str, *, quoted: bool) -> ColumnRef:
        if name == "*":
            return ColumnRef("*", None, qualifier, qualifier_quoted=quoted)
        column = relation.columns.get(name.lower())
        if column is None:
            raise Untranslatable(f"names an unknown column {name!r} of {relation.name}")
        return ColumnRef(column[0], column[1], qualifier, qualifier_quoted=quoted,
                         affinity=relation.affinities.get(name.lower()), nocase=name.lower() in relation.nocase)


def _is_cte(table: exp.Table, name: str) -> bool:
    root = table.root()
    return any(cte.alias.lower() == name for cte in root.find_all(exp.CTE))
