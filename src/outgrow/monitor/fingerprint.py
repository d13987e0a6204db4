"""Statement fingerprints: the statement with its literals and parameters replaced, from a real tokenizer.

``SELECT * FROM t WHERE id = 5`` and ``... WHERE id = :id`` share the fingerprint
``SELECT * FROM t WHERE id = ?``; ``IN (1, 2, 3)`` and ``IN (4, 5)`` both become ``IN (?)``. sqlglot's
tokenizer costs about 90 µs for a short statement, so the probe never calls this on the hot path: the
recorder fingerprints each distinct statement text once, off it, and caches the result.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

import sqlglot
from sqlglot.tokenizer_core import Token, TokenType

__all__ = ["Fingerprint", "fingerprint", "mask_parameters"]

_LITERALS = frozenset({
    TokenType.STRING, TokenType.NUMBER, TokenType.HEX_STRING, TokenType.BIT_STRING, TokenType.BYTE_STRING,
    TokenType.NATIONAL_STRING, TokenType.RAW_STRING, TokenType.HEREDOC_STRING, TokenType.UNICODE_STRING})
_VALUE_BEFORE = frozenset({TokenType.L_PAREN, TokenType.COMMA, TokenType.EQ, TokenType.NEQ, TokenType.LT,
                           TokenType.LTE, TokenType.GT, TokenType.GTE, TokenType.PLUS, TokenType.DASH,
                           TokenType.STAR, TokenType.SLASH})
_OPERATIONS = frozenset({
    "SELECT", "INSERT", "UPDATE", "DELETE", "REPLACE", "CREATE", "DROP", "ALTER", "BEGIN", "COMMIT", "ROLLBACK",
    "SAVEPOINT", "RELEASE", "PRAGMA", "EXPLAIN", "VACUUM", "ANALYZE", "COPY", "SET", "SHOW", "VALUES"})
_DIALECTS = {"sqlite": "sqlite", "postgresql": "postgres", "postgres": "postgres"}


@dataclass(frozen=True)
class Fingerprint:
    id: str  # 16 hex digits of the text's BLAKE2b
    text: str
    operation: str


def fingerprint(sql: str, dialect: str = "sqlite") -> Fingerprint:
    """The normalized form of ``sql``; never raises (text sqlglot cannot tokenize is kept as written)."""
    try:
        tokens = sqlglot.tokenize(sql, read=_DIALECTS.get(dialect, dialect))
    except Exception:  # sqlglot raises its own TokenError and others for odd text
        text = " ".join(sql.split())
        return Fingerprint(_digest(text), text, _first_word(text.split()[:1]))
    words = _normalize(tokens)
    text = _join(words)
    return Fingerprint(_digest(text), text, _operation(tokens))


def _normalize(tokens: list[Token]) -> list[str]:
    words: list[str] = []
    previous: TokenType | None = None
    i = 0
    while i < len(tokens):
        token, kind = tokens[i], tokens[i].token_type
        following = tokens[i + 1] if i + 1 < len(tokens) else None
        if kind in _LITERALS or kind == TokenType.PLACEHOLDER:
            words.append("?")
            if kind == TokenType.PLACEHOLDER and following is not None and following.token_type == TokenType.NUMBER \
                    and following.start == token.end + 1:
                i += 1  # ?1
        elif kind == TokenType.DASH and following is not None and following.token_type == TokenType.NUMBER and (
                previous is None or previous in _VALUE_BEFORE or _is_keyword(tokens[i - 1])):
            words.append("?")  # a negative number is one literal
            i += 1
        elif kind in (TokenType.COLON, TokenType.PARAMETER) and following is not None \
                and following.start == token.end + 1 and (following.text.isidentifier() or following.text.isdigit()):
            words.append("?")  # :name, :1, $1 (whatever the dialect calls the word after it)
            i += 1
        elif kind == TokenType.MOD and following is not None and following.token_type == TokenType.L_PAREN \
                and i + 3 < len(tokens) and tokens[i + 3].token_type == TokenType.R_PAREN \
                and i + 4 < len(tokens) and tokens[i + 4].text == "s":
            words.append("?")  # %(name)s
            i += 4
        elif kind == TokenType.MOD and following is not None and following.text == "s" \
                and following.token_type == TokenType.VAR:
            words.append("?")  # %s
            i += 1
        elif kind == TokenType.VAR and token.text[:1] in "$?" and token.text[1:].isdigit():
            words.append("?")  # $1, ?1
        elif kind == TokenType.IDENTIFIER:
            words.append('"' + token.text.replace('"', '""') + '"')
        elif _is_keyword(token):
            words.append(token.text.upper())
        elif kind == TokenType.L_PAREN and previous == TokenType.VAR and token.start == tokens[i - 1].end + 1:
            words.append("\x00(")  # a function call: no space before its parenthesis
        else:
            words.append(token.text)
        previous = kind
        i += 1
    return _collapse(words)


def _collapse(words: list[str]) -> list[str]:
    """``( ? , ? , ? )`` -> ``( ? )``, and ``VALUES ( ? ) , ( ? )`` -> ``VALUES ( ? )``."""
    out: list[str] = []
    i = 0
    while i < len(words):
        if words[i] in ("(", "\x00("):
            j = i + 1
            only_values = True
            while j < len(words) and words[j] != ")":
                if words[j] not in ("?", ","):
                    only_values = False
                    break
                j += 1
            if only_values and j < len(words) and j > i + 1:
                if len(out) >= 4 and out[-4:] == ["(", "?", ")", ","]:
                    out.pop()  # a repeated VALUES tuple
                    i = j + 1
                    continue
                out += [words[i], "?", ")"]
                i = j + 1
                continue
        out.append(words[i])
        i += 1
    return out


def _join(words: list[str]) -> str:
    text = " ".join(words).replace(" \x00(", "(").replace("\x00(", "(")
    for tight in ("( ", " )", " ,", " .", ". ", " ::", ":: ", " ;"):
        text = text.replace(tight, tight.strip())
    return text


def _is_keyword(token: Token) -> bool:
    return token.token_type not in (TokenType.VAR, TokenType.IDENTIFIER) and token.text.isalpha()


def _operation(tokens: list[Token]) -> str:
    """The statement's kind; after WITH, the first top-level statement word after the CTEs."""
    if not tokens:
        return "OTHER"
    first = tokens[0].text.upper()
    if first != "WITH":
        return first if first in _OPERATIONS else "OTHER"
    depth = 0
    for token in tokens[1:]:
        if token.token_type == TokenType.L_PAREN:
            depth += 1
        elif token.token_type == TokenType.R_PAREN:
            depth -= 1
        elif depth == 0 and token.text.upper() in ("SELECT", "INSERT", "UPDATE", "DELETE", "REPLACE"):
            return token.text.upper()
    return "SELECT"


def _first_word(words: list[str]) -> str:
    word = words[0].upper() if words else ""
    return word if word in _OPERATIONS else "OTHER"


def _digest(text: str) -> str:
    return hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=8).hexdigest()


def mask_parameters(parameters: Any) -> Any:
    """The parameters with every value replaced by its type (``<int>``, ``<str>``...): for display."""
    if isinstance(parameters, dict):
        return {str(key): mask_parameters(value) for key, value in parameters.items()}
    if isinstance(parameters, list | tuple):
        return [mask_parameters(value) for value in parameters]
    if parameters is None:
        return None
    return f"<{type(parameters).__name__}>"
