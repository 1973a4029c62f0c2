"""Long-running and hostile scripts: past busy-reply-threshold other clients get BUSY,
SCRIPT KILL / FUNCTION KILL stop a script that has not written, SHUTDOWN NOSAVE still
works, and no Lua (endless loops, memory bombs, deep recursion) takes the server down.

Each test that leaves a script running uses its own server process."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator

import pytest
import redis
from redis.exceptions import BusyLoadingError, ResponseError
from tests.support.servers import ServerProcess, start_kaa

BUSY_EVAL = "BUSY Valkey is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE."
BUSY_FUNCTION = ("BUSY Valkey is busy running a script. You can only call FUNCTION KILL or "
                 "SHUTDOWN NOSAVE.")


@pytest.fixture()
def srv() -> Iterator[ServerProcess]:
    p = start_kaa("--busy-reply-threshold", "50")
    yield p
    p.stop()


def send(port: int, *argv: object) -> socket.socket:
    """Send a command without waiting for its reply."""
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    parts = [b"*%d\r\n" % len(argv)]
    for a in argv:
        b = a if isinstance(a, bytes) else str(a).encode()
        parts.append(b"$%d\r\n%s\r\n" % (len(b), b))
    s.sendall(b"".join(parts))
    return s


def read_reply(s: socket.socket, timeout: float = 10) -> bytes:
    s.settimeout(timeout)
    data = b""
    while not data.endswith(b"\r\n"):
        chunk = s.recv(65536)
        if not chunk:
            break
        data += chunk
    return data


def busy_error(client: redis.Redis) -> str:
    try:
        client.ping()
    except (ResponseError, BusyLoadingError) as e:
        return str(e)
    return ""


def wait_busy(client: redis.Redis, timeout: float = 5) -> str:
    deadline = time.time() + timeout
    while time.time() < deadline:
        e = busy_error(client)
        if e:
            return e
        time.sleep(0.02)
    raise AssertionError("the script never went busy")


def test_busy_then_script_kill(srv: ServerProcess) -> None:
    runner = send(srv.port, "EVAL", "while true do end", 0)
    c = redis.Redis(port=srv.port, protocol=2, socket_timeout=10)
    assert "is busy running a script" in wait_busy(c)
    # the raw text (redis-py maps BUSY to an exception class and keeps the message)
    probe = send(srv.port, "GET", "x")
    assert read_reply(probe) == b"-" + BUSY_EVAL.encode() + b"\r\n"
    probe.close()
    # FUNCTION KILL may not kill an EVAL script
    with pytest.raises(ResponseError) as e:
        c.execute_command("FUNCTION", "KILL")
    assert "You can only call SCRIPT KILL" in str(e.value)
    # FUNCTION STATS refuses too while an EVAL runs
    with pytest.raises((ResponseError, BusyLoadingError)):
        c.execute_command("FUNCTION", "STATS")
    assert c.script_kill()
    reply = read_reply(runner)
    assert reply.startswith(b"-ERR Script killed by user with SCRIPT KILL...")
    assert c.ping()
    runner.close()
    assert srv.alive()


def test_kill_even_when_pcall_swallows_errors(srv: ServerProcess) -> None:
    script = "local f = function() while 1 do redis.call('ping') end end while 1 do pcall(f) end"
    runner = send(srv.port, "EVAL", script, 0)
    c = redis.Redis(port=srv.port, protocol=2, socket_timeout=10)
    wait_busy(c)
    assert c.script_kill()
    assert b"killed by user" in read_reply(runner)
    assert c.ping()


def test_pipelined_commands_after_a_killed_script_run(srv: ServerProcess) -> None:
    s = socket.create_connection(("127.0.0.1", srv.port), timeout=10)
    body = b"while 1 do redis.call('ping') end"
    s.sendall(b"*3\r\n$4\r\neval\r\n$%d\r\n%s\r\n$1\r\n0\r\n*1\r\n$4\r\nping\r\n" % (len(body), body))
    c = redis.Redis(port=srv.port, protocol=2, socket_timeout=10)
    wait_busy(c)
    c.script_kill()
    data = b""
    deadline = time.time() + 10
    while b"+PONG\r\n" not in data and time.time() < deadline:
        data += s.recv(65536)
    assert data.startswith(b"-ERR Script killed by user") and data.endswith(b"+PONG\r\n")


def test_unkillable_after_write_and_shutdown_nosave(srv: ServerProcess) -> None:
    send(srv.port, "EVAL", "redis.call('set', KEYS[1], 'y') while true do end", 1, "x")
    c = redis.Redis(port=srv.port, protocol=2, socket_timeout=10)
    wait_busy(c)
    with pytest.raises(ResponseError) as e:
        c.script_kill()
    assert str(e.value) == ("UNKILLABLE Sorry the script already executed write commands against the dataset. "
                            "You can either wait the script termination or kill the server in a hard "
                            "way using the SHUTDOWN NOSAVE command.")
    assert busy_error(c)
    probe = send(srv.port, "SHUTDOWN")  # SHUTDOWN without NOSAVE is refused
    assert read_reply(probe).startswith(b"-BUSY")
    try:
        c.shutdown(nosave=True)
    except redis.exceptions.ConnectionError:
        pass
    srv.proc.wait(10)
    assert not srv.alive()


def test_function_busy_and_function_kill(srv: ServerProcess) -> None:
    c = redis.Redis(port=srv.port, protocol=2, socket_timeout=10)
    c.function_load("#!lua name=loop\nredis.register_function('spin', function() while true do end end)")
    runner = send(srv.port, "FCALL", "spin", 0)
    assert BUSY_FUNCTION.split(" ", 1)[1] in wait_busy(c)
    with pytest.raises(ResponseError) as e:
        c.script_kill()
    assert "You can only call FUNCTION KILL" in str(e.value)
    stats = c.function_stats()
    running = dict(zip(stats[1][::2], stats[1][1::2], strict=True))
    assert running[b"name"] == b"spin"
    assert running[b"command"] == [b"FCALL", b"spin", b"0"]
    assert running[b"duration_ms"] >= 0
    assert c.execute_command("FUNCTION", "KILL")
    assert b"killed by user" in read_reply(runner)
    assert c.ping()


def test_blocked_client_is_served_after_the_script(srv: ServerProcess) -> None:
    c = redis.Redis(port=srv.port, protocol=2, socket_timeout=10)
    c.execute_command("DEBUG", "set-disable-deny-scripts", 1)
    waiter = send(srv.port, "BLPOP", "x", 0)
    time.sleep(0.1)
    script = ("redis.call('lpush', KEYS[1], 'y') "
              "while true do if string.find(redis.call('client', 'list'), 'stopnow') then break end end "
              "redis.call('lpush', KEYS[1], 'z') return 'done'")
    runner = send(srv.port, "EVAL", script, 1, "x")
    wait_busy(c)
    third = redis.Redis(port=srv.port, protocol=2, socket_timeout=10)
    third.execute_command("HELLO", "2", "SETNAME", "stopnow")  # allowed while busy
    assert read_reply(runner) == b"$4\r\ndone\r\n"
    # the blocked client sees the state after the whole script, never the middle
    assert read_reply(waiter) == b"*2\r\n$1\r\nx\r\n$1\r\nz\r\n"


def test_script_that_finishes_while_busy_replies(srv: ServerProcess) -> None:
    c = redis.Redis(port=srv.port, protocol=2, socket_timeout=10)
    t = time.time()
    assert c.eval("local t = os.clock() while os.clock() - t < 0.3 do end return 'ok'", 0) == b"ok"
    assert time.time() - t >= 0.3
    assert c.eval("for i=1,30000 do redis.call('ping') end return 'ok'", 0) == b"ok"
    assert c.ping()


def test_nothing_expires_during_a_busy_script(srv: ServerProcess) -> None:
    c = redis.Redis(port=srv.port, protocol=2, socket_timeout=10)
    c.set("k", "v", px=100)
    assert c.eval("local t = os.clock() while os.clock() - t < 0.4 do end "
                  "return redis.call('exists', KEYS[1])", 1, "k") == 1
    time.sleep(0.05)
    assert c.exists("k") == 0


# ---- hostile Lua never kills the server --------------------------------------------------

@pytest.mark.parametrize(("script", "expected"), [
    ("return #string.rep('x', 2^30 + 1)", "not enough memory"),
    ("local s = string.rep('x', 2^28) local t = {s .. s, s .. s .. s} return #t", "not enough memory"),
    ("local function f(n) return f(n + 1) + 1 end return f(1)", "stack overflow"),
    ("local s = 'x' for i = 1, 40 do s = s .. s end return #s", "not enough memory"),
    ("local co = coroutine.wrap(function() while true do end end) co()", None),
    ("local co = coroutine.create(function() while true do end end) return coroutine.resume(co)", None),
])
def test_hostile_scripts(srv: ServerProcess, script: str, expected: str | None) -> None:
    c = redis.Redis(port=srv.port, protocol=2, socket_timeout=30)
    if expected is None:  # an endless loop inside a coroutine: killed like any other
        runner = send(srv.port, "EVAL", script, 0)
        wait_busy(c)
        c.script_kill()
        assert b"killed by user" in read_reply(runner)
    else:
        with pytest.raises(ResponseError) as e:
            c.eval(script, 0)
        assert expected in str(e.value)
    assert c.ping()
    assert c.eval("return 'still fine'", 0) == b"still fine"
    assert srv.alive()
