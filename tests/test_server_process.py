"""kaa-server as a process: command line, config files, log lines, listeners, limits,
signals. These are what scripts and harnesses written for valkey-server rely on."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from pathlib import Path

import pytest
import redis
from tests.support.servers import free_port, kaa_server_cmd, wait_ping


def run_kaa(args: list[str], cwd: str, timeout: float = 20) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(kaa_server_cmd() + args, cwd=cwd, capture_output=True, timeout=timeout)


class Proc:
    def __init__(self, args: list[str], cwd: str, port: int | None = None, ping: bool = True) -> None:
        self.port = port or free_port()
        self.log = Path(cwd, "out.log")
        self.f = self.log.open("wb")
        self.p = subprocess.Popen(kaa_server_cmd() + args, cwd=cwd, stdout=self.f, stderr=subprocess.STDOUT)
        if ping:
            wait_ping(self.port, self.p)

    def text(self) -> str:
        return self.log.read_text(errors="replace")

    def stop(self, sig: int = signal.SIGTERM) -> int:
        if self.p.poll() is None:
            self.p.send_signal(sig)
            try:
                self.p.wait(15)
            except subprocess.TimeoutExpired:
                self.p.kill()
                self.p.wait()
        self.f.close()
        return self.p.returncode


def test_version_and_help(tmp_path: Path) -> None:
    v = run_kaa(["--version"], str(tmp_path))
    assert v.returncode == 0 and b"v=" in v.stdout
    h = run_kaa(["--help"], str(tmp_path))
    assert h.returncode == 0 and b"Usage:" in h.stdout


def test_config_file_and_overrides(tmp_path: Path) -> None:
    port = free_port()
    conf = tmp_path / "kaa.conf"
    conf.write_text(
        f'# a comment\nport {port}\nbind 127.0.0.1\nsave ""\nmaxmemory 1mb\n'
        'requirepass "s3cret"\ndatabases 4\n'
    )
    p = Proc([str(conf), "--maxmemory", "2mb", "--loglevel", "verbose"], str(tmp_path), port, ping=False)
    try:
        deadline = time.time() + 15
        while time.time() < deadline:
            try:
                r = redis.Redis(port=port, password="s3cret")
                if r.ping():
                    break
            except redis.ConnectionError:
                time.sleep(0.05)
        assert r.config_get("maxmemory") == {"maxmemory": "2097152"}
        assert r.config_get("databases") == {"databases": "4"}
        assert r.config_get("port") == {"port": str(port)}
        with pytest.raises(redis.ResponseError, match="DB index is out of range"):
            r.select(4)
        assert "Configuration loaded" in p.text()
    finally:
        p.stop()


def test_bad_config_is_fatal_with_valkey_report(tmp_path: Path) -> None:
    conf = tmp_path / "bad.conf"
    conf.write_text("port 6379\nnot-a-directive yes\n")
    res = run_kaa([str(conf)], str(tmp_path))
    assert res.returncode != 0
    err = res.stderr.decode()
    assert "*** FATAL CONFIG FILE ERROR" in err
    assert "at line 2" in err
    assert "not-a-directive yes" in err
    assert "Bad directive or wrong number of arguments" in err
    res = run_kaa(["--port", "notanumber"], str(tmp_path))
    assert res.returncode != 0
    assert "FATAL CONFIG FILE ERROR" in res.stderr.decode()


def test_startup_log_lines_banner_pidfile_and_clean_sigterm(tmp_path: Path) -> None:
    port = free_port()
    pidfile = tmp_path / "kaa.pid"
    p = Proc(["--port", str(port), "--bind", "127.0.0.1", "--save", "", "--always-show-logo", "yes",
              "--pidfile", str(pidfile)], str(tmp_path), port)
    try:
        text = p.text()
        assert f" PID: {p.p.pid}" in text
        assert "Server initialized" in text
        assert "Ready to accept connections tcp" in text
        assert text.index(f"PID: {p.p.pid}") < text.index("Server initialized")
        assert pidfile.read_text().strip() == str(p.p.pid)
    finally:
        code = p.stop(signal.SIGTERM)
    assert code == 0
    assert "Received SIGTERM scheduling shutdown" in p.text()
    assert not pidfile.exists()


def test_sigint_and_shutdown_command(tmp_path: Path) -> None:
    port = free_port()
    p = Proc(["--port", str(port), "--bind", "127.0.0.1", "--save", ""], str(tmp_path), port)
    assert p.stop(signal.SIGINT) == 0
    assert "Received SIGINT scheduling shutdown" in p.text()
    p = Proc(["--port", str(port), "--bind", "127.0.0.1", "--save", ""], str(tmp_path), port)
    r = redis.Redis(port=port)
    r.shutdown(nosave=True)  # redis-py treats the dropped connection as success
    assert p.p.wait(15) == 0
    p.stop()


def test_busy_port_fails_with_valkey_message(tmp_path: Path) -> None:
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 0)
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        res = run_kaa(["--port", str(port), "--bind", "127.0.0.1", "--save", ""], str(tmp_path))
    assert res.returncode != 0
    assert b"Failed listening on port %d (tcp), aborting." % port in res.stdout + res.stderr


def test_logfile_directive(tmp_path: Path) -> None:
    port = free_port()
    logfile = tmp_path / "kaa.log"
    p = Proc(["--port", str(port), "--bind", "127.0.0.1", "--save", "", "--logfile", str(logfile)],
             str(tmp_path), port)
    try:
        assert "Ready to accept connections tcp" in logfile.read_text()
    finally:
        p.stop()


def test_unix_socket_and_port_zero(tmp_path: Path) -> None:
    sock = tmp_path / "kaa.sock"
    p = Proc(["--port", "0", "--unixsocket", str(sock), "--unixsocketperm", "700", "--save", ""],
             str(tmp_path), ping=False)
    try:
        deadline = time.time() + 15
        while not sock.exists() and time.time() < deadline:
            time.sleep(0.05)
        assert oct(os.stat(sock).st_mode & 0o777) == "0o700"
        r = redis.Redis(unix_socket_path=str(sock))
        assert r.ping()
        r.set("k", "v")
        assert r.get("k") == b"v"
        assert "Ready to accept connections unix" in p.text()
        assert "Ready to accept connections tcp" not in p.text()
    finally:
        p.stop()


def test_ipv6_loopback_listener(tmp_path: Path) -> None:
    if not socket.has_ipv6:
        pytest.skip("no IPv6")
    try:
        with socket.socket(socket.AF_INET6) as s:
            s.bind(("::1", 0))
    except OSError:
        pytest.skip("no IPv6 loopback here")
    port = free_port()
    p = Proc(["--port", str(port), "--bind", "127.0.0.1", "::1", "--save", ""], str(tmp_path), port)
    try:
        r = redis.Redis(host="::1", port=port)
        assert r.ping()
    finally:
        p.stop()


def test_maxclients_rejects_with_valkey_error(tmp_path: Path) -> None:
    port = free_port()
    p = Proc(["--port", str(port), "--bind", "127.0.0.1", "--save", "", "--maxclients", "2"], str(tmp_path), port)
    socks = []
    try:
        for _ in range(2):
            s = socket.create_connection(("127.0.0.1", port))
            s.sendall(b"PING\r\n")
            assert s.recv(100) == b"+PONG\r\n"
            socks.append(s)
        s3 = socket.create_connection(("127.0.0.1", port))
        s3.settimeout(5)
        assert s3.recv(100) == b"-ERR max number of clients reached\r\n"
        socks.append(s3)
        info = redis.Redis(port=port, single_connection_client=False)
        del info
    finally:
        for s in socks:
            s.close()
        p.stop()


def test_idle_timeout_closes_clients(tmp_path: Path) -> None:
    port = free_port()
    p = Proc(["--port", str(port), "--bind", "127.0.0.1", "--save", "", "--timeout", "1"], str(tmp_path), port)
    try:
        s = socket.create_connection(("127.0.0.1", port))
        s.settimeout(10)
        s.sendall(b"PING\r\n")
        assert s.recv(100) == b"+PONG\r\n"
        t0 = time.time()
        assert s.recv(100) == b""  # closed by the server
        assert time.time() - t0 < 8
        s.close()
    finally:
        p.stop()


def test_protected_mode_denies_non_loopback(tmp_path: Path) -> None:
    """Without a password, only loopback clients are served: reach the server over a
    non-loopback local address when one exists."""
    addrs = []
    try:
        out = subprocess.run(["hostname", "-I"], capture_output=True, timeout=5).stdout.decode().split()
        addrs = [a for a in out if ":" not in a and not a.startswith("127.")]
    except (OSError, subprocess.TimeoutExpired):
        pass
    if not addrs:
        pytest.skip("no non-loopback address on this machine")
    port = free_port()
    p = Proc(["--port", str(port), "--save", ""], str(tmp_path), port)
    try:
        s = socket.create_connection((addrs[0], port), timeout=5)
        data = s.recv(4096)
        assert data.startswith(b"-DENIED")
        s.close()
        assert redis.Redis(port=port).ping()  # loopback still served
    finally:
        p.stop()
