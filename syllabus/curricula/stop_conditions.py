"""Stopping conditions of [`SequentialCurriculum`][syllabus.curricula.sequential.SequentialCurriculum].

A condition compares a metric with a number, e.g. ``"episodes >= 100"``, and conditions combine
with ``&`` (and) and ``|`` (or), ``&`` binding tighter than ``|``; parentheses group. In Python,
[`Condition`][syllabus.curricula.stop_conditions.Condition] objects combine with the same operators::

    parse_condition("episodes>=100 & episode_return>0.9 | total_steps>=1e6")
    Comparison("episodes", ">=", 100) & Comparison("episode_return", ">", 0.9)
"""

from __future__ import annotations

import operator
import re
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import NamedTuple

from syllabus.core.checks import check_finite, is_number

METRICS: tuple[str, ...] = (
    "episodes",
    "steps",
    "tasks",
    "episode_return",
    "total_episodes",
    "total_steps",
    "total_tasks",
)
"""Metrics a condition can test: per stage (``episodes``, ``steps``, ``tasks``, ``episode_return``)
and since construction (``total_*``)."""

OPERATORS: dict[str, Callable[[float, float], bool]] = {
    "<": operator.lt,
    "<=": operator.le,
    "==": operator.eq,
    "=": operator.eq,
    ">=": operator.ge,
    ">": operator.gt,
}
"""Comparison operators; ``=`` is the same as ``==``."""

_GRAMMAR_HELP = (
    f"valid metrics: {', '.join(METRICS)}; valid operators: {' '.join(OPERATORS)}; "
    "combine comparisons with & (and) and | (or)"
)


class Condition(ABC):
    """A stopping condition over a mapping of metric values; combine with ``&`` and ``|``."""

    @abstractmethod
    def __call__(self, metrics: Mapping[str, float]) -> bool:
        """Whether the condition holds for ``metrics`` (a missing metric never satisfies a comparison)."""

    def __and__(self, other: Condition) -> Condition:
        return And(self, other) if isinstance(other, Condition) else NotImplemented

    def __or__(self, other: Condition) -> Condition:
        return Or(self, other) if isinstance(other, Condition) else NotImplemented


@dataclass(frozen=True)
class Comparison(Condition):
    """``metric op value``, e.g. ``Comparison("episodes", ">=", 100)``.

    Args:
        metric: What to compare: one of the metrics the sequential curriculum tracks (e.g. ``episodes``, ``episode_return``, ``total_steps``).
        op: The comparison operator (``<``, ``<=``, ``>``, ``>=``, ``==``).
        value: The threshold, a finite number.

    Raises:
        ValueError: ``metric`` or ``op`` is unknown, or ``value`` is not finite.
        TypeError: ``value`` is not a number.
    """

    metric: str
    op: str
    value: float

    def __post_init__(self) -> None:
        if self.metric not in METRICS:
            raise ValueError(f"unknown metric {self.metric!r}; {_GRAMMAR_HELP}")
        if self.op not in OPERATORS:
            raise ValueError(f"unknown operator {self.op!r}; {_GRAMMAR_HELP}")
        if not is_number(self.value):
            raise TypeError(f"comparison value must be a number, got {self.value!r}")
        object.__setattr__(self, "op", "==" if self.op == "=" else self.op)
        object.__setattr__(self, "value", check_finite("comparison value", self.value))

    def __call__(self, metrics: Mapping[str, float]) -> bool:
        value = metrics.get(self.metric)
        return value is not None and OPERATORS[self.op](value, self.value)

    def __str__(self) -> str:
        return f"{self.metric} {self.op} {self.value!r}"


@dataclass(frozen=True)
class And(Condition):
    """Holds when both conditions hold.

    Args:
        left: First condition.
        right: Second condition.
    """

    left: Condition
    right: Condition

    def __call__(self, metrics: Mapping[str, float]) -> bool:
        return self.left(metrics) and self.right(metrics)

    def __str__(self) -> str:
        return f"({self.left} & {self.right})"


@dataclass(frozen=True)
class Or(Condition):
    """Holds when either condition holds.

    Args:
        left: First condition.
        right: Second condition.
    """

    left: Condition
    right: Condition

    def __call__(self, metrics: Mapping[str, float]) -> bool:
        return self.left(metrics) or self.right(metrics)

    def __str__(self) -> str:
        return f"({self.left} | {self.right})"


def parse_condition(text: str) -> Condition:
    """Parses a condition such as ``"episodes>=10 & episode_return>0.5 | total_steps>1e6"``.

    Args:
        text: The condition, comparisons joined by ``&`` (and) and ``|`` (or).

    Raises:
        ValueError: The text is not a valid condition; the message says what is wrong and lists
            the valid metrics and operators.
        TypeError: ``text`` is not a string.
    """
    if not isinstance(text, str):
        raise TypeError(f"a stopping condition must be a string or a Condition, got {text!r}")
    return _Parser(text).parse()


class _Token(NamedTuple):
    kind: str  # "number", "name", "op" or "punct"
    text: str
    pos: int


_TOKEN_RE = re.compile(
    r"\s*(?:(?P<number>[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)"
    r"|(?P<name>[A-Za-z_]\w*)|(?P<op>[<>=!]+)|(?P<punct>[&|()]))"
)


class _Parser:
    """Recursive-descent parser.

    Grammar: ``or := and ("|" and)*``, ``and := atom ("&" atom)*`` and
    ``atom := "(" or ")" | METRIC OPERATOR NUMBER``.
    """

    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = self._tokenize()
        self.index = 0

    def parse(self) -> Condition:
        if not self.tokens:
            raise self._error("the condition is empty")
        condition = self._or()
        token = self._peek()
        if token is not None:
            raise self._error(f"unexpected {token.text!r} at position {token.pos} (expected & or |)")
        return condition

    def _tokenize(self) -> list[_Token]:
        tokens, pos = [], 0
        while self.text[pos:].strip():
            match = _TOKEN_RE.match(self.text, pos)
            if match is None:
                bad = len(self.text) - len(self.text[pos:].lstrip())
                raise self._error(f"unexpected character {self.text[bad]!r} at position {bad}")
            kind = match.lastgroup
            assert kind is not None  # every alternative of _TOKEN_RE is a named group
            tokens.append(_Token(kind, match.group(kind), match.start(kind)))
            pos = match.end()
        return tokens

    def _peek(self) -> _Token | None:
        return self.tokens[self.index] if self.index < len(self.tokens) else None

    def _next(self, expected: str) -> _Token:
        token = self._peek()
        if token is None:
            raise self._error(f"expected {expected} at the end of the condition")
        self.index += 1
        return token

    def _accept(self, punct: str) -> bool:
        token = self._peek()
        if token is not None and token.kind == "punct" and token.text == punct:
            self.index += 1
            return True
        return False

    def _or(self) -> Condition:
        condition = self._and()
        while self._accept("|"):
            condition = Or(condition, self._and())
        return condition

    def _and(self) -> Condition:
        condition = self._atom()
        while self._accept("&"):
            condition = And(condition, self._atom())
        return condition

    def _atom(self) -> Condition:
        if self._accept("("):
            condition = self._or()
            token = self._next("')'")
            if token.text != ")":
                raise self._error(f"expected ')' at position {token.pos}, got {token.text!r}")
            return condition
        metric = self._next("a metric name")
        if metric.kind != "name":
            raise self._error(f"expected a metric name at position {metric.pos}, got {metric.text!r}")
        if metric.text not in METRICS:
            raise self._error(f"unknown metric {metric.text!r}")
        op = self._next(f"an operator after {metric.text!r}")
        if op.kind != "op":
            raise self._error(f"expected an operator after {metric.text!r}, got {op.text!r}")
        if op.text not in OPERATORS:
            raise self._error(f"unknown operator {op.text!r}")
        number = self._next(f"a number after '{metric.text} {op.text}'")
        if number.kind != "number":
            raise self._error(f"expected a number after '{metric.text} {op.text}', got {number.text!r}")
        return Comparison(metric.text, op.text, float(number.text))

    def _error(self, problem: str) -> ValueError:
        return ValueError(f"invalid stopping condition {self.text!r}: {problem}; {_GRAMMAR_HELP}")
