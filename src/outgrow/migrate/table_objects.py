"""A table's indexes (partial, expression, DESC, NOCASE), unique constraints and generated columns, translated
by the rules of :mod:`outgrow.migrate.expressions` or reported.

COLLATE NOCASE: SQLite compares such a column ignoring ASCII case. With citext (an extension the target has),
the column becomes citext and its equality and uniqueness ignore case as before; without it, the column stays
text and each unique constraint or index on it becomes one on ``lower(column)``, so uniqueness is kept but a
query's ``=`` becomes case-sensitive (the plan says so).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from psycopg import sql
from sqlglot import exp

from outgrow.migrate.expressions import TableScope, Untranslatable, parse_sqlite, translate
from outgrow.migrate.fts import DOCUMENT_COLUMN, FullText, match_note, tsvector_sql
from outgrow.migrate.introspect import Index, Table

__all__ = ["GeneratedColumn", "IndexPlan", "TableObjects", "column_collations", "plan_table_objects"]


@dataclass(frozen=True)
class IndexPlan:
    name: str
    keys: tuple[str, ...]  # PostgreSQL SQL of each key part, identifiers quoted
    unique: bool
    where: str | None = None
    method: str = "btree"

    def describe(self) -> str:
        return (f"{'unique ' if self.unique else ''}index {self.name} ({', '.join(self.keys)})"
                + (f" WHERE {self.where}" if self.where else "") + (f" USING {self.method}"
                                                                   if self.method != "btree" else ""))


@dataclass(frozen=True)
class GeneratedColumn:
    name: str
    pg_type: str
    expression: str  # PostgreSQL SQL
    source: str  # SQLite SQL


@dataclass
class TableObjects:
    uniques: list[tuple[str, ...]] = field(default_factory=list)  # ALTER TABLE ADD UNIQUE (plain columns)
    indexes: list[IndexPlan] = field(default_factory=list)
    generated: list[GeneratedColumn] = field(default_factory=list)
    problems: list[tuple[str, str]] = field(default_factory=list)  # (object id, why not carried)
    notes: list[str] = field(default_factory=list)


def column_collations(create_sql: str) -> dict[str, str]:
    """Each column's declared COLLATE (lowercase column name -> NOCASE/RTRIM/BINARY); Untranslatable when the
    table declares collations that cannot be read."""
    if "COLLATE" not in create_sql.upper():
        return {}
    tree = parse_sqlite(create_sql, "CREATE TABLE")
    found = {}
    schema = tree.this if isinstance(tree.this, exp.Schema) else None
    # only the table's own column definitions: UNIQUE (name COLLATE NOCASE) collates that constraint, not the column
    for column in (c for c in (schema.expressions if schema else []) if isinstance(c, exp.ColumnDef)):
        for constraint in column.constraints:
            if isinstance(constraint.kind, exp.CollateColumnConstraint):
                found[column.name.lower()] = constraint.kind.this.name.upper()
    return found


def plan_table_objects(table: Table, target_name: str, scope: TableScope, index_names: dict[str, str],
                       citext_columns: set[str], generated_types: dict[str, tuple[str, str]]) -> TableObjects:
    """``index_names`` maps SQLite index names to PostgreSQL ones; ``citext_columns`` are the (lowercase SQLite)
    NOCASE columns that became citext; ``generated_types`` the PostgreSQL (name, type) of each generated column."""
    objects = TableObjects()
    try:
        collations = column_collations(table.sql)
    except Untranslatable as exc:
        collations = {}
        objects.problems.append(("collations", f"{exc}: a NOCASE column's indexes would lose it"))
    for column in table.columns:
        if column.hidden in (2, 3):
            _generated(table, column.name, *generated_types[column.name], scope, objects)
    # Indexes may cover generated columns (a generated column may not use another, so those come from `scope`).
    indexed = TableScope({**scope.columns, **{c.name.lower(): generated_types[c.name] for c in table.columns
                                              if c.hidden in (2, 3)}}, scope.text_order_same)
    keys = _KeyRules(indexed, collations, citext_columns, objects.notes)
    for index in table.indexes:
        if index.origin == "pk":
            if any(k == "NOCASE" and c.lower() not in citext_columns for c, k in zip(index.columns, index.collations,
                                                                                    strict=False)):
                # The primary key stays as declared (case-sensitive); this index keeps SQLite's NOCASE uniqueness.
                objects.indexes.append(IndexPlan(_bounded(f"{target_name}_nocase_pkey"), tuple(
                    keys.column(c, k) for c, k in zip(index.columns, index.collations, strict=False)), True))
            continue
        try:
            if index.origin == "u":
                # index_xinfo gives each part's collation: UNIQUE (name COLLATE NOCASE) included
                parts = tuple(keys.column(c, k) for c, k in zip(index.columns, index.collations or
                                                                (None,) * len(index.columns), strict=False))
                if all(p.startswith('"') for p in parts):
                    objects.uniques.append(tuple(indexed.columns[c.lower()][0] for c in index.columns))
                else:
                    objects.indexes.append(IndexPlan(_bounded(f"{target_name}_{'_'.join(index.columns)}_key"),
                                                     parts, True))
            else:
                objects.indexes.append(_created_index(index, index_names[index.name], indexed, keys))
        except _NotCarried as exc:
            objects.problems.append((f"index {index.name}", str(exc)))
    if table.full_text is not None:
        _full_text(table.full_text, target_name, scope, objects)
    return objects


def _full_text(full_text: FullText, target_name: str, scope: TableScope, objects: TableObjects) -> None:
    if full_text.problem is not None:  # the rows are carried all the same; only the index is not
        objects.problems.append(("full-text index", full_text.problem))
        return
    names = {c: target for c, (target, _type) in scope.columns.items()}
    document = DOCUMENT_COLUMN if DOCUMENT_COLUMN not in names.values() else DOCUMENT_COLUMN + "_"
    objects.generated.append(GeneratedColumn(document, "tsvector", tsvector_sql(full_text, names),
                                             f"{full_text.module} index over {', '.join(full_text.indexed)}"))
    objects.indexes.append(IndexPlan(_bounded(f"{target_name}_{document}_idx"),
                                     (sql.Identifier(document).as_string(None),), False, method="gin"))
    objects.notes.append(match_note(target_name, document, full_text))


class _NotCarried(Exception):
    pass


@dataclass
class _KeyRules:
    scope: TableScope
    collations: dict[str, str]
    citext: set[str]
    notes: list[str]

    def column(self, name: str, collation: str | None) -> str:
        """One plain column as an index key, its collation kept."""
        if name.lower() not in self.scope.columns:
            raise _NotCarried(f"names the column {name!r}, which is not carried")
        quoted = '"' + self.scope.columns[name.lower()][0].replace('"', '""') + '"'
        collation = (collation or self.collations.get(name.lower()) or "BINARY").upper()
        if collation == "NOCASE":
            if name.lower() in self.citext:
                return quoted
            self.notes.append(f"NOCASE on {name}: indexed as lower({name}); PostgreSQL's = on the column is "
                              "case-sensitive, compare lower() in queries")
            return f"lower({quoted})"
        if collation == "BINARY":
            return f"({quoted}::text)" if name.lower() in self.citext else quoted
        raise _NotCarried(f"COLLATE {collation} has no PostgreSQL equivalent")

    def expression(self, node: exp.Expression) -> str:
        collation = None
        if isinstance(node, exp.Collate):
            collation, node = node.expression.name, node.this
        if isinstance(node, exp.Column) and not node.table:
            return self.column(node.name, collation)
        if collation is not None and collation.upper() != "BINARY":
            raise _NotCarried(f"COLLATE {collation} on an expression")
        translated = translate(node, self.scope)
        if translated.pg_sql is None:
            raise _NotCarried(f"{translated.source}: {translated.problem}")
        self.notes.extend(translated.notes)
        return f"({translated.pg_sql})"


def _created_index(index: Index, name: str, scope: TableScope, keys: _KeyRules) -> IndexPlan:
    try:
        tree = parse_sqlite(index.sql, "CREATE INDEX")
    except Untranslatable as exc:
        raise _NotCarried(str(exc)) from None
    params = tree.this.args.get("params") if isinstance(tree.this, exp.Index) else None
    ordered = params.args.get("columns") if params is not None else None
    if not ordered:
        raise _NotCarried("the CREATE INDEX could not be read")
    parts = []
    for part in ordered:
        node, desc = (part.this, bool(part.args.get("desc"))) if isinstance(part, exp.Ordered) else (part, False)
        parts.append(keys.expression(node) + (" DESC" if desc else ""))
    where = None
    if index.partial:
        clause = tree.find(exp.Where)
        if clause is None:
            raise _NotCarried("no WHERE found in a partial index")
        translated = translate(clause.this, scope, condition=True)
        if translated.pg_sql is None:
            raise _NotCarried(f"WHERE {translated.source}: {translated.problem}")
        keys.notes.extend(translated.notes)
        where = translated.pg_sql
    return IndexPlan(name, tuple(parts), index.unique, where)


def _generated(table: Table, name: str, target: str, pg_type: str, scope: TableScope, objects: TableObjects) -> None:
    try:
        tree = parse_sqlite(table.sql, "CREATE TABLE")
    except Untranslatable as exc:
        objects.problems.append((f"column {name}", str(exc)))
        return
    definition = next((c for c in tree.find_all(exp.ColumnDef) if c.name == name), None)
    computed = next((k.kind for k in definition.constraints if isinstance(k.kind, exp.ComputedColumnConstraint)),
                    None) if definition is not None else None
    if computed is None:
        objects.problems.append((f"column {name}", "its generation expression could not be read"))
        return
    translated = translate(computed.this.unnest(), scope)
    if translated.pg_sql is None:
        problem = translated.problem or ""
        if "unknown column" in problem:
            problem += " (a generated column: PostgreSQL cannot compute one from another)"
        objects.problems.append((f"column {name}", f"generated AS ({translated.source}): {problem}"))
        return
    computed_type = translated.result_type
    declared = next(c.declared for c in table.columns if c.name == name)
    if not declared.strip():
        if computed_type is None:  # SQLite keeps whatever type the expression gives: it must be known here
            objects.problems.append((f"column {name}", f"generated AS ({translated.source}) with no declared type "
                                                       "and a result type outgrow cannot tell"))
            return
        pg_type = computed_type
    elif pg_type == "bigint" and computed_type != "bigint":
        objects.problems.append((f"column {name}", f"an INTEGER generated column computed as "
                                                   f"{computed_type or 'a value of unknown type'}: SQLite keeps a "
                                                   "fraction, PostgreSQL would round it"))
        return
    objects.notes.extend(translated.notes)
    objects.generated.append(GeneratedColumn(target, pg_type, translated.pg_sql, translated.source))


def _bounded(name: str) -> str:
    """PostgreSQL keeps 63 bytes of a name."""
    return name.encode("utf-8")[:63].decode("utf-8", "ignore")
