"""What the Redis caches (blog/page_cache.py, blog/user_cache.py) keep per app: their client, how long an
entry may live, and a pause after an error, so that a Redis in trouble costs a request milliseconds once
every few seconds rather than on every request. A cache never fails a request: callers fall back to
rendering or to the database."""
from __future__ import annotations

import logging
import time

from redis import Redis

PAUSE_AFTER_ERROR = 5.0  # seconds without using the cache after Redis failed
log = logging.getLogger(__name__)


class CacheState:
    def __init__(self, label: str, redis: Redis | None, ttl: int, logger: logging.Logger = log):
        self.label = label  # "page cache", "user cache": how the log names it
        self.redis = redis
        self.ttl = ttl
        self.paused_until = 0.0
        self.log = logger

    def usable(self) -> bool:
        return self.redis is not None and time.monotonic() >= self.paused_until

    def failed(self, action: str, exc: Exception) -> None:
        self.paused_until = time.monotonic() + PAUSE_AFTER_ERROR
        self.log.warning("%s: %s failed, pausing %ss: %s", self.label, action, PAUSE_AFTER_ERROR, exc)


def client(url: str) -> Redis:
    # Short timeouts: a slow Redis must cost a reader milliseconds, not the jobs' five seconds.
    return Redis.from_url(url, socket_timeout=0.5, socket_connect_timeout=0.5)
