"""Billable metric expressions: Lago's small arithmetic over an event, parsed by a grammar, never `eval`.

A metric's `expression` (e.g. `round((event.properties.ended_at - event.properties.started_at) *
event.properties.units, 2)`) is evaluated for each event at ingestion; the value is written into the
event's properties under the metric's `field_name`, and aggregated from there like a value the event
carried (Lago's `Events::CalculateExpressionService`). The catalog validates expressions when a metric
is saved and answers `POST /billable_metrics/evaluate_expression` with the same code.

The language is lago-expression's (getlago/lago-expression, `grammar.pest` / `evaluate.rs`):

- numbers `12`, `0.5`; strings in single quotes `'-'`;
- `event.properties.<name>`, `event.timestamp` (Unix seconds), `event.code`; Invora also reads a bare
  `<name>` as `event.properties.<name>` (the form Lago's own API reference shows:
  `round((ended_at - started_at) * units)`);
- `+ - * /` with the usual precedence, left to right; a unary minus before an operand; parentheses;
- `round(x[, digits])` (half away from zero), `ceil(x[, digits])`, `floor(x[, digits])`, where
  `digits` may be negative (`round(1234, -2)` = 1200), and `concat(a, b, …)` (text). Function names
  are written `round`, `ROUND` or `Round`, as Lago accepts them.

Arithmetic is exact `Decimal` (division to 50 significant digits). A property that holds text which
reads as a number is that number (Lago). Evaluation fails with `ExpressionFailed` on a missing
property, text where a number is needed, division by zero or an out-of-range precision; nothing
here can run code, read attributes or loop: the parser only builds the tree below, and a tree's
depth and an expression's length are bounded.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import ROUND_CEILING, ROUND_FLOOR, ROUND_HALF_UP, Context, Decimal, InvalidOperation, localcontext
from functools import lru_cache
from typing import Any

from lark import Lark, Tree
from lark.exceptions import LarkError

MAX_LENGTH = 1000
MAX_DEPTH = 64
MAX_DIGITS = 30  # |precision| of round/ceil/floor
_CONTEXT = Context(prec=50, Emax=10_000, Emin=-10_000)

_GRAMMAR = r"""
?start: sum
?sum: product
    | sum "+" product -> add
    | sum "-" product -> subtract
?product: unary
    | product "*" unary -> multiply
    | product "/" unary -> divide
?unary: primary
    | "-" primary -> negate
?primary: NUMBER -> number
    | STRING -> string
    | EVENT_ATTRIBUTE -> attribute
    | NAME -> bare_property
    | NAME "(" sum ("," sum)* ")" -> call
    | "(" sum ")"

EVENT_ATTRIBUTE.2: /event\.(properties\.[A-Za-z][A-Za-z0-9_]*|timestamp|code)(?![A-Za-z0-9_.])/
NAME: /[A-Za-z][A-Za-z0-9_]*/
NUMBER: /[0-9]+(\.[0-9]+)?/
STRING: /'[^']*'/
%ignore /[ \t]+/
"""

_PARSER = Lark(_GRAMMAR, parser="lalr", maybe_placeholders=False)

# each function: its name as Lago spells it, and how many arguments it takes (min, max; None: any)
_FUNCTIONS = {"round": (1, 2), "ceil": (1, 2), "floor": (1, 2), "concat": (1, None)}
_SPELLINGS = {spelling: name for name in _FUNCTIONS for spelling in (name, name.upper(), name.capitalize())}
_ROUNDING = {"round": ROUND_HALF_UP, "ceil": ROUND_CEILING, "floor": ROUND_FLOOR}


class ExpressionInvalid(ValueError):
    """The text is not an expression (Lago's `invalid_expression`)."""


class ExpressionFailed(ValueError):
    """The expression cannot be evaluated for this event. `missing` names a property it lacks."""

    def __init__(self, message: str, missing: str | None = None) -> None:
        super().__init__(message)
        self.missing = missing


@dataclass(frozen=True, slots=True)
class EventInput:
    """What an expression reads of an event."""

    code: str
    timestamp: int  # Unix seconds
    properties: Mapping[str, Any]


Value = Decimal | str


@dataclass(frozen=True, slots=True)
class Expression:
    source: str
    _tree: Tree

    def evaluate(self, event: EventInput) -> Value:
        with localcontext(_CONTEXT):
            try:
                return _evaluate(self._tree, event)
            except (InvalidOperation, ArithmeticError) as exc:  # e.g. an exponent beyond the context's
                if isinstance(exc, ExpressionFailed):
                    raise
                raise ExpressionFailed(f"arithmetic error: {type(exc).__name__}") from None

    def properties(self) -> frozenset[str]:
        """The event properties the expression reads."""
        return frozenset(_property_name(t) for t in self._tree.iter_subtrees()
                         if t.data in ("attribute", "bare_property") and _property_name(t))


@lru_cache(maxsize=1024)
def compile_expression(source: str) -> Expression:
    """Parse once (cached by text); ExpressionInvalid when it is not one."""
    if not isinstance(source, str) or not source.strip():
        raise ExpressionInvalid("empty expression")
    if len(source) > MAX_LENGTH:
        raise ExpressionInvalid(f"longer than {MAX_LENGTH} characters")
    try:
        tree = _PARSER.parse(source)
    except LarkError as exc:
        raise ExpressionInvalid(str(exc).splitlines()[0][:200]) from None
    if not isinstance(tree, Tree):  # a lone token (cannot happen with the rules above, but never trust it)
        raise ExpressionInvalid("not an expression")
    _check(tree)
    return Expression(source, tree)


def render(value: Value) -> str:
    """The value as Invora stores and returns it: a number as plain decimal text, text as is."""
    if isinstance(value, str):
        return value
    text = format(value, "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def _check(tree: Tree) -> None:
    """Depth bound, known functions with the right number of arguments (iteratively: no recursion here)."""
    stack = [(tree, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise ExpressionInvalid(f"nested deeper than {MAX_DEPTH}")
        if node.data == "call":
            name, *arguments = node.children
            function = _SPELLINGS.get(str(name))
            if function is None:
                raise ExpressionInvalid(f"unknown function {str(name)[:40]!r}")
            low, high = _FUNCTIONS[function]
            if len(arguments) < low or (high is not None and len(arguments) > high):
                raise ExpressionInvalid(f"{function} takes {low}–{high or 'any'} arguments")
        stack.extend((child, depth + 1) for child in node.children if isinstance(child, Tree))


def _property_name(node: Tree) -> str | None:
    token = str(node.children[0])
    if node.data == "bare_property":
        return token
    return token.removeprefix("event.properties.") if token.startswith("event.properties.") else None


def _number(value: Value) -> Decimal:
    if isinstance(value, Decimal):
        return value
    raise ExpressionFailed(f"expected a number, got text {value[:40]!r}")


def _read_property(event: EventInput, name: str) -> Value:
    if name not in event.properties:
        raise ExpressionFailed(f"the event has no property {name!r}", missing=name)
    raw = event.properties[name]
    if isinstance(raw, bool) or raw is None or isinstance(raw, (dict, list)):
        return json.dumps(raw)
    if isinstance(raw, (int, float)):
        parsed = Decimal(str(raw))
        if not parsed.is_finite():
            raise ExpressionFailed(f"property {name!r} is not a finite number")
        return parsed
    text = str(raw)
    try:
        parsed = Decimal(text.strip())
    except InvalidOperation:
        return text
    return parsed if parsed.is_finite() else text  # "NaN", "Infinity": text, as they are no numbers


def _evaluate(node: Tree, event: EventInput) -> Value:
    kind = node.data
    children = node.children
    if kind == "number":
        return Decimal(str(children[0]))
    if kind == "string":
        return str(children[0])[1:-1]
    if kind == "attribute":
        token = str(children[0])
        if token == "event.timestamp":
            return Decimal(event.timestamp)
        if token == "event.code":
            return event.code
        return _read_property(event, token.removeprefix("event.properties."))
    if kind == "bare_property":
        return _read_property(event, str(children[0]))
    if kind == "negate":
        return -_number(_evaluate(children[0], event))
    if kind in ("add", "subtract", "multiply", "divide"):
        left = _number(_evaluate(children[0], event))
        right = _number(_evaluate(children[1], event))
        if kind == "add":
            return left + right
        if kind == "subtract":
            return left - right
        if kind == "multiply":
            return left * right
        if right == 0:
            raise ExpressionFailed("division by zero")
        return left / right
    if kind == "call":
        name, *arguments = children
        function = _SPELLINGS[str(name)]
        if function == "concat":
            return "".join(render(_evaluate(a, event)) for a in arguments)
        value = _number(_evaluate(arguments[0], event))
        digits = 0
        if len(arguments) == 2:
            precision = _number(_evaluate(arguments[1], event))
            if precision != precision.to_integral_value() or abs(precision) > MAX_DIGITS:
                raise ExpressionFailed(f"precision must be a whole number within ±{MAX_DIGITS}")
            digits = int(precision)
        return value.quantize(Decimal(1).scaleb(-digits), rounding=_ROUNDING[function])
    raise ExpressionInvalid(f"unexpected node {kind}")  # pragma: no cover - the grammar has no other


__all__ = ["EventInput", "Expression", "ExpressionFailed", "ExpressionInvalid", "compile_expression", "render"]
