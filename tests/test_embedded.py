"""The in-process API: a server in a background thread, started and stopped cleanly."""

from __future__ import annotations

import socket

import redis

from kaa.embedded import EmbeddedServer


def test_embedded_server_serves_and_stops() -> None:
    with EmbeddedServer() as srv:
        r = redis.Redis(port=srv.port)
        assert r.ping() is True
        r.set("k", "v")
        assert r.get("k") == b"v"
        port = srv.port
        r.close()
    # After the block the port no longer accepts connections.
    s = socket.socket()
    try:
        s.settimeout(1)
        assert s.connect_ex(("127.0.0.1", port)) != 0
    finally:
        s.close()


def test_embedded_server_takes_config_options() -> None:
    with EmbeddedServer(requirepass="sekret") as srv:
        r = redis.Redis(port=srv.port)
        try:
            r.ping()
            raise AssertionError("expected NOAUTH")
        except redis.AuthenticationError:
            pass
        except redis.ResponseError as e:
            assert "NOAUTH" in str(e)
        r2 = redis.Redis(port=srv.port, password="sekret")
        assert r2.ping() is True
        r.close()
        r2.close()
