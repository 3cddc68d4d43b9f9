"""Fleet-wide LLM rate limits per queue: requests and tokens per minute.

Celery's own ``rate_limit`` only spaces task starts within one worker; LLM
providers limit a whole account. Here every LLM call of every worker asks the
queue's limiter first. The limiter keeps a sliding 60-second log: in Redis,
updated by one atomic script (Redis's clock, so hosts need not agree), or in
memory for embedded mode. A request counts from the moment it is granted and,
once its reply is in, for a full window after the reply: however long a
request takes to reach the provider, no 60-second window there holds more
requests than the limit (unless one request spends longer than the window on
its way). The whole limit may go out at once (burst) when a queue was idle.
A 429 from the provider holds the whole queue for a cool-down.

``BOTEX_RATE_LIMITS`` sets the limits, for example
``botex.openai=500rpm,200000tpm;botex.llamacpp=30rpm``.
"""

from __future__ import annotations

import logging
import re
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass

import redis
from redis.exceptions import RedisError

from botex_core.errors import ConfigurationError
from botex_worker.settings import FleetSettings

logger = logging.getLogger(__name__)

WINDOW_SECONDS = 60.0
COOL_DOWN_SECONDS = 5.0
REDIS_CONNECTIONS = 32
REDIS_CONNECTION_WAIT_SECONDS = 30.0
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


_ACQUIRE = """
local now_parts = redis.call('TIME')
local now = tonumber(now_parts[1]) * 1000 + math.floor(tonumber(now_parts[2]) / 1000)
local hold = redis.call('PTTL', KEYS[2])
if hold > 0 then return {hold, now} end
local window, rpm, tpm, tokens = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
local entries = redis.call('ZRANGE', KEYS[1], 0, -1, 'WITHSCORES')
local requests, used = #entries / 2, 0
for i = 1, #entries, 2 do
  used = used + tonumber(string.match(entries[i], ':(%d+)$'))
end
if (rpm > 0 and requests >= rpm) or (tpm > 0 and requests > 0 and used + tokens > tpm) then
  return {math.max(10, tonumber(entries[2]) + window - now), now}
end
redis.call('ZADD', KEYS[1], now, ARGV[5] .. ':' .. tokens)
redis.call('PEXPIRE', KEYS[1], window * 2)
return {0, now}
"""

_FINISH = """
local now_parts = redis.call('TIME')
local now = tonumber(now_parts[1]) * 1000 + math.floor(tonumber(now_parts[2]) / 1000)
redis.call('ZREM', KEYS[1], ARGV[1])
redis.call('ZADD', KEYS[1], now, ARGV[2])
redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[3]) * 2)
return 0
"""


@dataclass(frozen=True)
class Grant:
    """Leave for one request: its id in the log, the tokens it was granted for, and when (epoch seconds)."""

    request_id: str
    tokens: int
    granted_at: float


class RedisRateLimiter:
    """One queue's limiter, shared by every worker that talks to the same Redis."""

    def __init__(self, redis_url: str, queue: str, limits: Limits, window_seconds: float = WINDOW_SECONDS) -> None:
        # The bots of a process share a few connections and wait for a free one: with
        # redis-py's own pool, bots beyond its 100 connections would go unpaced.
        pool = redis.BlockingConnectionPool.from_url(
            redis_url, max_connections=REDIS_CONNECTIONS, timeout=REDIS_CONNECTION_WAIT_SECONDS,
        )
        client = redis.Redis(connection_pool=pool)
        self._limits = limits
        self._window_ms = int(window_seconds * 1000)
        self._keys = [f"botex:ratelimit:{queue}:log", f"botex:ratelimit:{queue}:hold"]
        self._acquire = client.register_script(_ACQUIRE)
        self._finish = client.register_script(_FINISH)
        self._client = client

    def acquire(self, tokens: int) -> Grant:
        """Block until the request may go; the grant says when (Redis's clock).

        While Redis does not answer the request goes unpaced: the provider's own
        429s still slow the bot down, and the bot keeps playing.
        """
        request_id = uuid.uuid4().hex
        while True:
            try:
                wait_ms, now_ms = self._acquire(
                    keys=self._keys,
                    args=[self._window_ms, self._limits.requests, self._limits.tokens, tokens, request_id],
                )
            except RedisError as exc:
                logger.warning("rate limit of %s unknown, Redis does not answer (%s): not pacing this request",
                               self._keys[0], exc)
                return Grant(request_id, tokens, time.time())
            if int(wait_ms) <= 0:
                return Grant(request_id, tokens, int(now_ms) / 1000)
            time.sleep(int(wait_ms) / 1000)

    def finish(self, grant: Grant, tokens: int) -> None:
        """The reply is in: count the request from now on, with the tokens it really used."""
        try:
            self._finish(
                keys=self._keys[:1],
                args=[f"{grant.request_id}:{grant.tokens}", f"{grant.request_id}:{max(tokens, 0)}", self._window_ms],
            )
        except RedisError:
            pass  # Redis lost the log anyway, or will drop the entry with its window

    def slow_down(self) -> None:
        """The provider answered 429: hold every request of the queue, fleet-wide, for a cool-down."""
        try:
            self._client.set(self._keys[1], "429", px=int(COOL_DOWN_SECONDS * 1000))
        except RedisError:
            return
        logger.warning("the provider rate-limits queue %s: holding it for %.0f s", self._keys[0], COOL_DOWN_SECONDS)


class MemoryRateLimiter:
    """The same limiter for the bots of one process (embedded mode)."""

    def __init__(self, limits: Limits, window_seconds: float = WINDOW_SECONDS,
                 clock: Callable[[], float] = time.monotonic, sleep: Callable[[float], None] = time.sleep) -> None:
        self._limits = limits
        self._window = window_seconds
        self._clock = clock
        self._sleep = sleep
        self._log: dict[str, tuple[float, int]] = {}  # request id -> (counted since, tokens), oldest first
        self._hold_until = 0.0
        self._lock = threading.Lock()

    def acquire(self, tokens: int) -> Grant:
        """Block until the request may go; the grant says when."""
        request_id = uuid.uuid4().hex
        while True:
            with self._lock:
                wait = self._wait(tokens)
                if wait <= 0:
                    self._log[request_id] = (self._clock(), tokens)
                    return Grant(request_id, tokens, time.time())
            self._sleep(wait)

    def finish(self, grant: Grant, tokens: int) -> None:
        """The reply is in: count the request from now on, with the tokens it really used."""
        with self._lock:
            self._log.pop(grant.request_id, None)
            self._log[grant.request_id] = (self._clock(), max(tokens, 0))

    def slow_down(self) -> None:
        """The provider answered 429: hold every request for a while."""
        with self._lock:
            self._hold_until = self._clock() + COOL_DOWN_SECONDS

    def _wait(self, tokens: int) -> float:
        now = self._clock()
        if now < self._hold_until:
            return self._hold_until - now
        for request_id, (since, _) in list(self._log.items()):
            if since > now - self._window:
                break
            del self._log[request_id]
        used = sum(count for _, count in self._log.values())
        over_requests = self._limits.requests and len(self._log) >= self._limits.requests
        over_tokens = self._limits.tokens and self._log and used + tokens > self._limits.tokens
        if over_requests or over_tokens:
            oldest = next(iter(self._log.values()))[0]
            return max(0.01, oldest + self._window - now)
        return 0.0


_limiters: dict[tuple[str, Limits, str | None], RedisRateLimiter | MemoryRateLimiter] = {}
_limiters_lock = threading.Lock()


def limiter_for(queue: str, fleet: FleetSettings) -> RedisRateLimiter | MemoryRateLimiter:
    """The limiter of ``queue`` under ``fleet``'s ``BOTEX_RATE_LIMITS``: in Redis on a fleet,
    in memory when embedded. A queue without limits still gets one, so that a 429 from
    the provider holds the whole queue for a moment.

    One per queue and process, shared by its bots (and, for Redis, their connection pool).
    """
    limits = parse_rate_limits(fleet.rate_limits).get(queue, Limits())
    redis_url = fleet.rate_limit_redis_url or fleet.broker_url
    if not (redis_url and redis_url.startswith(("redis://", "rediss://"))):
        redis_url = None
    key = (queue, limits, redis_url)
    with _limiters_lock:
        if key not in _limiters:
            _limiters[key] = RedisRateLimiter(redis_url, queue, limits) if redis_url else MemoryRateLimiter(limits)
        return _limiters[key]
