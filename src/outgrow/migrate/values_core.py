"""The vocabulary of the value rules: a type choice, a rejection, and the base class every rule extends."""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from typing import Any, ClassVar

__all__ = ["INT64_MAX", "INT64_MIN", "ColumnRule", "Converted", "Rejection", "TypeChoice", "escape_value",
           "storage_class", "text_problem"]

INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1


@dataclass(frozen=True)
class TypeChoice:
    """The PostgreSQL type for one column, and why."""

    pg_type: str
    reason: str


@dataclass(frozen=True)
class Rejection:
    """A value that cannot be carried exactly."""

    reason: str


Converted = str | bytes | None | Rejection


def escape_value(value: Any) -> str:
    """A printable, unambiguous rendering of a stored value for reports: readable Unicode stays, a byte that
    was not UTF-8 shows as \\xNN and NUL as \\x00; BLOBs as x'hex'."""
    if isinstance(value, bytes):
        return "x'" + value.hex() + "'"
    if isinstance(value, str):
        escaped = value.replace("\\", "\\\\").replace("\x00", "\\x00")  # a backslash is doubled: unambiguous
        return escaped.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
    return repr(value)


_STORAGE_CLASSES = {int: "integer", float: "real", str: "text", bytes: "blob"}


def storage_class(value: Any) -> str:
    return _STORAGE_CLASSES.get(type(value), "null")


# NUL, or a byte that was not UTF-8 (decoded by surrogateescape into U+DC80..U+DCFF): one C-speed scan.
_TEXT_PROBLEM = re.compile("[\x00\udc80-\udcff]")


def text_problem(value: str) -> str | None:
    found = _TEXT_PROBLEM.search(value)
    if found is None:
        return None
    if found.group() == "\x00" or "\x00" in value:
        return "text holds a NUL byte, which PostgreSQL text cannot store"
    return "text is not valid UTF-8"


class ColumnRule:
    """Type choice and value conversion for one declared type family."""

    family: ClassVar[str] = "text"

    def __init__(self, declared: str, length: int | None = None, scale: int | None = None) -> None:
        self.declared = declared
        self.length = length
        self.scale = scale
        self.classes: Counter[str] = Counter()

    #: Whether choosing the type needs the storage-class counts (only a column without a declared type does).
    counts_classes: ClassVar[bool] = False

    #: Whether choosing the type needs to look at the values themselves (``inspect``), not only at how many
    #: of each storage class there are (which SQLite counts in one scan: ``count_classes``).
    inspects_values: ClassVar[bool] = False

    def observe(self, value: Any) -> None:
        """Look at one stored value before the type is chosen."""
        self.classes[storage_class(value)] += 1
        if self.inspects_values:
            self.inspect(value)

    def inspect(self, value: Any) -> None:
        """What a rule learns from a value beyond its storage class."""

    def inspect_where(self, column: str) -> str | None:
        """A SQL condition on ``column`` (quoted) that every value :meth:`inspect` could learn from satisfies,
        so SQLite hands over only those; None: every value."""
        return None

    def count_classes(self, classes: Counter[str]) -> None:
        """Take the storage-class counts SQLite computed (the same as observing every value's class)."""
        self.classes = Counter({k: v for k, v in classes.items() if v})

    def choose(self) -> TypeChoice:
        raise NotImplementedError

    def convert(self, value: Any) -> Converted:
        """The COPY text for ``value`` in the chosen type, or why it cannot be carried."""
        raise NotImplementedError


