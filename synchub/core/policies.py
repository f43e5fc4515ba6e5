"""Overlap and retry policies."""

from __future__ import annotations

import random
from dataclasses import dataclass
from enum import StrEnum

from synchub.core.runs import RETRYABLE, RunState


class OverlapPolicy(StrEnum):
    SKIP = "skip"  #: a run that finds its job running is recorded as skipped
    QUEUE = "queue"  #: it waits until the running one ends
    ALLOW = "allow"  #: it runs alongside


@dataclass(frozen=True)
class RetryPolicy:
    retries: int = 3  #: further attempts after the first, as the seed systems' Celery tasks
    delay_s: int = 60  #: wait before the first retry; doubles each time
    max_delay_s: int = 3600  #: backoff ceiling

    def should_retry(self, state: RunState, attempt: int, *, permanent: bool) -> bool:
        """True when a run that ended in `state` on attempt `attempt` gets another."""
        return state in RETRYABLE and not permanent and attempt <= self.retries

    def delay(self, attempt: int, rng: random.Random | None = None) -> float:
        """Seconds to wait before attempt `attempt + 1`: exponential, with full jitter
        on the upper half so retries of many jobs do not stampede together."""
        base = float(min(self.max_delay_s, self.delay_s << max(0, attempt - 1)))
        jitter: float = (rng or random.Random()).uniform(0, base / 2)
        return base / 2 + jitter
