"""Fixtures for kaa-cli tests: a throwaway redis-server and helpers to run both CLIs.

The CLI is checked differentially against Debian's redis-cli, so both need a live
server.  Until Kaa's own server is ready the target is a real redis-server started on
a free loopback port; the tests skip when redis-server or redis-cli is not installed.
"""

from __future__ import annotations

import os
import pty
import select
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest

KAA_CLI = [sys.executable, "-m", "kaa.cli.main"]


@dataclass(frozen=True)
class Server:
    host: str
    port: int
    unix_socket: str


@dataclass(frozen=True)
class Result:
    stdout: bytes
    stderr: bytes
    returncode: int


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_ready(port: int, proc: subprocess.Popen[bytes], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError("redis-server exited during startup")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5) as s:
                s.sendall(b"PING\r\n")
                if s.recv(64).startswith(b"+PONG"):
                    return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError("redis-server did not become ready")


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A private redis-server (DEBUG enabled so DEBUG PROTOCOL can emit RESP3 types)."""
    binary = shutil.which("redis-server")
    if binary is None or shutil.which("redis-cli") is None:
        pytest.skip("redis-server/redis-cli not installed")
    workdir = tmp_path_factory.mktemp("redis")
    # Unix socket paths are limited to ~100 bytes; pytest tmp paths can be long.
    sock_path = f"/tmp/kaa-cli-test-{os.getpid()}.sock"
    port = _free_port()
    cmd = [
        binary,
        "--port", str(port),
        "--bind", "127.0.0.1",
        "--save", "",
        "--appendonly", "no",
        "--dir", str(workdir),
        "--unixsocket", sock_path,
        "--enable-debug-command", "yes",
    ]  # fmt: skip
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        _wait_ready(port, proc)
        yield Server("127.0.0.1", port, sock_path)
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        Path(sock_path).unlink(missing_ok=True)


def _env(home: Path | None = None) -> dict[str, str]:
    env = dict(os.environ)
    env.pop("REDISCLI_AUTH", None)
    env.pop("KAACLI_AUTH", None)
    env["TERM"] = "dumb"
    if home is not None:
        env["HOME"] = str(home)
    return env


def run_cli(
    prog: Sequence[str], args: Sequence[str], stdin: bytes = b"", env: dict[str, str] | None = None
) -> Result:
    """Run a CLI with pipes for all three streams (so stdout is not a tty)."""
    proc = subprocess.run(
        [*prog, *args], input=stdin, capture_output=True, timeout=30, env=env or _env()
    )
    return Result(proc.stdout, proc.stderr, proc.returncode)


def run_cli_tty(
    prog: Sequence[str],
    args: Sequence[str],
    lines: Sequence[str] = (),
    env: dict[str, str] | None = None,
    settle: float = 0.3,
) -> Result:
    """Run a CLI with stdin/stdout/stderr on a pseudo-terminal, typing ``lines``.

    Output is merged (as a terminal shows it) and the pty's \\r\\n is folded back to \\n.
    """
    master, slave = pty.openpty()
    proc = subprocess.Popen(
        [*prog, *args],
        stdin=slave,
        stdout=slave,
        stderr=slave,
        env=env or _env(),
        start_new_session=True,
    )
    os.close(slave)
    out = bytearray()

    def drain(seconds: float) -> None:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            ready, _, _ = select.select([master], [], [], 0.02)
            if ready:
                try:
                    chunk = os.read(master, 65536)
                except OSError:  # EIO: the child closed the terminal
                    return
                if not chunk:
                    return
                out.extend(chunk)
                deadline = max(deadline, time.monotonic() + 0.05)
            elif proc.poll() is not None:
                return

    try:
        drain(settle if lines else 10.0)
        for line in lines:
            # Wait for the prompt before typing, so echo and output do not interleave.
            before = len(out)
            os.write(master, line.encode() + b"\r")
            drain(settle)
            if len(out) == before:
                drain(2.0)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        drain(0.2)
    finally:
        os.close(master)
    return Result(bytes(out).replace(b"\r\n", b"\n"), b"", proc.returncode)


@pytest.fixture(scope="session")
def populated(server: Server) -> Server:
    """Load a fixed data set so read-only commands give identical replies to both CLIs."""
    with socket.create_connection((server.host, server.port)) as s:
        f = s.makefile("rwb")

        def call(*args: bytes) -> None:
            f.write(b"*%d\r\n" % len(args))
            for a in args:
                f.write(b"$%d\r\n%s\r\n" % (len(a), a))
            f.flush()
            line = f.readline()
            assert not line.startswith(b"-"), line

        call(b"FLUSHALL")
        call(b"SET", b"str", b"bar")
        call(b"SET", b"weird", b'q"uo\\te\n\r\t\x07\x08\x00\xff h\xc3\xa9llo')
        call(b"RPUSH", b"list", b"a", b"b c", b"x\ny", b"")
        call(b"RPUSH", b"big", *[str(i).encode() for i in range(1, 13)])
        call(b"HSET", b"hash", b"f1", b"v1", b"f2", b"v2")
        call(b"SADD", b"set", b"a", b"b", b"c")
        call(b"ZADD", b"z", b"1.5", b"m", b"2", b"m2", b"-inf", b"lo")
        call(b"XADD", b"stream", b"1-1", b"f", b"v")
        call(b"SELECT", b"2")
        call(b"SET", b"indb2", b"two")
        call(b"ACL", b"SETUSER", b"bob", b"on", b">secret", b"~*", b"+@all")
    return server


class CliRunner:
    """Helpers handed to tests through the ``clis`` fixture (tests can't import conftest
    reliably when other test directories also have a conftest.py)."""

    KAA = KAA_CLI
    REDIS = ["redis-cli"]
    run = staticmethod(run_cli)
    run_tty = staticmethod(run_cli_tty)
    env = staticmethod(_env)
    free_port = staticmethod(_free_port)


@pytest.fixture(scope="session")
def clis() -> CliRunner:
    return CliRunner()
