"""PostgreSQL DDL for a plan: tables first (columns and NOT NULL only, so COPY runs without index upkeep),
then keys, unique constraints and indexes, then foreign keys once every table is loaded.
Every identifier is quoted, so reserved words (user, order, group) and mixed case work."""

from __future__ import annotations

from psycopg import sql

from outgrow.migrate.plan import TablePlan

__all__ = ["create_table", "foreign_keys", "keys_and_indexes", "restart_identity"]


def _table(schema: str, name: str) -> sql.Composed:
    return sql.SQL("{}.{}").format(sql.Identifier(schema), sql.Identifier(name))


def _columns(names: tuple[str, ...]) -> sql.Composed:
    return sql.SQL(", ").join(sql.Identifier(n) for n in names)


def create_table(plan: TablePlan, schema: str) -> sql.Composed:
    columns = [
        sql.SQL("{} {}{}{}").format(
            sql.Identifier(c.name), sql.SQL(c.choice.pg_type),
            # the default is built by outgrow.migrate.defaults from a parsed literal (quoted) or a fixed clock
            sql.SQL(f" DEFAULT {c.default}" if c.default else ""),
            sql.SQL(" NOT NULL" if c.not_null else ""),
        )
        for c in plan.columns
    ]
    return sql.SQL("CREATE TABLE {} ({})").format(_table(schema, plan.name), sql.SQL(", ").join(columns))


def keys_and_indexes(plan: TablePlan, schema: str) -> list[sql.Composed]:
    table = _table(schema, plan.name)
    statements = []
    if plan.primary_key:
        statements.append(sql.SQL("ALTER TABLE {} ADD PRIMARY KEY ({})").format(table, _columns(plan.primary_key)))
    for columns in plan.uniques:
        statements.append(sql.SQL("ALTER TABLE {} ADD UNIQUE ({})").format(table, _columns(columns)))
    for name, columns, unique in plan.indexes:
        statements.append(sql.SQL("CREATE {}INDEX {} ON {} ({})").format(
            sql.SQL("UNIQUE " if unique else ""), sql.Identifier(name), table, _columns(columns)))
    return statements


def restart_identity(plan: TablePlan, schema: str) -> sql.Composed | None:
    identity = next((c for c in plan.columns if c.identity), None)
    if identity is None or plan.identity_next is None:
        return None
    return sql.SQL("ALTER TABLE {} ALTER COLUMN {} RESTART WITH {}").format(
        _table(schema, plan.name), sql.Identifier(identity.name), sql.Literal(plan.identity_next))


def foreign_keys(plan: TablePlan, schema: str, *, not_valid: bool = False) -> list[sql.Composed]:
    statements = []
    for fk, ref_table, columns, ref_columns in plan.foreign_keys:
        statements.append(sql.SQL("ALTER TABLE {} ADD FOREIGN KEY ({}) REFERENCES {}{} ON UPDATE {} ON DELETE {}{}{}")
                          .format(
            _table(schema, plan.name), _columns(columns), _table(schema, ref_table),
            sql.SQL(" ({})").format(_columns(ref_columns)) if ref_columns else sql.SQL(""),
            sql.SQL(_action(fk.on_update)), sql.SQL(_action(fk.on_delete)),
            sql.SQL(" DEFERRABLE INITIALLY DEFERRED" if fk.deferrable else ""),
            sql.SQL(" NOT VALID" if not_valid else ""),
        ))
    return statements


def _action(action: str) -> str:
    allowed = {"NO ACTION", "CASCADE", "SET NULL", "SET DEFAULT", "RESTRICT"}
    upper = action.upper()
    return upper if upper in allowed else "NO ACTION"
