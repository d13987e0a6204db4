"""Statement fingerprints: a statement with its literals and bind parameters replaced, read by a real tokenizer.

``SELECT * FROM t WHERE id = 5``, ``... WHERE id = :id`` and ``... WHERE id = %(id)s`` share the fingerprint
``SELECT * FROM t WHERE id = ?``; ``IN (1, 2, 3)`` and ``IN (4, 5)`` both become ``IN (?)``, and a multi-row
``VALUES`` keeps one row. The text comes from sqlglot's tokenizer, never from regular expressions on the SQL,
so a ``?`` or ``--`` inside a string literal cannot fool it. A 120-character SELECT costs about 200 µs, two
thirds of it in the tokenizer (sqlglot 30, CPython 3.11), so nothing here runs on the hot path: the recorder
fingerprints each distinct statement text once, off it, and caches the result by text.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass

import sqlglot
from sqlglot.dialects.dialect import Dialect
from sqlglot.tokenizer_core import Token, TokenType

__all__ = ["Fingerprint", "fingerprint", "mask_parameters", "replace_parameters"]

_LITERALS = frozenset({
    TokenType.STRING, TokenType.NUMBER, TokenType.HEX_STRING, TokenType.BIT_STRING, TokenType.BYTE_STRING,
    TokenType.NATIONAL_STRING, TokenType.RAW_STRING, TokenType.HEREDOC_STRING, TokenType.UNICODE_STRING})
# After one of these a minus sign is subtraction, not the sign of a literal.
_OPERAND_ENDS = frozenset({
    *_LITERALS, TokenType.VAR, TokenType.IDENTIFIER, TokenType.PLACEHOLDER, TokenType.R_PAREN, TokenType.R_BRACKET,
    TokenType.NULL, TokenType.TRUE, TokenType.FALSE, TokenType.END, TokenType.CURRENT_DATE, TokenType.CURRENT_TIME,
    TokenType.CURRENT_TIMESTAMP, TokenType.CURRENT_USER, TokenType.LOCALTIME, TokenType.LOCALTIMESTAMP})
_PUNCTUATION = {TokenType.L_PAREN: "(", TokenType.R_PAREN: ")", TokenType.L_BRACKET: "[", TokenType.R_BRACKET: "]",
                TokenType.COMMA: ",", TokenType.DOT: ".", TokenType.DCOLON: "::", TokenType.COLON: ":",
                TokenType.SEMICOLON: ";"}
# A name before "(" that is a table, not a function: INSERT INTO t (a, b), CREATE TABLE IF NOT EXISTS t (...).
_TABLE_BEFORE = frozenset({TokenType.INTO, TokenType.TABLE, TokenType.REFERENCES, TokenType.EXISTS, TokenType.VIEW,
                           TokenType.COPY})
# Keywords sqlglot may read as a function name but that open a list or a subquery: "IN (", "EXISTS (".
_NOT_CALLS = frozenset({
    TokenType.UNION, TokenType.EXISTS, TokenType.ANY, TokenType.ALL, TokenType.SOME, TokenType.LIKE,
    TokenType.ILIKE, TokenType.GLOB, TokenType.RLIKE, TokenType.TABLE, TokenType.INDEX, TokenType.INSERT,
    TokenType.MERGE, TokenType.XOR, TokenType.COLLATE, TokenType.NULL, TokenType.OFFSET, TokenType.WINDOW,
    TokenType.FILTER, TokenType.FIRST, TokenType.NEXT, TokenType.COMMAND})
_KEYWORD_CALLS = frozenset(Dialect.get_or_raise("sqlite").parser_class.FUNC_TOKENS) - _NOT_CALLS - {
    TokenType.VAR, TokenType.IDENTIFIER}
# Type names (DATE, TEXT, NAME...) are also common column names: they are upper-cased only where a type goes.
_TYPES = frozenset(Dialect.get_or_raise("sqlite").parser_class.TYPE_TOKENS) - {
    TokenType.NULL, TokenType.UNION, TokenType.ARRAY, TokenType.INTERVAL, TokenType.RANGE, TokenType.NOTHING}
# Tokens that may start a bind parameter: ?, ?1, $1 (SQLite: one VAR), @name, :name, %s, %(name)s.
_PARAMETER_STARTS = frozenset({TokenType.PLACEHOLDER, TokenType.VAR, TokenType.PARAMETER, TokenType.COLON,
                               TokenType.MOD})
_PSYCOPG_FORMATS = frozenset({"s", "b", "t"})  # %s, %b (binary), %t (text): psycopg 3's placeholders
_OPERATIONS = frozenset({
    "SELECT", "INSERT", "UPDATE", "DELETE", "REPLACE", "CREATE", "DROP", "ALTER", "BEGIN", "COMMIT", "ROLLBACK",
    "SAVEPOINT", "RELEASE", "PRAGMA", "EXPLAIN", "VACUUM", "ANALYZE", "COPY", "SET", "SHOW"})
_SYNONYMS = {"START": "BEGIN", "END": "COMMIT", "ABORT": "ROLLBACK"}
_DML = ("SELECT", "INSERT", "UPDATE", "DELETE", "REPLACE")
_READ = {"sqlite": "sqlite", "postgresql": "postgres", "postgres": "postgres"}

#: One word of a normalized statement: its text and its kind, which decides the spacing around it.
_Word = tuple[str, str]
_PARAMETER: _Word = ("?", "value")


@dataclass(frozen=True)
class Fingerprint:
    """A statement's normalized text, its 16-hex-digit BLAKE2b and its kind (SELECT, INSERT, ..., OTHER)."""

    id: str
    text: str
    operation: str


def fingerprint(sql: str, dialect: str = "sqlite") -> Fingerprint:
    """The fingerprint of ``sql`` as ``dialect`` ("sqlite" or "postgresql") reads it. Never raises: text the
    tokenizer rejects (an unterminated string) keeps its words, whitespace collapsed."""
    try:
        tokens = _tokens(sql, _READ.get(dialect, dialect))
        text = _render(_collapse(_group(_words(tokens))))
        operation = _operation(tokens)
    except Exception:  # sqlglot's TokenError, or anything else odd text provokes: a fingerprint is still due
        text = " ".join(sql.split())
        operation = _operation_of_word(text.split(maxsplit=1)[0] if text else "")
    return Fingerprint(_digest(text), text, operation)


def replace_parameters(sql: str, dialect: str = "sqlite", mark: str = "?") -> str:
    """``sql`` with each bind parameter (``:name``, ``%s``, ``$1``, ...) written ``mark`` and everything else as it
    was, for a parser that knows one style (sqlglot reads ``?`` as SQLite, ``%s`` as PostgreSQL: ``?::int`` is
    a JSON operator there). Unchanged when the tokenizer rejects the text."""
    try:
        tokens = _tokens(sql, _READ.get(dialect, dialect))
    except Exception:  # as in fingerprint(): the caller's parse reports what is wrong with the text
        return sql
    pieces: list[str] = []
    done = 0
    i = 0
    while i < len(tokens):
        size = _parameter_size(tokens, i)
        if size:
            pieces += [sql[done:tokens[i].start], mark]
            done = tokens[i + size - 1].end + 1
            i += size
        else:
            i += 1
    return "".join([*pieces, sql[done:]])


def mask_parameters(parameters: object) -> object:
    """``parameters`` with every value replaced by its type name (``"<int>"``, ``"<str>"``...; None stays None):
    what a log may show. Mappings keep their keys; sequences (and executemany's list of rows) map element-wise."""
    if parameters is None:
        return None
    if isinstance(parameters, Mapping):
        return {str(key): mask_parameters(value) for key, value in parameters.items()}
    if isinstance(parameters, list | tuple):
        return [mask_parameters(value) for value in parameters]
    return f"<{type(parameters).__name__}>"


# -- tokens ------------------------------------------------------------------------------------------------
def _tokens(sql: str, read: str, offset: int = 0) -> list[Token]:
    """sqlglot's tokens, with the text after a command word (EXPLAIN, VACUUM, SHOW, SQLite's REPLACE...), which
    sqlglot keeps as one opaque string, tokenized too; positions are offsets into the whole text."""
    tokenizer = Dialect.get_or_raise(read).tokenizer_class
    tokens = sqlglot.tokenize(sql, read=read)
    if not offset and not any(t.token_type in tokenizer.COMMANDS for t in tokens):
        return tokens
    out: list[Token] = []
    for i, token in enumerate(tokens):
        if offset:
            token = Token(token.token_type, token.text, token.line, token.col, token.start + offset,
                          token.end + offset)
        previous = tokens[i - 1] if i else None
        if (token.token_type == TokenType.STRING and previous is not None
                and previous.token_type in tokenizer.COMMANDS
                and (i == 1 or tokens[i - 2].token_type in tokenizer.COMMAND_PREFIX_TOKENS)):
            rest = sql[previous.end + 1:]
            out += _tokens(rest.lstrip(), read, offset + previous.end + 1 + len(rest) - len(rest.lstrip()))
            continue
        out.append(token)
    return out


def _adjacent(tokens: list[Token], i: int) -> bool:
    """Whether token ``i`` starts right where token ``i - 1`` ends (``:name``, not ``a : b``)."""
    return 0 < i < len(tokens) and tokens[i].start == tokens[i - 1].end + 1


def _parameter_size(tokens: list[Token], i: int) -> int:
    """How many tokens from ``i`` spell one bind parameter (0: none)."""
    token, kind = tokens[i], tokens[i].token_type
    if kind == TokenType.VAR:  # SQLite reads $1 and $name as one word
        return int(token.text[:1] == "$" and (token.text[1:].isdigit() or token.text[1:].isidentifier()))
    following = tokens[i + 1] if i + 1 < len(tokens) else None
    if kind == TokenType.PLACEHOLDER:  # ? or ?1
        return 2 if following is not None and following.token_type == TokenType.NUMBER and _adjacent(tokens, i + 1) \
            else 1
    if kind in (TokenType.PARAMETER, TokenType.COLON) and following is not None and _adjacent(tokens, i + 1) \
            and (following.text.isdigit() or following.text.isidentifier()):
        # $1 on PostgreSQL, @name, :name; a colon after an operand is a slice bound (arr[a:b]), not a parameter
        if kind == TokenType.COLON and i and tokens[i - 1].token_type in _OPERAND_ENDS:
            return 0
        return 2
    if kind == TokenType.MOD and following is not None and _adjacent(tokens, i + 1):
        if following.token_type == TokenType.VAR and following.text in _PSYCOPG_FORMATS:
            return 2  # %s
        if following.token_type == TokenType.L_PAREN:  # %(name)s: MOD L_PAREN name... R_PAREN s, all adjacent
            j = i + 2
            while j < len(tokens) and tokens[j].token_type != TokenType.R_PAREN and _adjacent(tokens, j):
                j += 1
            if j + 1 < len(tokens) and j > i + 2 and tokens[j].token_type == TokenType.R_PAREN \
                    and _adjacent(tokens, j) and _adjacent(tokens, j + 1) and tokens[j + 1].text in _PSYCOPG_FORMATS:
                return j + 2 - i
    return 0


# -- words ----------------------------------------------------------------------------------------------------
def _words(tokens: list[Token]) -> list[_Word]:
    words: list[_Word] = []
    ddl = bool(tokens) and tokens[0].token_type in (TokenType.CREATE, TokenType.ALTER)
    i = 0
    while i < len(tokens):
        token, kind = tokens[i], tokens[i].token_type
        size = _parameter_size(tokens, i) if kind in _PARAMETER_STARTS else 0
        if size:
            words.append(_PARAMETER)
            i += size
            continue
        if kind == TokenType.VAR:
            words.append((token.text, "value"))
        elif kind in _LITERALS:
            words.append(_PARAMETER)
        elif kind == TokenType.IDENTIFIER:
            words.append(('"' + token.text.replace('"', '""') + '"', "value"))
        elif kind == TokenType.L_PAREN:
            words.append(("(", "call(" if _is_call(tokens, i) else "("))
        elif kind in _PUNCTUATION:
            words.append((_PUNCTUATION[kind], _PUNCTUATION[kind]))
        elif kind == TokenType.DASH and i + 1 < len(tokens) and tokens[i + 1].token_type == TokenType.NUMBER \
                and not (i and (tokens[i - 1].token_type in _OPERAND_ENDS or tokens[i - 1].token_type in _TYPES)):
            words.append(_PARAMETER)  # -5 where a value goes is one literal; a - 5 is a subtraction
            i += 1
        elif _is_keyword(tokens, i, ddl):
            words.append((" ".join(token.text.upper().split()), "keyword"))
        elif token.text.replace("_", "").isalnum():
            words.append((token.text, "value"))
        else:
            words.append((token.text, "operator"))
        i += 1
    while words and words[-1] == (";", ";"):
        words.pop()  # a terminator: "SELECT 1;" is "SELECT 1"
    return words


def _is_keyword(tokens: list[Token], i: int, ddl: bool) -> bool:
    token = tokens[i]
    if not token.text.isalpha() and not (
            token.text[:1].isalpha() and "".join(token.text.split()).replace("_", "").isalnum()):
        return False  # an operator, not a word
    if token.token_type not in _TYPES or ddl:
        return True
    previous = tokens[i - 1].token_type if i else None
    following = tokens[i + 1].token_type if i + 1 < len(tokens) else None
    # a type after :: or CAST(... AS, or in a typed literal (DATE '2024-01-01'); otherwise a column named "date"
    return previous in (TokenType.DCOLON, TokenType.ALIAS) or following in _LITERALS


def _is_call(tokens: list[Token], i: int) -> bool:
    """Whether the "(" at ``i`` opens a function's arguments (written without a space before it)."""
    if i == 0:
        return False
    name = tokens[i - 1].token_type
    if name in _KEYWORD_CALLS:
        return True
    if name not in (TokenType.VAR, TokenType.IDENTIFIER):
        return False
    k = i - 1
    while k >= 2 and tokens[k - 1].token_type == TokenType.DOT:
        k -= 2  # schema.table (
    before = tokens[k - 1].token_type if k else None
    if before in _TABLE_BEFORE:
        return False
    return not (before == TokenType.ON and any(t.token_type == TokenType.INDEX for t in tokens[:4]))


# -- lists --------------------------------------------------------------------------------------------------
@dataclass
class _Group:
    open: _Word
    items: list[_Word | _Group]
    close: _Word | None


def _group(words: list[_Word]) -> list[_Word | _Group]:
    """Nest the words by parentheses and brackets (an unbalanced closer stays a plain word)."""
    top: list[_Word | _Group] = []
    stack: list[_Group] = []
    for word in words:
        into = stack[-1].items if stack else top
        if word[1] in ("(", "call(", "["):
            group = _Group(word, [], None)
            into.append(group)
            stack.append(group)
        elif word[1] in (")", "]") and stack and (stack[-1].open[1] == "[") == (word[1] == "]"):
            stack.pop().close = word
        else:
            into.append(word)
    return top


def _collapse(items: list[_Word | _Group]) -> list[_Word | _Group]:
    """``(?, ?, ?)`` -> ``(?)``; ``VALUES (...), (...)`` and ``IN ((?), (?))`` keep one of each run of equal rows.
    A function's arguments are left alone: ``substr(?, ?)`` and ``substr(?)`` differ."""
    out: list[_Word | _Group] = []
    for item in items:
        if isinstance(item, _Group):
            item = _Group(item.open, _collapse(item.items), item.close)
            if item.open[1] != "call(":
                elements = _split(item.items)
                if elements and all(element == [_PARAMETER] for element in elements):
                    item.items = [_PARAMETER]
                else:
                    item.items = _join_elements(_dedupe(elements))
            if len(out) >= 2 and out[-1] == (",", ",") and isinstance(out[-2], _Group) \
                    and _render([out[-2]]) == _render([item]) and _in_values(out):
                out.pop()  # a VALUES row equal to the one before it
                continue
        out.append(item)
    return out


def _in_values(out: list[_Word | _Group]) -> bool:
    """Whether ``out`` ends with ``VALUES (...), (...), ...,``."""
    k = len(out) - 2
    while k >= 2 and isinstance(out[k], _Group) and out[k - 1] == (",", ","):
        k -= 2
    return k >= 1 and isinstance(out[k], _Group) and out[k - 1] == ("VALUES", "keyword")


def _split(items: list[_Word | _Group]) -> list[list[_Word | _Group]]:
    elements: list[list[_Word | _Group]] = [[]]
    for item in items:
        if item == (",", ","):
            elements.append([])
        else:
            elements[-1].append(item)
    return [] if elements == [[]] else elements


def _dedupe(elements: list[list[_Word | _Group]]) -> list[list[_Word | _Group]]:
    """Drop a row (a single parenthesised element) equal to the one before it."""
    out: list[list[_Word | _Group]] = []
    for element in elements:
        if out and len(element) == 1 and isinstance(element[0], _Group) and _render(out[-1]) == _render(element):
            continue
        out.append(element)
    return out


def _join_elements(elements: list[list[_Word | _Group]]) -> list[_Word | _Group]:
    joined: list[_Word | _Group] = []
    for n, element in enumerate(elements):
        if n:
            joined.append((",", ","))
        joined += element
    return joined


def _flatten(items: list[_Word | _Group]) -> list[_Word]:
    words: list[_Word] = []
    for item in items:
        if isinstance(item, _Group):
            words += [item.open, *_flatten(item.items), *([item.close] if item.close else [])]
        else:
            words.append(item)
    return words


def _render(items: list[_Word | _Group]) -> str:
    parts: list[str] = []
    previous = ""
    for text, kind in _flatten(items):
        tight = (previous in ("(", "call(", "[", ".", "::", ":")
                 or kind in (")", "]", ",", ";", ".", "::", ":", "call(")
                 or (kind == "[" and previous not in (",", "operator", "")))
        if parts and not tight:
            parts.append(" ")
        parts.append(text)
        previous = kind
    return "".join(parts)


# -- operation --------------------------------------------------------------------------------------------------
def _operation(tokens: list[Token]) -> str:
    """The statement's kind; after WITH, the first statement word outside the CTEs' parentheses."""
    start = next((n for n, t in enumerate(tokens) if t.token_type != TokenType.L_PAREN), None)  # (SELECT ...) UNION
    if start is None:
        return "OTHER"
    if tokens[start].token_type != TokenType.WITH:
        return _operation_of_word(tokens[start].text)
    depth = 0
    for token in tokens[start + 1:]:
        if token.token_type == TokenType.L_PAREN:
            depth += 1
        elif token.token_type == TokenType.R_PAREN:
            depth -= 1
        elif depth == 0 and token.text.upper() in _DML:
            return token.text.upper()
    return "OTHER"


def _operation_of_word(word: str) -> str:
    word = _SYNONYMS.get(word.upper(), word.upper())
    return word if word in _OPERATIONS else "OTHER"


def _digest(text: str) -> str:
    return hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=8).hexdigest()
