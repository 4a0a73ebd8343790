"""The per-caller token bucket behind the playground's 429."""

from __future__ import annotations

import time

from hub.playground.ratelimit import RateLimiter


def test_burst_then_wait_per_caller() -> None:
    limiter = RateLimiter(per_minute=3)
    assert [limiter.take("bob") for _ in range(3)] == [None, None, None]
    wait = limiter.take("bob")
    assert wait is not None and 0 < wait <= 20  # one token every 20 s
    assert limiter.take("alice") is None  # her own bucket


def test_tokens_come_back_with_time() -> None:
    limiter = RateLimiter(per_minute=6000, burst=1)  # 100 a second
    assert limiter.take("x") is None
    assert limiter.take("x") is not None
    time.sleep(0.03)
    assert limiter.take("x") is None
