"""The worker's scan floor: where a claim's search for due rows starts, and which endpoints it must catch up."""

import uuid
from datetime import UTC, datetime, timedelta

from notifications.delivery_worker.repository import BEGINNING, ClaimRound
from notifications.delivery_worker.scan_floor import ScanFloor

T0 = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)


class Ticks:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def read_all(now: datetime, **fields) -> ClaimRound:
    """A claim whose search read every due row up to `now`."""
    return ClaimRound(complete=True, searched_to=now, **fields)


def floor_with_ticks() -> tuple[ScanFloor, Ticks]:
    ticks = Ticks()
    return ScanFloor(margin=timedelta(seconds=2), full_search_every=30.0, monotonic=ticks), ticks


def test_a_complete_search_sets_the_floor_and_remembers_who_was_left_out():
    floor, _ticks = floor_with_ticks()
    hanging, capped = uuid.uuid4(), uuid.uuid4()
    plan = floor.plan(T0, [hanging])
    assert plan.full and plan.since == BEGINNING and plan.catch_up == ()
    floor.update(plan, read_all(T0, capped={capped}), [hanging])

    later = T0 + timedelta(seconds=1)
    plan = floor.plan(later, [hanging, capped])
    assert not plan.full and plan.since == T0 - timedelta(seconds=2)
    assert plan.catch_up == ()  # both still blocked: nothing to catch up, their backlog is not read
    assert floor.excluded == {hanging, capped}


def test_an_endpoint_with_slots_again_is_caught_up_until_nothing_is_left_below_the_floor():
    floor, _ticks = floor_with_ticks()
    hanging = uuid.uuid4()
    plan = floor.plan(T0, [hanging])
    floor.update(plan, read_all(T0), [hanging])

    plan = floor.plan(T0 + timedelta(seconds=15), [])  # its attempts timed out: slots again
    assert plan.catch_up == (hanging,)
    floor.update(plan, read_all(plan.now, capped={hanging}), [])  # more below the floor than it could take
    assert hanging in floor.excluded

    plan = floor.plan(T0 + timedelta(seconds=16), [])
    assert plan.catch_up == (hanging,)
    floor.update(plan, read_all(plan.now, caught_up={hanging}), [])
    assert floor.excluded == set()
    assert floor.plan(T0 + timedelta(seconds=17), []).catch_up == ()


def test_a_search_cut_short_moves_the_floor_only_to_what_it_read():
    floor, _ticks = floor_with_ticks()
    plan = floor.plan(T0, [])
    floor.update(plan, ClaimRound(), [])  # no search at all (the catch-up took every slot)
    assert floor.plan(T0 + timedelta(seconds=1), []).full  # so the next one is full again

    plan = floor.plan(T0 + timedelta(seconds=1), [])
    cut_at = T0 - timedelta(minutes=5)  # it reached its limit among rows due five minutes ago
    floor.update(plan, ClaimRound(searched_to=cut_at), [])
    assert floor.plan(T0 + timedelta(seconds=2), []).since == cut_at

    plan = floor.plan(T0 + timedelta(seconds=2), [])
    floor.update(plan, read_all(plan.now), [])
    assert floor.plan(T0 + timedelta(seconds=3), []).since == T0  # its time less the 2 s margin


def test_a_full_search_comes_back_periodically_for_rows_committed_late():
    floor, ticks = floor_with_ticks()
    plan = floor.plan(T0, [])
    floor.update(plan, read_all(T0), [])
    ticks.now += 29
    assert not floor.plan(T0 + timedelta(seconds=29), []).full
    ticks.now += 1
    assert floor.plan(T0 + timedelta(seconds=30), []).full


def test_a_clock_going_backwards_searches_from_the_oldest_row():
    floor, _ticks = floor_with_ticks()
    plan = floor.plan(T0, [])
    floor.update(plan, read_all(T0), [])
    assert floor.plan(T0 - timedelta(days=3), []).full


def test_a_transaction_committing_late_lowers_the_floor_to_its_stamp():
    floor, _ticks = floor_with_ticks()
    plan = floor.plan(T0, [])
    floor.update(plan, read_all(T0), [])
    stamped = T0 - timedelta(seconds=10)  # a fan-out stamped its rows 10 s before it committed
    floor.lower(stamped)
    assert floor.plan(T0 + timedelta(seconds=1), []).since == stamped
    floor.lower(T0 + timedelta(days=1))  # a later stamp never raises it
    assert floor.plan(T0 + timedelta(seconds=1), []).since == stamped


def test_a_notification_while_a_claim_runs_is_not_lost_when_the_floor_moves_up():
    floor, _ticks = floor_with_ticks()
    plan = floor.plan(T0, [])
    floor.update(plan, read_all(T0), [])
    plan = floor.plan(T0 + timedelta(seconds=30), [])
    stamped = T0 + timedelta(seconds=5)  # committed during this claim, after its snapshot
    floor.lower(stamped)
    floor.update(plan, read_all(plan.now), [])  # would move the floor to T0 + 28 s
    assert floor.plan(T0 + timedelta(seconds=31), []).since == stamped


def test_missed_notifications_mean_a_search_from_the_oldest_row():
    floor, _ticks = floor_with_ticks()
    blocked = [uuid.uuid4()]
    plan = floor.plan(T0, blocked)
    floor.update(plan, read_all(T0), blocked)
    floor.reset()  # the listener reconnected
    assert floor.plan(T0 + timedelta(seconds=1), []).full
