"""What an option may hold, declared where the option is: in its type annotation.

A component's options are the fields of its options dataclass (or the parameters of its
registered signature), and each says its own limits::

    lr: Positive = 0.001                           # a number > 0
    momentum: Annotated[float, Range(ge=0, lt=1)]  # a number in [0, 1)
    hidden: Annotated[list, Range(ge=1)]           # a list: every entry >= 1
    reduction: Literal["sum", "mean"] = "sum"      # one of these words
    name: Annotated[str, Check(is_plain_name, "a plain folder name")]

:func:`problem` reads such a type and names what is wrong with a value; the config
collects these messages under each option's dotted path.  No option is checked anywhere
else by name, so a new component brings its limits with it.
"""
from __future__ import annotations

import dataclasses
import math
import types
import typing
from typing import Annotated, Literal


@dataclasses.dataclass(frozen=True)
class Range:
    """Limits of a number (of each entry, for a list option)."""
    ge: float | None = None
    gt: float | None = None
    le: float | None = None
    lt: float | None = None

    def admits(self, value) -> bool:
        return ((self.ge is None or value >= self.ge) and (self.gt is None or value > self.gt)
                and (self.le is None or value <= self.le) and (self.lt is None or value < self.lt))

    def __str__(self):
        low = f"[{self.ge:g}" if self.ge is not None else f"({self.gt:g}" if self.gt is not None else None
        high = f"{self.le:g}]" if self.le is not None else f"{self.lt:g})" if self.lt is not None else None
        if low and high:
            return f"in {low}, {high}"
        if low:
            return f"{'>=' if low[0] == '[' else '>'} {low[1:]}"
        return f"{'<=' if high[-1] == ']' else '<'} {high[:-1]}"


@dataclasses.dataclass(frozen=True)
class Check:
    """Any other rule: ``predicate(value)`` must hold; ``what`` says what it wants."""
    predicate: typing.Callable
    what: str


# the limits most options share
Positive = Annotated[float, Range(gt=0)]
NonNegative = Annotated[float, Range(ge=0)]
Fraction = Annotated[float, Range(ge=0, lt=1)]  # probabilities of dropping, decay rates
AtLeastOne = Annotated[int, Range(ge=1)]  # sizes and counts
NonNegativeInt = Annotated[int, Range(ge=0)]
Reduction = Literal["sum", "mean"]
# layer sizes: whole numbers >= 1
Sizes = Annotated[list, Range(ge=1), Check(lambda sizes: all(type(size) is int for size in sizes), "whole numbers")]


def _unwrap(kind):
    """(the plain type, its Range/Check rules) of an annotation."""
    if typing.get_origin(kind) is Annotated:
        plain, *rules = typing.get_args(kind)
        return plain, rules
    return kind, []


def _union_members(kind):
    if typing.get_origin(kind) in (typing.Union, types.UnionType):
        return typing.get_args(kind)
    return None


def _number(value):
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _finite(value):
    """False for inf and nan (``.inf``, ``1e400``), in a number or in a list's entries."""
    entries = value if isinstance(value, (list, tuple)) else [value]
    return all(math.isfinite(entry) for entry in entries if _number(entry))


def matches(value, kind) -> bool:
    """Whether ``value`` (as YAML gives it) has the type ``kind``, limits aside."""
    kind, _ = _unwrap(kind)
    members = _union_members(kind)
    if members:
        return any(matches(value, member) for member in members)
    if typing.get_origin(kind) is Literal:
        return value in typing.get_args(kind)
    if kind is type(None):
        return value is None
    if kind is float:
        return _number(value)
    if kind is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if kind is list:  # a tuple passed from Python is a list to a config
        return isinstance(value, (list, tuple))
    return isinstance(value, typing.get_origin(kind) or kind)


def type_name(kind) -> str:
    """How a message names a type: 'an integer', 'sum or mean', 'a number or null'."""
    kind, _ = _unwrap(kind)
    members = _union_members(kind)
    if members:
        named = [" or ".join(map(repr, typing.get_args(member))) if typing.get_origin(member) is Literal
                 else type_name(member) for member in members if member is not type(None)]
        return " or ".join(named) + (" or null" if type(None) in members else "")
    if typing.get_origin(kind) is Literal:
        return " or ".join(str(choice) for choice in typing.get_args(kind))
    if isinstance(kind, type):
        return {"str": "a string", "int": "an integer", "float": "a number", "bool": "true or false",
                "list": "a list", "dict": "a mapping"}.get(kind.__name__, kind.__name__)
    return str(kind)


def bounded(value, limit=80):
    """repr(value), cut to ``limit`` characters: error messages stay one short line."""
    text = repr(value)
    return text if len(text) <= limit else text[:limit - 1] + "…"


def problem(value, kind) -> str | None:
    """What is wrong with ``value`` as an option of type ``kind``, or None."""
    members = _union_members(_unwrap(kind)[0])
    if members:  # the first member the value fits decides its limits (null fits Optional)
        fitting = [member for member in members if matches(value, member)]
        return problem(value, fitting[0]) if fitting else f"expected {type_name(kind)}, got {bounded(value)}"
    if not matches(value, kind):
        if typing.get_origin(_unwrap(kind)[0]) is Literal:
            return f"must be one of {type_name(kind).replace(' or ', ', ')}, got {bounded(value)}"
        return f"expected {type_name(kind)}, got {bounded(value)}"
    if not _finite(value):  # no option means anything by infinity: it only breaks later
        return f"must be a finite number, got {bounded(value)}"
    for rule in _unwrap(kind)[1]:
        entries = value if isinstance(value, list) else [value]
        if isinstance(rule, Range):
            if not all(_number(entry) for entry in entries):
                return f"expected numbers, got {bounded(value)}"
            if not all(rule.admits(entry) for entry in entries):
                return f"must be {rule}, got {bounded(value)}"
        elif isinstance(rule, Check) and not rule.predicate(value):
            return f"must be {rule.what}, got {bounded(value)}"
    return None


def plain_type(kind):
    """The type without its limits (float for ``Positive``)."""
    return _unwrap(kind)[0]


def hints(cls) -> dict:
    """The field types of a dataclass or the parameter types of a function, limits kept."""
    return typing.get_type_hints(cls, include_extras=True)
