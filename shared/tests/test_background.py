"""invora.background.repeat: passes isolated, a busy round repeats at once, wake-ups, clean shutdown."""

import asyncio

from invora import background


async def test_a_failing_pass_never_stops_the_others_nor_the_next_rounds() -> None:
    runs: list[str] = []
    third = asyncio.Event()

    async def broken() -> None:
        runs.append("broken")
        raise RuntimeError("the database is away")

    async def fine() -> None:
        runs.append("fine")
        if runs.count("fine") == 3:
            third.set()

    async with background.repeat("test", {"broken": broken, "fine": fine}, 0.01):
        await asyncio.wait_for(third.wait(), 10)
    assert runs[:4] == ["broken", "fine", "broken", "fine"]


async def test_a_busy_round_starts_the_next_at_once_and_an_idle_one_waits() -> None:
    backlog = [5, 4, 3, 2, 1, 0]
    seen: list[int] = []

    async def claim() -> int:
        seen.append(backlog.pop(0) if backlog else 0)
        return seen[-1]

    async with background.repeat("test", {"claim": claim}, 60, again_when_busy=True):
        for _ in range(100):
            if len(seen) >= 6:
                break
            await asyncio.sleep(0.01)
        await asyncio.sleep(0.05)
    # five busy rounds ran back to back; the idle one then waits its 60 s, so no seventh round
    assert seen == [5, 4, 3, 2, 1, 0]


async def test_a_wakeup_cuts_the_wait_short_and_exit_cancels_the_loop() -> None:
    wakeup = asyncio.Event()
    rounds = 0
    cancelled = asyncio.Event()

    async def count() -> None:
        nonlocal rounds
        rounds += 1

    async def wait_forever() -> None:
        try:
            await asyncio.sleep(3600)
        except asyncio.CancelledError:
            cancelled.set()
            raise

    async with background.repeat("test", {"count": count}, 60, wakeup=wakeup):
        await asyncio.sleep(0.05)
        assert rounds == 1
        wakeup.set()
        await asyncio.sleep(0.05)
        assert rounds == 2
    async with background.repeat("test", {"wait": wait_forever}, 60):
        await asyncio.sleep(0.02)
    assert cancelled.is_set()


async def test_wait_first_runs_nothing_before_the_first_interval() -> None:
    rounds = 0

    async def count() -> None:
        nonlocal rounds
        rounds += 1

    async with background.repeat("test", {"count": count}, 0.2, wait_first=True):
        await asyncio.sleep(0.05)
        assert rounds == 0
        await asyncio.sleep(0.3)
    assert rounds >= 1
