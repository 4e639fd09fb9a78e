"""The event queue: virtual time in milliseconds and a heap of events.

Events are ordered by (time_ms, seq): `seq` is a counter incremented on
every push, so events due at the same millisecond run in the order they were
scheduled and the order never depends on the events themselves. Nothing
here reads a clock: virtual time moves only when `pop` takes the next event.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Final

MAX_EVENTS: Final = 50_000_000
"""Upper bound on the events of one run (a run that reaches it is a bug)."""

EventAction = Callable[[], None]


@dataclass(slots=True)
class EventQueue:
    """A min-heap of (time_ms, seq, action) with the current virtual time."""

    now_ms: int = 0
    _heap: list[tuple[int, int, EventAction]] = field(default_factory=list)
    _seq: int = 0
    processed: int = 0

    def schedule_at(self, time_ms: int, action: EventAction) -> None:
        """Run `action` at virtual time `time_ms` (never earlier than now)."""
        self._seq += 1
        heapq.heappush(self._heap, (max(time_ms, self.now_ms), self._seq, action))

    def schedule_in(self, delay_ms: int, action: EventAction) -> None:
        """Run `action` `delay_ms` after now."""
        self.schedule_at(self.now_ms + delay_ms, action)

    def __len__(self) -> int:
        """The number of pending events."""
        return len(self._heap)

    def peek_time_ms(self) -> int | None:
        """The time of the next event, or None when the queue is empty."""
        return self._heap[0][0] if self._heap else None

    def run_next(self) -> bool:
        """Advance to the next event and run it; False when the queue is empty."""
        if not self._heap:
            return False
        time_ms, _, action = heapq.heappop(self._heap)
        self.now_ms = time_ms
        self.processed += 1
        if self.processed > MAX_EVENTS:
            raise AssertionError(f"more than {MAX_EVENTS} events in one run")
        action()
        return True
