"""Small client helpers shared by the command tests: a redis-py client that returns raw
replies and never retries (a retry could run a write twice), and one-line calls."""

from __future__ import annotations

from typing import Any

import pytest
import redis
from redis.backoff import NoBackoff
from redis.retry import Retry


def raw_client(port: int, protocol: int = 2) -> redis.Redis:
    c = redis.Redis(port=port, protocol=protocol, socket_timeout=10, retry=Retry(NoBackoff(), 0))
    c.response_callbacks.clear()
    return c


def x(c: redis.Redis, *args: Any) -> Any:
    """Send one command; the raw reply."""
    return c.execute_command(*args)


def err(c: redis.Redis, *args: Any) -> str:
    """Send one command that must fail; its error text."""
    with pytest.raises(redis.ResponseError) as e:
        c.execute_command(*args)
    return str(e.value)
