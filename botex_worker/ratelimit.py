"""Fleet-wide LLM rate limits per queue: requests and tokens per minute.

Celery's own ``rate_limit`` only spaces task starts within one worker; LLM
providers limit a whole account. Here every LLM call of every worker asks the
queue's limiter first. The limiter keeps a sliding 60-second log: in Redis,
updated by one atomic script (Redis's clock, so hosts need not agree), or in
memory for embedded mode. No 60-second window ever holds more requests than
the limit. A 429 from the provider holds the whole queue for a cool-down.

``BOTEX_RATE_LIMITS`` sets the limits, for example
``botex.openai=500rpm,200000tpm;botex.llamacpp=30rpm``.
"""

from __future__ import annotations

import logging
import os
import re
import threading
import time
import uuid
from collections import deque
from dataclasses import dataclass

from botex_core.errors import ConfigurationError

logger = logging.getLogger(__name__)

WINDOW_SECONDS = 60.0
COOL_DOWN_SECONDS = 5.0
_LIMIT = re.compile(r"^\s*(\d+)\s*(rpm|tpm)\s*$")


@dataclass(frozen=True)
class Limits:
    """Requests and tokens per minute; 0 means no limit."""

    requests: int = 0
    tokens: int = 0


def parse_rate_limits(text: str | None) -> dict[str, Limits]:
    """``queue=NNrpm,MMtpm;queue2=...`` as limits per queue."""
    limits: dict[str, Limits] = {}
    for entry in filter(None, (part.strip() for part in (text or "").split(";"))):
        queue, _, values = entry.partition("=")
        requests = tokens = 0
        for value in values.split(","):
            match = _LIMIT.match(value)
            if not queue.strip() or not match:
                raise ConfigurationError(f"rate limit '{entry}' is not of the form queue=NNrpm,MMtpm")
            if match.group(2) == "rpm":
                requests = int(match.group(1))
            else:
                tokens = int(match.group(1))
        limits[queue.strip()] = Limits(requests, tokens)
    return limits


def configured_limits() -> dict[str, Limits]:
    """The limits of ``BOTEX_RATE_LIMITS``."""
    return parse_rate_limits(os.environ.get("BOTEX_RATE_LIMITS"))


_ACQUIRE = """
local now_parts = redis.call('TIME')
local now = tonumber(now_parts[1]) * 1000 + math.floor(tonumber(now_parts[2]) / 1000)
local hold = redis.call('PTTL', KEYS[2])
if hold > 0 then return {hold, now} end
local window, rpm, tpm, tokens = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
local entries = redis.call('ZRANGE', KEYS[1], 0, -1, 'WITHSCORES')
local requests, used, oldest = 0, 0, nil
for i = 1, #entries, 2 do
  local kind, amount = string.match(entries[i], '^(%a):[^:]+:(%-?%d+)$')
  used = used + tonumber(amount)
  if kind == 'r' then
    requests = requests + 1
    if oldest == nil then oldest = tonumber(entries[i + 1]) end
  end
end
if (rpm > 0 and requests >= rpm) or (tpm > 0 and requests > 0 and used + tokens > tpm) then
  return {math.max(10, (oldest or now) + window - now), now}
end
redis.call('ZADD', KEYS[1], now, 'r:' .. ARGV[5] .. ':' .. tokens)
redis.call('PEXPIRE', KEYS[1], window * 2)
return {0, now}
"""

_SETTLE = """
local now_parts = redis.call('TIME')
local now = tonumber(now_parts[1]) * 1000 + math.floor(tonumber(now_parts[2]) / 1000)
redis.call('ZADD', KEYS[1], now, 't:' .. ARGV[1] .. ':' .. ARGV[2])
redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[3]) * 2)
return 0
"""


class RedisRateLimiter:
    """One queue's limiter, shared by every worker that talks to the same Redis."""

    def __init__(self, redis_url: str, queue: str, limits: Limits, window_seconds: float = WINDOW_SECONDS) -> None:
        import redis

        client = redis.Redis.from_url(redis_url)
        self._limits = limits
        self._window_ms = int(window_seconds * 1000)
        self._keys = [f"botex:ratelimit:{queue}:log", f"botex:ratelimit:{queue}:hold"]
        self._acquire = client.register_script(_ACQUIRE)
        self._settle = client.register_script(_SETTLE)
        self._client = client

    def acquire(self, tokens: int) -> float:
        """Block until the request may go; return when it was granted (Redis's clock, epoch seconds)."""
        while True:
            wait_ms, now_ms = self._acquire(
                keys=self._keys,
                args=[self._window_ms, self._limits.requests, self._limits.tokens, tokens, uuid.uuid4().hex],
            )
            if int(wait_ms) <= 0:
                return int(now_ms) / 1000
            time.sleep(int(wait_ms) / 1000)

    def settle(self, estimated: int, actual: int) -> None:
        if actual != estimated:
            self._settle(keys=self._keys[:1], args=[uuid.uuid4().hex, actual - estimated, self._window_ms])

    def slow_down(self) -> None:
        self._client.set(self._keys[1], "429", px=int(COOL_DOWN_SECONDS * 1000))
        logger.warning("the provider rate-limits queue %s: holding it for %.0f s", self._keys[0], COOL_DOWN_SECONDS)


class MemoryRateLimiter:
    """The same limiter for the bots of one process (embedded mode)."""

    def __init__(self, limits: Limits, window_seconds: float = WINDOW_SECONDS) -> None:
        self._limits = limits
        self._window = window_seconds
        self._log: deque[tuple[float, int, bool]] = deque()  # (time, tokens, is a request)
        self._hold_until = 0.0
        self._lock = threading.Lock()

    def acquire(self, tokens: int) -> float:
        """Block until the request may go; return when it was granted (epoch seconds)."""
        while True:
            with self._lock:
                wait = self._wait(tokens)
                if wait <= 0:
                    self._log.append((time.monotonic(), tokens, True))
                    return time.time()
            time.sleep(wait)

    def settle(self, estimated: int, actual: int) -> None:
        with self._lock:
            self._log.append((time.monotonic(), actual - estimated, False))

    def slow_down(self) -> None:
        with self._lock:
            self._hold_until = time.monotonic() + COOL_DOWN_SECONDS

    def _wait(self, tokens: int) -> float:
        now = time.monotonic()
        if now < self._hold_until:
            return self._hold_until - now
        while self._log and self._log[0][0] <= now - self._window:
            self._log.popleft()
        requests = [entry for entry in self._log if entry[2]]
        used = sum(entry[1] for entry in self._log)
        over_requests = self._limits.requests and len(requests) >= self._limits.requests
        over_tokens = self._limits.tokens and requests and used + tokens > self._limits.tokens
        if over_requests or over_tokens:
            return max(0.01, requests[0][0] + self._window - now)
        return 0.0


_memory_limiters: dict[str, MemoryRateLimiter] = {}
_memory_lock = threading.Lock()


def limiter_for(queue: str) -> RedisRateLimiter | MemoryRateLimiter | None:
    """The limiter of ``queue``: in Redis on a fleet, in memory when embedded; None if unlimited."""
    limits = configured_limits().get(queue)
    if limits is None:
        return None
    redis_url = os.environ.get("BOTEX_RATE_LIMIT_REDIS_URL") or os.environ.get("BOTEX_BROKER_URL")
    if redis_url and redis_url.startswith(("redis://", "rediss://")):
        return RedisRateLimiter(redis_url, queue, limits)
    with _memory_lock:
        return _memory_limiters.setdefault(queue, MemoryRateLimiter(limits))
