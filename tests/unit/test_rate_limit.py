"""The in-process rate limiter with a fake clock: requests and tokens per window, counted from each reply,
and a hold after a 429."""

from __future__ import annotations

from dataclasses import dataclass, field

from botex_worker.ratelimit import COOL_DOWN_SECONDS, Limits, MemoryRateLimiter, parse_rate_limits


@dataclass
class FakeClock:
    """Time that moves only when someone sleeps."""

    now: float = 1000.0
    slept: list[float] = field(default_factory=list)

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def limiter(limits: Limits) -> tuple[MemoryRateLimiter, FakeClock]:
    clock = FakeClock()
    return MemoryRateLimiter(limits, window_seconds=60, clock=clock, sleep=clock.sleep), clock


def test_requests_beyond_the_limit_wait_until_the_oldest_leaves_the_window() -> None:
    paced, clock = limiter(Limits(requests=2))
    first = paced.acquire(10)
    paced.acquire(10)
    assert clock.slept == []
    clock.now += 5
    paced.finish(first, 12)  # the first reply came back: it counts for a full window from now
    paced.acquire(10)
    assert clock.now == 1000 + 60  # the second request's window ended first
    assert sum(clock.slept) == 55


def test_tokens_beyond_the_limit_wait_too() -> None:
    paced, clock = limiter(Limits(tokens=100))
    paced.acquire(60)
    paced.acquire(30)
    paced.acquire(30)
    assert clock.now == 1060


def test_a_429_holds_every_request_for_a_while() -> None:
    paced, clock = limiter(Limits())
    paced.acquire(1)
    paced.slow_down()
    paced.acquire(1)
    assert clock.slept == [COOL_DOWN_SECONDS]


def test_limits_are_read_per_queue() -> None:
    assert parse_rate_limits("botex.openai=500rpm,200000tpm;botex.local=10rpm") == {
        "botex.openai": Limits(requests=500, tokens=200000), "botex.local": Limits(requests=10)}
