"""The sandbox worker pool: runs come back from another process; a run past its wall clock
costs that process (killed, replaced) and the next run is served."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from hub.playground.pool import PoolBusy, RunFailed, WorkerPool
from tests.playground import modules


@pytest.fixture(scope="module")
def pool() -> Iterator[WorkerPool]:
    pool = WorkerPool(1)
    try:
        yield pool
    finally:
        pool.close()


def test_a_run_comes_back_from_the_worker(pool: WorkerPool) -> None:
    result = pool.run("run", modules.skeleton(), {}, timeout=10, wait=30)
    assert result["ok"] and result["outcome"] == "forwarded"


def test_wall_clock_kills_and_replaces_the_worker(pool: WorkerPool) -> None:
    pool.run("load_check", modules.skeleton(), {}, timeout=10, wait=30)  # warm
    [before] = list(pool._all)
    # A CPU budget larger than the wall clock: only the pool can stop this one.
    job = {"limits": {"cpu_ms": 60_000}}
    started = time.monotonic()
    with pytest.raises(RunFailed) as failed:
        pool.run("run", modules.skeleton(request_headers=modules.LOOP), job, timeout=0.3, wait=30)
    assert failed.value.kind == "timeout"
    assert "0.3 s wall-clock limit" in failed.value.message
    assert time.monotonic() - started < 2
    assert not before.alive()
    # The replacement serves the next run.
    assert pool.run("load_check", modules.skeleton(), {}, timeout=10, wait=30)["ok"] is True


def test_busy_pool_answers_busy(pool: WorkerPool) -> None:
    worker = pool._idle.get()
    try:
        with pytest.raises(PoolBusy):
            pool.run("load_check", modules.skeleton(), {}, timeout=1, wait=0.05)
    finally:
        pool._idle.put(worker)


def test_a_worker_still_starting_answers_busy_and_stays() -> None:
    fresh = WorkerPool(1)
    try:
        with pytest.raises(PoolBusy, match="still starting"):
            fresh.run("load_check", modules.skeleton(), {}, timeout=5, wait=5, start_timeout=0)
        [worker] = list(fresh._all)
        assert fresh.run("load_check", modules.skeleton(), {}, timeout=5, wait=5)["ok"] is True
        assert list(fresh._all) == [worker]  # the same process, not a replacement
    finally:
        fresh.close()
