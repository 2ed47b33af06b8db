"""`invora dev`'s restart back-off: quick first restart, doubling, capped, reset once stable."""

from invora.cli.restarts import RestartBackoff


def test_backoff_doubles_up_to_the_cap_and_resets_once_stable():
    backoff = RestartBackoff(initial=0.5, maximum=4.0, stable_after=60.0, started_at=0.0)
    delays = []
    now = 1.0
    for _ in range(6):  # crash loop: each restart dies at once
        delays.append(backoff.died(now))
        assert backoff.pending and not backoff.due(now) and backoff.due(now + delays[-1])
        now += delays[-1]
        backoff.started(now)
        assert not backoff.pending
    assert delays == [0.5, 1.0, 2.0, 4.0, 4.0, 4.0]
    assert backoff.died(now + 61) == 0.5  # it stayed up a minute: the next crash is repaired at once


def test_a_failed_start_counts_as_another_death():
    backoff = RestartBackoff(initial=1.0, maximum=30.0, started_at=0.0)
    assert backoff.died(100.0) == 1.0
    assert backoff.failed_to_start(101.0) == 2.0
    assert backoff.failed_to_start(103.0) == 4.0 and backoff.due(107.0) and not backoff.due(106.9)
