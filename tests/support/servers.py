"""Start real server processes (Kaa, and Debian's redis-server as the oracle) for tests."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def kaa_server_cmd() -> list[str]:
    exe = Path(sys.executable).with_name("kaa-server")
    if exe.exists():
        return [str(exe)]
    return [sys.executable, "-m", "kaa.server.main"]


def wait_ping(port: int, proc: subprocess.Popen[bytes] | None, timeout: float = 15.0) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5) as s:
                s.sendall(b"PING\r\n")
                if s.recv(64).startswith(b"+PONG"):
                    return
        except OSError:
            pass
        time.sleep(0.05)
    raise RuntimeError(f"server on port {port} did not answer PING")


class ServerProcess:
    """A server subprocess on a free loopback port, with its log in a temp dir."""

    def __init__(self, cmd: list[str], args: list[str], port: int | None = None,
                 env: dict[str, str] | None = None) -> None:
        self.port = port or free_port()
        self.dir = tempfile.mkdtemp(prefix="kaa-test-")
        self.log_path = os.path.join(self.dir, "stdout.log")
        self.cmd = cmd + ["--port", str(self.port), "--bind", "127.0.0.1", "--dir", self.dir] + args
        self.log = open(self.log_path, "wb")  # noqa: SIM115
        self.proc = subprocess.Popen(self.cmd, stdout=self.log, stderr=subprocess.STDOUT, cwd=self.dir,
                                     env=None if env is None else {**os.environ, **env})
        try:
            wait_ping(self.port, self.proc)
        except RuntimeError:
            self.stop()
            raise RuntimeError(f"{cmd} failed to start:\n{self.output()}") from None

    def output(self) -> str:
        self.log.flush()
        return Path(self.log_path).read_text(errors="replace")

    def alive(self) -> bool:
        return self.proc.poll() is None

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()
        shutil.rmtree(self.dir, ignore_errors=True)


def start_kaa(*args: str, build: str | None = None) -> ServerProcess:
    """A Kaa server; ``build`` picks one of BUILDS (None: as the environment says)."""
    return ServerProcess(kaa_server_cmd(), ["--save", "", "--enable-debug-command", "yes", *args],
                         env=None if build is None else BUILDS[build])


def kaa_of_build(build: str) -> Iterator[ServerProcess]:
    """A fixture's body: a server of one of BUILDS, which must still be alive at the end."""
    p = start_kaa(build=build)
    yield p
    alive = p.alive()
    p.stop()
    assert alive, "kaa-server died"


# The code paths a server can take, by environment: the compiled accelerators (where
# the install built them, else the same as "python"), their pure-Python sources with
# hiredis's reader, and the pure-Python request parser as well.
BUILDS = {
    "compiled": {"KAA_NO_ACCEL": "0", "KAA_PURE_PARSER": "0"},
    "python": {"KAA_NO_ACCEL": "1", "KAA_PURE_PARSER": "0"},
    "pure": {"KAA_NO_ACCEL": "1", "KAA_PURE_PARSER": "1"},
}


def redis_server_path() -> str | None:
    return shutil.which("redis-server")


def start_redis(*args: str) -> ServerProcess:
    path = redis_server_path()
    assert path is not None
    return ServerProcess([path], ["--save", "", "--appendonly", "no", "--enable-debug-command", "yes", *args])
