"""Where the worker's next search for due deliveries starts, so that no claim re-reads a blocked endpoint's backlog.

Due rows are found through the index on `next_attempt_at`, oldest first, leaving out the
endpoints at their cap. The rows of such an endpoint (one that hangs until the timeout while
its events keep coming, 250 a second, say) cannot be taken, but a search from the oldest due
row reads past every one of them: about 0.15 µs each, so after 20 minutes of a hang (300,000
rows) each claim took 45 ms, tens of times a second, in the one loop that claims for every
endpoint. The hanging endpoint slowed all the others down, more the longer it hung.

So the next search starts at the *floor*: where the last one had read every due row it could
take (`ClaimRound.searched_to`: its time, or its last candidate's when cut short by its limit),
at most its time minus `LATE_COMMIT_MARGIN`. Below the floor, every due row belongs to an
endpoint that some search left out (blocked or capped, kept in `excluded`):

- an excluded endpoint that has slots again is *caught up*: its oldest rows below the floor
  are read through the per-endpoint due index, no more than its allowance, until none is left;
- a transaction that makes rows due (the fan-out, a manual retry, a recovery) stamps them before
  it commits, possibly long before on a busy database: its NOTIFY carries the earliest stamp
  and the floor is lowered to it (`lower`), so its rows are found however late it commits;
  if the worker was not listening, notifications may have been missed and the next search
  starts from the oldest row (`reset`);
- a failed attempt's retry (due a second or more after the attempt) is written by the worker's
  own recorder, which lowers the floor to it once committed (`OutcomeRecorder.on_due`), so a
  retry written late (outcomes held back by a database outage) is found at once; one written
  by another replica that stopped before its own worker could claim it is found if it was
  committed less than the margin after it was due, else by the search that starts from the
  oldest row again every `FULL_SEARCH_EVERY` seconds;
- a clock that goes backwards (tests set it) also starts the search from the oldest row.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Collection
from dataclasses import dataclass
from datetime import datetime, timedelta

from notifications.delivery_worker.repository import BEGINNING, ClaimRound

# each search re-reads this much of the due rows before its time: with an endpoint at its cap,
# 250 a second, about 150 index rows a claim (550 with 2 s, before the recorder lowered the floor)
LATE_COMMIT_MARGIN = timedelta(seconds=0.5)
FULL_SEARCH_EVERY = 30.0


@dataclass(frozen=True, slots=True)
class SearchPlan:
    now: datetime
    since: datetime  # BEGINNING: a full search
    catch_up: tuple[uuid.UUID, ...]

    @property
    def full(self) -> bool:
        return self.since == BEGINNING


class ScanFloor:
    def __init__(self, *, margin: timedelta = LATE_COMMIT_MARGIN, full_search_every: float = FULL_SEARCH_EVERY,
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        self.margin = margin
        self.full_search_every = full_search_every
        self._monotonic = monotonic
        self._floor: datetime | None = None
        self.excluded: set[uuid.UUID] = set()  # endpoints that may have due rows below the floor
        self._last_now: datetime | None = None
        self._full_search_due = 0.0
        self._notified: datetime | None = None  # the earliest stamp notified while a claim ran

    def reset(self) -> None:
        """The next search starts from the oldest due row."""
        self._floor = None
        self.excluded = set()

    def lower(self, due_at: datetime) -> None:
        """A committed transaction made rows due from `due_at`: search from there at the latest."""
        self._notified = due_at if self._notified is None else min(self._notified, due_at)
        if self._floor is not None and due_at < self._floor:
            self._floor = due_at

    def plan(self, now: datetime, blocked: Collection[uuid.UUID]) -> SearchPlan:
        self._notified = None
        went_back = self._last_now is not None and now < self._last_now
        if self._floor is None or went_back or self._monotonic() >= self._full_search_due:
            self.reset()
            return SearchPlan(now=now, since=BEGINNING, catch_up=())
        return SearchPlan(now=now, since=self._floor, catch_up=tuple(e for e in self.excluded if e not in blocked))

    def update(self, plan: SearchPlan, claim: ClaimRound, blocked: Collection[uuid.UUID]) -> None:
        """After the claim made with `plan` and `blocked`: move the floor up to where that search read all."""
        self._last_now = plan.now
        self.excluded -= claim.caught_up
        if claim.searched_to is None:
            return  # no search (the catch-up took every slot): nothing learnt
        if plan.full:
            self._full_search_due = self._monotonic() + self.full_search_every
        self.excluded |= set(blocked) | claim.capped
        floor = min(claim.searched_to, plan.now - self.margin)
        floor = floor if self._floor is None else max(self._floor, floor)
        if self._notified is not None:  # committed while the claim ran, perhaps after its snapshot
            floor = min(floor, self._notified)
        self._floor = floor
