"""Claims made together: the runs that threads of one runner claim at the same moment
are claimed in one transaction (group commit).

Many runs fall due at one instant (cron jobs at the top of a minute) and the pool's
threads, each given one, wake together to claim them. Claimed one by one, each
would take a connection of its own (opening one, past the pool's size) and wait
for the others' commits: SQLite's write lock, PostgreSQL's round trips. Here the
first thread to arrive claims for every thread waiting at that moment
(`claim.take_many`: one statement on PostgreSQL, one write lock on SQLite); those
arriving meanwhile are claimed together next. A thread alone claims alone, as
before, and so does every thread of a batch that failed: nothing of it was kept.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from synchub.store.claim import ClaimOutcome
from synchub.store.outage import DB_OUTAGE

log = logging.getLogger(__name__)

#: Claims the runs of these ids, all or none; the outcomes in their order.
ClaimMany = Callable[[list[int]], list[ClaimOutcome]]


@dataclass(eq=False)
class _Ticket:
    run_id: int
    done: bool = False
    #: None when done: claim alone (a batch that failed)
    outcome: ClaimOutcome | None = None


class ClaimGroups:
    def __init__(self, claim_many: ClaimMany, patience_s: float) -> None:
        self._claim_many = claim_many
        #: how long a claim waits for its turn before it is made alone: a claim under
        #: way may wait for a lock that is held for long (a job's, edited elsewhere)
        self._patience_s = patience_s
        self._changed = threading.Condition()
        #: tickets no batch has taken yet; while none is being claimed, every
        #: ticket not done is here
        self._waiting: list[_Ticket] = []
        self._claiming = False

    def take(self, run_id: int, alone: Callable[[], ClaimOutcome]) -> ClaimOutcome:
        """Claim the run with those claimed at the same moment, or by `alone()`.

        The thread that finds no claim under way claims for every thread waiting (a
        lone one by `alone()`, still holding the turn, so that those arriving
        meanwhile gather for the next batch), then hands the turn on."""
        ticket = _Ticket(run_id)
        batch = self._turn(ticket)
        if batch:
            try:
                if len(batch) == 1:
                    return alone()
                self._claim(batch)
            finally:
                self._hand_on(batch)
        return alone() if ticket.outcome is None else ticket.outcome

    def _turn(self, ticket: _Ticket) -> list[_Ticket]:
        """Wait until a batch claimed the ticket, or it is this thread's turn: then
        the batch to claim, every ticket waiting (this one among them). [] when
        claimed, or when the patience ran out before any batch took it."""
        with self._changed:
            self._waiting.append(ticket)
            patience = self._patience_s
            while self._claiming and not ticket.done:
                if patience <= 0 and ticket in self._waiting:
                    self._waiting.remove(ticket)
                    ticket.done = True  # no batch has it: claimed alone
                    return []
                began = time.monotonic()
                self._changed.wait(patience if patience > 0 else None)
                patience -= time.monotonic() - began
            if ticket.done:
                return []
            batch, self._waiting = self._waiting, []
            self._claiming = True
            return batch

    def _claim(self, batch: list[_Ticket]) -> None:
        try:
            outcomes = self._claim_many([t.run_id for t in batch])
        except Exception as exc:
            # Nothing was claimed: each thread claims its run alone, as it would have.
            if not DB_OUTAGE.failed(exc, f"a claim of {len(batch)} runs"):
                log.warning(
                    "a claim of %d runs together failed; each is claimed alone",
                    len(batch),
                    exc_info=True,
                    extra={"action": "claim_batch"},
                )
            return
        for ticket, outcome in zip(batch, outcomes, strict=True):
            ticket.outcome = outcome

    def _hand_on(self, batch: list[_Ticket]) -> None:
        with self._changed:
            for ticket in batch:
                ticket.done = True
            self._claiming = False
            self._changed.notify_all()
