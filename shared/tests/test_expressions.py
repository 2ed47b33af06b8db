"""Billable metric expressions (`invora.expressions`): Lago's language, evaluated exactly and safely."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from invora.expressions import (
    MAX_DEPTH,
    EventInput,
    ExpressionFailed,
    ExpressionInvalid,
    compile_expression,
    render,
)

EVENT = EventInput(code="storage", timestamp=1_700_000_000,
                   properties={"started_at": "100", "ended_at": 160.5, "units": 3, "region": "eu", "gb": "1.25"})


def value(source: str, event: EventInput = EVENT) -> str:
    return render(compile_expression(source).evaluate(event))


@pytest.mark.parametrize(("source", "expected"), [
    ("2 + 3 * 4", "14"),
    ("(2 + 3) * 4", "20"),
    ("10 - 2 - 3", "5"),  # left to right
    ("24 / 4 / 2", "3"),
    ("2 * 3 - 4 / 8", "5.5"),
    ("-2 * 3", "-6"),
    ("1 - -2", "3"),
    ("-(2 + 3)", "-5"),
])
def test_precedence_and_associativity(source, expected):
    assert value(source) == expected


@pytest.mark.parametrize(("source", "expected"), [
    ("round(2.5)", "3"), ("round(-2.5)", "-3"),  # half away from zero (Lago: RoundingMode::HalfUp)
    ("round(2.4999)", "2"), ("round(12.345, 2)", "12.35"), ("round(1234, -2)", "1200"), ("round(1250, -2)", "1300"),
    ("ceil(12.3)", "13"), ("ceil(-12.3)", "-12"), ("ceil(12.351, 1)", "12.4"), ("ceil(12.3, -1)", "20"),
    ("floor(12.7)", "12"), ("floor(-12.3)", "-13"), ("floor(12.359, 2)", "12.35"),
    ("ROUND(2.5)", "3"), ("Ceil(0.1)", "1"), ("FLOOR(0.9)", "0"),
    ("round(event.properties.gb * 3, 1)", "3.8"),
])
def test_rounding_functions_with_precision(source, expected):
    assert value(source) == expected


def test_event_attributes_and_bare_property_names():
    # Lago's API reference writes properties bare; lago-expression writes event.properties.<name>: both read the same
    assert value("round((ended_at - started_at) * units)") == "182"
    assert value("round((event.properties.ended_at - event.properties.started_at) * event.properties.units)") == "182"
    assert value("event.timestamp / 1000") == "1700000"
    assert value("concat(event.code, '-', region, '-', units)") == "storage-eu-3"
    assert value("'plain text'") == "plain text"
    assert compile_expression("ended_at - event.properties.started_at + 1").properties() == {"ended_at", "started_at"}


def test_text_that_reads_as_a_number_is_a_number():
    assert value("gb * 4") == "5"
    assert value("started_at + 1") == "101"


def test_division_is_exact_to_fifty_digits():
    assert value("1 / 3") == "0." + "3" * 50
    assert value("round(2 / 3, 4)") == "0.6667"


@pytest.mark.parametrize(("source", "missing"), [("missing + 1", "missing"), ("event.properties.nope", "nope"),
                                                 ("round(units * absent)", "absent")])
def test_a_missing_property_fails_naming_it(source, missing):
    with pytest.raises(ExpressionFailed) as failure:
        compile_expression(source).evaluate(EVENT)
    assert failure.value.missing == missing


@pytest.mark.parametrize("source", ["1 / 0", "units / (started_at - 100)", "region * 2", "-region",
                                    "round(1, 31)", "round(1, 0.5)", "round(region)", "round(1, region)"])
def test_evaluation_failures_are_typed(source):
    with pytest.raises(ExpressionFailed) as failure:
        compile_expression(source).evaluate(EVENT)
    assert failure.value.missing is None


def test_non_finite_or_odd_property_values_are_not_numbers():
    event = EventInput("c", 0, {"nan": "NaN", "inf": "Infinity", "flag": True, "nested": {"a": 1}, "none": None})
    for name in ("nan", "inf", "flag", "nested", "none"):
        with pytest.raises(ExpressionFailed):
            compile_expression(f"{name} + 1").evaluate(event)
    assert value("concat(flag, nested, none)", event) == 'true{"a": 1}null'


@pytest.mark.parametrize("source", [
    "__import__('os').system('id')", "exec('1')", "eval(1)", "open('/etc/passwd')", "units.__class__",
    "event.properties.units.__class__", "event.__dict__", "event.foo", "().__class__", "lambda: 1", "1; 2",
    "1 if 1 else 2", "[1, 2]", "{'a': 1}", "2 ** 10", "7 % 2", "units()", "round()", "round(1, 2, 3)",
    "concat()", "\"double quotes\"", "--1", "1 +", "", "   ", "f'{1}'", "1e5", "0x10", "x" * 1001,
    "sum(1)", "Round(1)" + ")", "ROUnd(1)",
])
def test_anything_outside_the_language_is_refused(source):
    with pytest.raises(ExpressionInvalid):
        compile_expression(source)


def test_deep_nesting_is_bounded():
    shallow = "-(" * 20 + "1" + ")" * 20
    assert value(shallow) == "1"
    with pytest.raises(ExpressionInvalid, match="nested"):
        compile_expression("-(" * (MAX_DEPTH + 1) + "1" + ")" * (MAX_DEPTH + 1))
    assert value("(" * 300 + "1" + ")" * 300) == "1"  # parentheses alone add no depth


@given(st.integers(-10**9, 10**9), st.integers(-10**9, 10**9), st.integers(-10**9, 10**9))
def test_arithmetic_matches_decimal(a, b, c):
    event = EventInput("c", 0, {"a": a, "b": str(b), "c": c})
    assert value("a + b * c - a / 1", event) == render(Decimal(a) + Decimal(b) * c - Decimal(a))
    if c != 0:
        expected = (Decimal(a) / Decimal(c)).quantize(Decimal("0.001"), "ROUND_HALF_UP")
        assert value("round(a / c, 3)", event) == render(expected)
