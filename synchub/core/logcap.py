"""A run's log, capped: the head and the tail are kept, the middle is counted."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field


@dataclass
class LogCap:
    """Decides which log lines stay. Lines are numbered from 1 in arrival order.

    The first half of the budget keeps the head for good; the second half keeps a
    sliding tail. Lines pushed out of the tail are reported so the store can delete
    them, and are counted in `dropped_lines` / `dropped_bytes`.
    """

    cap_bytes: int
    seq: int = 0
    head_bytes: int = 0
    tail_bytes: int = 0
    dropped_lines: int = 0
    dropped_bytes: int = 0
    _tail: deque[tuple[int, int]] = field(default_factory=deque)

    @property
    def head_budget(self) -> int:
        return self.cap_bytes // 2

    def admit(self, size: int) -> tuple[int, list[int]]:
        """Number the next line of `size` bytes; return its seq and the seqs to drop."""
        self.seq += 1
        if not self._tail and self.head_bytes + size <= self.head_budget:
            self.head_bytes += size
            return self.seq, []
        self._tail.append((self.seq, size))
        self.tail_bytes += size
        dropped: list[int] = []
        while self.tail_bytes > self.cap_bytes - self.head_budget and self._tail:
            old_seq, old_size = self._tail.popleft()
            self.tail_bytes -= old_size
            self.dropped_lines += 1
            self.dropped_bytes += old_size
            dropped.append(old_seq)
        return self.seq, dropped
