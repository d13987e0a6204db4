"""Triggers: the common shapes become a PL/pgSQL function plus a trigger; anything else is listed.

Carried: ``BEFORE``/``AFTER`` ``INSERT``/``UPDATE [OF ...]``/``DELETE`` ``FOR EACH ROW``, with ``WHEN``, whose
body is INSERT/UPDATE/DELETE statements over ``NEW``/``OLD`` (audit logs, counters, ``updated_at`` stamps) and
``SELECT RAISE(ABORT|FAIL|ROLLBACK, '...') [WHERE ...]``, which becomes a constraint-violation exception (SQLSTATE
23000, as SQLite reports a RAISE), or ``RAISE(IGNORE)``, which skips the row in a BEFORE trigger.

SQLite runs triggers with ``recursive_triggers`` off: a trigger does not fire again from its own statements (an
``AFTER UPDATE`` that stamps ``updated_at`` on its own table would recurse forever on PostgreSQL). Each function
keeps that rule with a transaction-local flag, set while it runs.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import uuid

import sqlglot
from psycopg import sql
from sqlglot import exp

from outgrow.migrate.expressions import Untranslatable, parse_sqlite, translate
from outgrow.migrate.plan_model import ObjectPlan
from outgrow.migrate.queries import QueryScope

__all__ = ["plan_trigger"]

_NAME = r'(?:"(?:[^"]|"")+"|\[[^\]]+\]|`[^`]+`|[\w$]+)'
_HEADER = re.compile(
    rf"^\s*CREATE\s+(?:(?P<temp>TEMP|TEMPORARY)\s+)?TRIGGER\s+(?:IF\s+NOT\s+EXISTS\s+)?(?:{_NAME}\s*\.\s*)?"
    rf"(?P<name>{_NAME})\s+(?P<timing>BEFORE|AFTER|INSTEAD\s+OF)?\s*"
    rf"(?P<event>DELETE|INSERT|UPDATE(?:\s+OF\s+(?P<columns>{_NAME}(?:\s*,\s*{_NAME})*))?)\s+"
    rf"ON\s+(?:{_NAME}\s*\.\s*)?(?P<table>{_NAME})\s+(?:FOR\s+EACH\s+ROW\s+)?"
    rf"(?:WHEN\s+(?P<when>.*?)\s+)?BEGIN\b(?P<body>.*)\bEND\s*;?\s*$",
    re.IGNORECASE | re.DOTALL,
)
_RAISE_ACTIONS = {"ABORT", "FAIL", "ROLLBACK"}
_LEAVE = f"__outgrow_leave_{uuid.uuid4().hex}__"  # replaced by "clear the recursion flag, RETURN NULL"


def _unquote(name: str) -> str:
    if name[:1] in '"[`':
        return name[1:-1].replace('""', '"') if name[0] == '"' else name[1:-1]
    return name


def plan_trigger(name: str, create_sql: str, scope: QueryScope, target_name: str
                 ) -> tuple[ObjectPlan | None, str | None]:
    """(the plan, None) or (None, why it is not carried)."""
    header = _HEADER.match(create_sql)
    if header is None:
        return None, "the CREATE TRIGGER could not be read"
    timing = re.sub(r"\s+", " ", (header["timing"] or "BEFORE").upper())
    if timing == "INSTEAD OF":
        return None, "INSTEAD OF triggers (on views) are not translated"
    table = _unquote(header["table"]).lower()
    if table not in scope.relations:
        return None, f"its table {_unquote(header['table'])!r} is not migrated"
    event = header["event"].split()[0].upper()
    scope.records = {"NEW": table} if event == "INSERT" else {"OLD": table} if event == "DELETE" else {
        "NEW": table, "OLD": table}
    scope.used = {table}
    relation = scope.relations[table]
    named = [_unquote(c.strip()) for c in header["columns"].split(",")] if header["columns"] else []
    unknown = [c for c in named if c.lower() not in relation.columns]
    if unknown:
        return None, f"UPDATE OF names an unknown column {unknown[0]!r}"
    of_columns = [relation.columns[c.lower()][0] for c in named]
    try:
        when = _expression(header["when"], scope) if header["when"] else None
        body = [_statement(statement, scope) for statement in _parse_body(header["body"])]
    except Untranslatable as exc:
        return None, str(exc)
    record = "NULL" if timing == "AFTER" else "OLD" if event == "DELETE" else "NEW"
    function = f"{target_name}_fn"
    flag = "outgrow.trigger_" + hashlib.sha256(f"{scope.schema}.{target_name}".encode()).hexdigest()[:16]
    in_body = when is not None and "SELECT" in when.upper()  # PostgreSQL's WHEN takes no subquery
    lines = [
        "BEGIN",
        *([f"  IF ({when}) IS NOT TRUE THEN RETURN {record}; END IF;"] if in_body else []),
        # recursive_triggers is off in SQLite: the trigger does not fire from its own statements.
        f"  IF current_setting('{flag}', true) = 'on' THEN RETURN {record}; END IF;",
        f"  PERFORM set_config('{flag}', 'on', true);",
        # statements are not re-indented: a line break inside a string literal must stay exactly as it is
        *[statement.replace(_LEAVE, f"PERFORM set_config('{flag}', 'off', true); RETURN NULL;")
          for statement in body],
        f"  PERFORM set_config('{flag}', 'off', true);",
        f"  RETURN {record};",
        "END",
    ]
    qualified_function = sql.Identifier(scope.schema, function).as_string(None)
    text = "\n".join(lines)
    tag = "$outgrow$"
    while tag in text:  # the body quotes with a tag that occurs nowhere in it
        tag = f"$outgrow_{secrets.token_hex(4)}$"
    create_function = (f"CREATE FUNCTION {qualified_function}() RETURNS trigger LANGUAGE plpgsql AS "
                       f"{tag}\n{text}\n{tag}")
    event_sql = event + (f" OF {', '.join(sql.Identifier(c).as_string(None) for c in of_columns)}"
                         if of_columns else "")
    create_trigger = (f"CREATE TRIGGER {sql.Identifier(target_name).as_string(None)} {timing} {event_sql} ON "
                      f"{sql.Identifier(scope.schema, relation.name).as_string(None)} FOR EACH ROW"
                      + (f" WHEN ({when})" if when and not in_body else "")
                      + f" EXECUTE FUNCTION {qualified_function}()")
    if header["temp"] is not None:
        return None, "a TEMP trigger belongs to one connection"
    if timing == "AFTER" and _reads(header["body"] + " " + (header["when"] or ""), table):
        scope.notes.append(f"an AFTER ... FOR EACH ROW trigger runs when the statement ends in PostgreSQL, after "
                           f"each row in SQLite: what it reads of {table} can include later rows of the statement")
    return ObjectPlan("trigger", name, target_name, create_sql, (create_function, create_trigger),
                      tuple(dict.fromkeys(scope.notes)),
                      drop=f"DROP FUNCTION IF EXISTS {qualified_function}() CASCADE",
                      owned=f"FUNCTION {qualified_function}()"), None


def _reads(text: str, table: str) -> bool:
    """Does trigger SQL read ``table`` (FROM/JOIN it), beyond writing it?"""
    return re.search(rf"\b(FROM|JOIN)\s+[\"`\[]?{re.escape(table)}\b", text, re.IGNORECASE) is not None


def _parse_body(body: str) -> list[exp.Expression]:
    try:
        statements = [s for s in sqlglot.parse(body, read="sqlite") if isinstance(s, exp.Expression)]
    except sqlglot.errors.SqlglotError as exc:
        raise Untranslatable(f"the trigger body could not be parsed ({str(exc).splitlines()[0]})") from None
    if not statements:
        raise Untranslatable("an empty trigger body")
    return statements


def _expression(text: str, scope: QueryScope) -> str:
    tree = parse_sqlite(text, "WHEN")
    scope.bind(tree)
    return _translated(tree, scope, condition=True)


def _translated(tree: exp.Expression, scope: QueryScope, *, condition: bool = False) -> str:
    translated = translate(tree, scope, condition=condition)
    if translated.pg_sql is None:
        raise Untranslatable(f"{translated.source}: {translated.problem}")
    scope.notes.extend(translated.notes)
    return translated.pg_sql


def _statement(statement: exp.Expression, scope: QueryScope) -> str:
    """One body statement as PL/pgSQL."""
    if isinstance(statement, exp.Select):
        return _raise(statement, scope)
    if not isinstance(statement, exp.Insert | exp.Update | exp.Delete):
        raise Untranslatable(f"a {statement.key.upper()} statement in a trigger body")
    scope.bind(statement)
    if isinstance(statement, exp.Insert):
        _insert(statement, scope)
    elif statement.args.get("alternative"):
        raise Untranslatable(f"{statement.key.upper()} OR {statement.args['alternative']}")
    return _translated(statement, scope) + ";"


def _insert(statement: exp.Insert, scope: QueryScope) -> None:
    """Name the INSERT's columns, give 0/1 to boolean columns as false/true, and turn OR IGNORE into ON CONFLICT
    DO NOTHING (both skip a row that would break a uniqueness rule; OR REPLACE deletes rows, and is refused)."""
    alternative = str(statement.args.get("alternative") or "").upper()
    if alternative and alternative != "IGNORE":
        raise Untranslatable(f"INSERT OR {alternative}")
    if alternative:
        scope.notes.append("INSERT OR IGNORE -> ON CONFLICT DO NOTHING: both skip a row that breaks a unique rule; "
                           "SQLite also skips one that breaks NOT NULL or a CHECK, PostgreSQL raises")
        statement.set("alternative", None)
        statement.set("conflict", exp.OnConflict(action=exp.Var(this="DO NOTHING")))
    if not isinstance(statement.this, exp.Schema):
        return
    target = scope.relations[statement.this.this.name.lower()]
    types = []
    for identifier in statement.this.expressions:
        column = target.columns.get(identifier.name.lower())
        if column is None:
            raise Untranslatable(f"INSERT names an unknown column {identifier.name!r} of {target.name}")
        identifier.replace(exp.to_identifier(column[0], quoted=True))
        types.append(column[1])
    values = statement.expression
    for row in values.expressions if isinstance(values, exp.Values) else []:
        for value, pg_type in zip(row.expressions, types, strict=False):
            if pg_type == "boolean" and isinstance(value, exp.Literal) and value.this in {"0", "1"}:
                value.replace(exp.Boolean(this=value.this == "1"))


def _raise(select: exp.Select, scope: QueryScope) -> str:
    """``SELECT RAISE(ABORT, 'msg') [FROM ...] [WHERE cond]``, or ``SELECT CASE WHEN c1 THEN RAISE(...) [WHEN c2
    THEN RAISE(...)]... END`` (first matching branch wins, as an IF ... ELSIF chain does)."""
    if len(select.expressions) != 1:
        raise Untranslatable("a SELECT in a trigger body that is not a RAISE")
    selected = select.expressions[0]
    branches: list[tuple[exp.Expression | None, exp.Expression]] = [(None, selected)]
    if isinstance(selected, exp.Case) and selected.args.get("ifs") and not selected.args.get("default") \
            and selected.this is None:
        branches = [(branch.this, branch.args.get("true")) for branch in selected.args["ifs"]]
    scope.bind(select)
    arms = []
    for condition, action_node in branches:
        if not (isinstance(action_node, exp.Anonymous) and action_node.name.upper() == "RAISE"):
            raise Untranslatable("a SELECT in a trigger body that is not a RAISE")
        arms.append((_raise_condition(select, condition, scope), _raise_action(action_node, scope)))
    first, *rest = arms
    return (f"IF {first[0]} THEN {first[1]}" + "".join(f" ELSIF {check} THEN {action}" for check, action in rest)
            + " END IF;")


def _raise_condition(select: exp.Select, condition: exp.Expression | None, scope: QueryScope) -> str:
    where = select.args.get("where")
    test = select.copy()
    test.set("expressions", [exp.Literal.number(1)])
    if condition is not None:
        test.set("where", exp.Where(this=exp.and_(where.this, condition.copy()) if where is not None
                                    else condition.copy()))
    if select.args.get("from_") is not None:
        return f"EXISTS ({_translated(test, scope)})"
    if test.args.get("where") is not None:
        return _translated(test.args["where"].this, scope, condition=True)
    return "true"


def _raise_action(node: exp.Anonymous, scope: QueryScope) -> str:
    action = node.expressions[0].name.upper() if node.expressions else ""
    if action == "IGNORE":  # BEFORE: the row is skipped; AFTER: the rest of the trigger is
        return _LEAVE
    if action not in _RAISE_ACTIONS or len(node.expressions) != 2:
        raise Untranslatable(f"RAISE({action}) is not translated")
    if action == "FAIL":
        scope.notes.append("RAISE(FAIL): SQLite keeps the rows the statement changed before the failing one; "
                           "PostgreSQL undoes the whole statement, as RAISE(ABORT) does")
    elif action == "ROLLBACK":
        scope.notes.append("RAISE(ROLLBACK): SQLite ends the whole transaction; PostgreSQL aborts it (the "
                           "application must roll back)")
    message = node.expressions[1]
    if not (isinstance(message, exp.Literal) and message.is_string):
        raise Untranslatable("RAISE with a message that is not a constant")
    text = message.this.replace("'", "''")
    return f"RAISE EXCEPTION USING ERRCODE = 'integrity_constraint_violation', MESSAGE = '{text}';"
