"""Fixtures: one Kaa server process per test session (fresh keyspace per test), and the
Debian redis-server oracle for differential tests when it is installed.

redis-py 8 speaks RESP3 unless told otherwise, so ``r`` and ``oracle`` (library defaults)
are RESP3 connections; ``r2``/``oracle2`` pin RESP2 and ``r3`` pins RESP3 explicitly."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import redis
from tests.support.servers import ServerProcess, redis_server_path, start_kaa, start_redis


@pytest.fixture(scope="session")
def kaa_proc() -> Iterator[ServerProcess]:
    p = start_kaa()
    yield p
    alive = p.alive()
    p.stop()
    assert alive, "kaa-server died during the test session"


@pytest.fixture()
def r(kaa_proc: ServerProcess) -> Iterator[redis.Redis]:
    client = redis.Redis(port=kaa_proc.port, socket_timeout=10)
    client.flushall()
    yield client
    client.close()


@pytest.fixture()
def r2(kaa_proc: ServerProcess) -> Iterator[redis.Redis]:
    client = redis.Redis(port=kaa_proc.port, protocol=2, socket_timeout=10)
    client.flushall()
    yield client
    client.close()


@pytest.fixture()
def r3(kaa_proc: ServerProcess) -> Iterator[redis.Redis]:
    client = redis.Redis(port=kaa_proc.port, protocol=3, socket_timeout=10)
    client.flushall()
    yield client
    client.close()


@pytest.fixture(scope="session")
def oracle_proc() -> Iterator[ServerProcess]:
    if redis_server_path() is None:
        pytest.skip("redis-server is not installed; differential tests need it")
    p = start_redis()
    yield p
    p.stop()


@pytest.fixture()
def oracle(oracle_proc: ServerProcess) -> Iterator[redis.Redis]:
    client = redis.Redis(port=oracle_proc.port, socket_timeout=10)
    client.flushall()
    yield client
    client.close()


@pytest.fixture()
def oracle2(oracle_proc: ServerProcess) -> Iterator[redis.Redis]:
    client = redis.Redis(port=oracle_proc.port, protocol=2, socket_timeout=10)
    client.flushall()
    yield client
    client.close()
