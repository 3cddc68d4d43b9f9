"""The fleet-wide rate limiter: its Redis script shared by processes, and its in-memory twin."""

from __future__ import annotations

import multiprocessing
import threading
import time

import pytest

from botex_core.errors import ConfigurationError
from botex_worker.ratelimit import Limits, MemoryRateLimiter, RedisRateLimiter, parse_rate_limits
from tests.support.services import RedisServer

WINDOW = 2.0
LIMIT = 10
RUN_SECONDS = 6.0


def granted_times(limiter: RedisRateLimiter | MemoryRateLimiter) -> list[float]:
    """Ask the limiter again and again for RUN_SECONDS; when did it grant each request?"""
    stamps: list[float] = []
    deadline = time.time() + RUN_SECONDS
    while time.time() < deadline:
        stamps.append(limiter.acquire(10).granted_at)
    return [stamp for stamp in stamps if stamp < stamps[0] + RUN_SECONDS]


def _hammer(redis_url: str, results: multiprocessing.Queue) -> None:
    results.put(granted_times(RedisRateLimiter(redis_url, "botex.test", Limits(requests=LIMIT), window_seconds=WINDOW)))


def assert_limit_held(stamps: list[float]) -> None:
    stamps.sort()
    busiest = max(sum(1 for t in stamps if start <= t < start + WINDOW) for start in stamps)
    assert busiest <= LIMIT, f"{busiest} requests in one {WINDOW} s window"
    ideal = LIMIT * RUN_SECONDS / WINDOW
    assert len(stamps) >= 0.9 * ideal, f"{len(stamps)} requests, ideal {ideal:.0f}"


def test_three_processes_share_one_redis_limit(redis_server: RedisServer) -> None:
    context = multiprocessing.get_context("spawn")
    results = context.Queue()
    workers = [context.Process(target=_hammer, args=(redis_server.url, results)) for _ in range(3)]
    for process in workers:
        process.start()
    stamps = [stamp for _ in workers for stamp in results.get(timeout=60)]
    for process in workers:
        process.join(10)
    assert_limit_held(stamps)


def test_a_429_holds_the_queue(redis_server: RedisServer) -> None:
    limiter = RedisRateLimiter(redis_server.url, "botex.held", Limits(requests=1000), window_seconds=WINDOW)
    limiter.slow_down()
    started = time.monotonic()
    limiter.acquire(1)
    assert time.monotonic() - started >= 4.0


def test_the_memory_limiter_holds_the_same_limit() -> None:
    limiter = MemoryRateLimiter(Limits(requests=LIMIT), window_seconds=WINDOW)
    stamps: list[float] = []
    lock = threading.Lock()

    def hammer() -> None:
        granted = granted_times(limiter)
        with lock:
            stamps.extend(granted)

    threads = [threading.Thread(target=hammer) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert_limit_held(stamps)


def test_tokens_and_requests_count_from_the_reply() -> None:
    limiter = MemoryRateLimiter(Limits(requests=2, tokens=100), window_seconds=WINDOW)
    grant = limiter.acquire(10)
    time.sleep(WINDOW / 2)
    limiter.finish(grant, 95)  # the call took half a window and really used 95 tokens
    started = time.monotonic()
    limiter.acquire(10)
    waited = time.monotonic() - started
    assert WINDOW * 0.9 <= waited <= WINDOW * 1.2, f"waited {waited:.2f} s for a window counted from the reply"


def test_hundreds_of_bots_of_one_process_are_all_paced(redis_server: RedisServer, caplog: pytest.LogCaptureFixture) -> None:
    import redis

    bots = 200
    limiter = RedisRateLimiter(redis_server.url, "botex.crowd", Limits(requests=1000), window_seconds=WINDOW)
    # Redis stalls for a moment, so that every bot's request is in flight at once.
    redis.Redis.from_url(redis_server.url).execute_command("CLIENT", "PAUSE", "1000", "ALL")
    asking = [threading.Thread(target=limiter.acquire, args=(1,)) for _ in range(bots)]
    for thread in asking:
        thread.start()
    for thread in asking:
        thread.join(60)
    assert "not pacing" not in caplog.text
    assert redis.Redis.from_url(redis_server.url).zcard("botex:ratelimit:botex.crowd:log") == bots


def test_redis_limiter_counts_from_the_reply(redis_server: RedisServer) -> None:
    limiter = RedisRateLimiter(redis_server.url, "botex.reply", Limits(requests=1), window_seconds=WINDOW)
    grant = limiter.acquire(10)
    time.sleep(WINDOW / 2)
    limiter.finish(grant, 12)
    started = time.monotonic()
    second = limiter.acquire(10)
    assert second.granted_at - grant.granted_at >= WINDOW * 1.45
    assert time.monotonic() - started >= WINDOW * 0.9


def test_rate_limit_settings_are_parsed_or_refused() -> None:
    assert parse_rate_limits("botex.openai=500rpm,200000tpm; botex.llamacpp=30rpm") == {
        "botex.openai": Limits(500, 200000), "botex.llamacpp": Limits(30, 0),
    }
    assert parse_rate_limits(None) == {}
    with pytest.raises(ConfigurationError, match="not of the form"):
        parse_rate_limits("botex.openai=30rps")
