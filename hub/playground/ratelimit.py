"""A token bucket per caller, in process memory: enough to stop one caller from keeping the
sandbox workers busy for everyone else. Each hub process keeps its own buckets."""

from __future__ import annotations

import threading
import time

MAX_KEYS = 10_000


class RateLimiter:
    def __init__(self, per_minute: int, burst: int | None = None) -> None:
        self.rate = per_minute / 60.0  # tokens per second
        self.capacity = float(burst if burst is not None else max(1, min(per_minute, 20)))
        self._buckets: dict[str, tuple[float, float]] = {}
        self._lock = threading.Lock()

    def take(self, key: str) -> float | None:
        """None when the caller may go ahead; else the seconds until a token is free."""
        now = time.monotonic()
        with self._lock:
            tokens, last = self._buckets.get(key, (self.capacity, now))
            tokens = min(self.capacity, tokens + (now - last) * self.rate)
            if tokens < 1:
                self._buckets[key] = (tokens, now)
                return (1 - tokens) / self.rate
            if len(self._buckets) >= MAX_KEYS and key not in self._buckets:
                self._prune(now)
            self._buckets[key] = (tokens - 1, now)
            return None

    def _prune(self, now: float) -> None:
        # Full buckets carry no information: forget them first.
        full = [
            k
            for k, (t, last) in self._buckets.items()
            if t + (now - last) * self.rate >= self.capacity
        ]
        for k in full:
            del self._buckets[k]
        if len(self._buckets) >= MAX_KEYS:
            self._buckets.clear()
