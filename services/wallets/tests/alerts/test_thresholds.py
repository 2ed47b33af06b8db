"""Which thresholds a falling value crosses: examples, and a replay against a brute-force walk."""

from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from wallets.alerts.thresholds import crossed

D = Decimal


def _values(hits):
    return [h["value"] for h in hits]


def test_a_fixed_threshold_is_crossed_when_reached_or_passed_going_down():
    thresholds = [{"code": "low", "value": "1000", "recurring": False},
                  {"code": "empty", "value": "0", "recurring": False}]
    assert _values(crossed(thresholds, D(1500), D(1000))) == ["1000"]  # reaching it counts
    assert _values(crossed(thresholds, D(1000), D(500))) == []  # already at or below it
    assert _values(crossed(thresholds, D(1500), D(0))) == ["1000", "0"]  # highest first
    assert crossed(thresholds, D(0), D(2000)) == []  # a rise crosses nothing


def test_a_recurring_threshold_repeats_below_the_lowest_fixed_one():
    thresholds = [{"code": "warn", "value": "1000", "recurring": False},
                  {"code": "step", "value": "300", "recurring": True}]
    assert _values(crossed(thresholds, D(2000), D(350))) == ["1000", "700", "400"]
    assert _values(crossed(thresholds, D(400), D(0))) == ["100"]
    only = [{"code": "every", "value": "250", "recurring": True}]
    assert _values(crossed(only, D(800), D(0))) == ["750", "500", "250", "0"]


def _points(thresholds, top):
    """Brute force: every point a threshold stands for, up to `top`."""
    fixed = [D(t["value"]) for t in thresholds if not t["recurring"]]
    points = list(fixed)
    base = min(fixed) if fixed else None
    for t in thresholds:
        if t["recurring"]:
            step = D(t["value"])
            if base is None:
                points += [k * step for k in range(0, int(top / step) + 2)]
            else:
                points += [base - k * step for k in range(1, int(base / step) + 1)]
    return points


thresholds_strategy = st.lists(st.integers(0, 500), min_size=0, max_size=4).flatmap(
    lambda fixed: st.one_of(st.none(), st.integers(1, 200)).map(
        lambda step: [{"code": None, "value": str(v), "recurring": False} for v in fixed]
        + ([{"code": "r", "value": str(step), "recurring": True}] if step else [])))


@settings(max_examples=300, deadline=None)
@given(thresholds_strategy, st.lists(st.integers(-100, 1000), min_size=2, max_size=12))
def test_every_downward_pass_over_a_point_is_reported_exactly_once(thresholds, walk):
    """Over any walk of values, the crossings reported equal, point by point, the number of times the
    walk went from above a point to at or below it."""
    if not thresholds:
        return
    reported: dict[Decimal, int] = {}
    for previous, current in zip(walk, walk[1:], strict=False):
        for hit in crossed(thresholds, D(previous), D(current)):
            reported[D(hit["value"])] = reported.get(D(hit["value"]), 0) + 1
    expected: dict[Decimal, int] = {}
    for point in _points(thresholds, D(max(walk))):
        count = sum(1 for a, b in zip(walk, walk[1:], strict=False) if b <= point < a)
        if count:
            expected[point] = expected.get(point, 0) + count
    assert reported == expected
