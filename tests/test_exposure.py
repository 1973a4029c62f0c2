"""Exposure controls: protected mode, optional bind addresses, rename-command,
enable-debug-command / enable-protected-configs, maxclients, and owner-only files.
"""

from __future__ import annotations

import os
import socket
import stat
import subprocess
from collections.abc import Iterator

import pytest
import redis
from tests.support.servers import ServerProcess, free_port, kaa_server_cmd, start_kaa

DENIED = (
    b"-DENIED Running in protected mode because protected mode is enabled and no password is "
    b"set for the default user. In this mode connections are only accepted from the loopback "
    b"interface. If you want to connect from external computers, you may adopt one of the "
    b"following solutions: 1) Just disable protected mode sending the command 'CONFIG SET "
    b"protected-mode no' from the loopback interface by connecting from the same host the "
    b"server is running, however MAKE SURE it's not publicly accessible from internet if you do "
    b"so. Use CONFIG REWRITE to make this change permanent. 2) Alternatively you can just "
    b"disable the protected mode by editing the configuration file, and setting the protected "
    b"mode option to 'no', and then restarting the server. 3) If you started the server "
    b"manually just for testing, restart it with the '--protected-mode no' option. 4) Set up an "
    b"authentication password for the default user. NOTE: You only need to do one of the above "
    b"things in order for the server to start accepting connections from the outside.\r\n"
)
UNASSIGNED_ADDR = "198.51.100.7"  # TEST-NET-2: never a local address


def external_ip() -> str | None:
    """A non-loopback IPv4 address of this host, or None (e.g. in a bare namespace)."""
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        s.connect(("10.255.255.255", 1))
        ip = str(s.getsockname()[0])
    except OSError:
        return None
    finally:
        s.close()
    return None if ip.startswith("127.") else ip


def recv_all(s: socket.socket) -> bytes:
    data = b""
    while True:
        chunk = s.recv(4096)
        if not chunk:
            return data
        data += chunk


@pytest.fixture()
def exposed() -> Iterator[ServerProcess]:
    if external_ip() is None:
        pytest.skip("no non-loopback address to connect from")
    p = start_kaa("--bind", "0.0.0.0", "--protected-mode", "yes")
    yield p
    p.stop()


def test_protected_mode_denies_outside_clients(exposed: ServerProcess) -> None:
    ip = external_ip()
    assert ip is not None
    with socket.create_connection((ip, exposed.port), timeout=5) as s:
        assert recv_all(s) == DENIED  # sent at once on accept, then closed
    local = redis.Redis(host="127.0.0.1", port=exposed.port, protocol=2)
    assert local.ping() is True
    assert local.info("stats")["rejected_connections"] >= 1
    # A password for the default user lifts it.
    local.config_set("requirepass", "pw")
    with socket.create_connection((ip, exposed.port), timeout=5) as s:
        s.sendall(b"PING\r\n")
        assert s.recv(100) == b"-NOAUTH Authentication required.\r\n"
    local.execute_command("AUTH", "pw")
    local.config_set("requirepass", "")
    local.config_set("protected-mode", "no")
    with socket.create_connection((ip, exposed.port), timeout=5) as s:
        s.sendall(b"PING\r\n")
        assert s.recv(100) == b"+PONG\r\n"
    local.close()


def test_optional_bind_addresses() -> None:
    p = start_kaa("--bind", f"-{UNASSIGNED_ADDR} 127.0.0.1")
    try:
        c = redis.Redis(host="127.0.0.1", port=p.port)
        assert c.config_get("bind") == {"bind": f"-{UNASSIGNED_ADDR} 127.0.0.1"}
        assert c.ping() is True
        c.close()
    finally:
        p.stop()
    port = free_port()
    out = subprocess.run(kaa_server_cmd() + ["--port", str(port), "--bind", UNASSIGNED_ADDR,
                                             "--save", ""],
                         capture_output=True, timeout=30, text=True)
    assert out.returncode == 1
    assert f"Failed listening on port {port} (tcp), aborting." in out.stdout


def test_rename_command_in_config_file(tmp_path: os.PathLike[str]) -> None:
    conf = os.path.join(tmp_path, "kaa.conf")
    with open(conf, "w") as f:
        f.write('rename-command flushall myflush\nrename-command debug ""\n')
    p = ServerProcess(kaa_server_cmd() + [conf], ["--save", ""])
    try:
        c = redis.Redis(host="127.0.0.1", port=p.port, protocol=2)
        with pytest.raises(redis.ResponseError, match="unknown command 'FLUSHALL'"):
            c.execute_command("FLUSHALL")
        with pytest.raises(redis.ResponseError, match="unknown command 'DEBUG'"):
            c.execute_command("DEBUG", "SLEEP", "0")
        assert c.execute_command("MYFLUSH") == b"OK"
        # ACL rules name commands by their original names; DRYRUN by the current ones.
        c.execute_command("ACL", "SETUSER", "u", "+flushall")
        with pytest.raises(redis.ResponseError, match="Unknown command or category"):
            c.execute_command("ACL", "SETUSER", "u", "+myflush")
        assert c.execute_command("ACL", "DRYRUN", "u", "MYFLUSH") == b"OK"
        with pytest.raises(redis.ResponseError, match="Command 'flushall' not found"):
            c.execute_command("ACL", "DRYRUN", "u", "flushall")
        c.close()
    finally:
        p.stop()


def test_bad_rename_command_is_fatal(tmp_path: os.PathLike[str]) -> None:
    conf = os.path.join(tmp_path, "kaa.conf")
    with open(conf, "w") as f:
        f.write("rename-command nosuchcommand x\n")
    try:
        out = subprocess.run(kaa_server_cmd() + [conf, "--port", "0"], capture_output=True,
                             timeout=5, text=True)
    except subprocess.TimeoutExpired:
        raise AssertionError("the server started") from None
    assert out.returncode == 1
    assert "FATAL CONFIG FILE ERROR" in out.stderr


def test_enable_debug_command() -> None:
    p = ServerProcess(kaa_server_cmd(), ["--save", "", "--enable-debug-command", "no"])
    try:
        c = redis.Redis(host="127.0.0.1", port=p.port, protocol=2)
        with pytest.raises(redis.ResponseError) as e:
            c.execute_command("DEBUG", "SLEEP", "0")
        assert str(e.value) == (
            'DEBUG command not allowed. If the enable-debug-command option is set to "local", '
            "you can run it from a local connection, otherwise you need to set this option in "
            "the configuration file, and then restart the server.")
        with pytest.raises(redis.ResponseError, match="can't set immutable config"):
            c.config_set("enable-debug-command", "yes")
        c.close()
    finally:
        p.stop()
    p = ServerProcess(kaa_server_cmd(), ["--save", "", "--enable-debug-command", "local"])
    try:
        c = redis.Redis(host="127.0.0.1", port=p.port, protocol=2)
        assert c.execute_command("DEBUG", "SLEEP", "0") == b"OK"  # loopback is local
        c.close()
    finally:
        p.stop()


def test_enable_protected_configs(tmp_path: os.PathLike[str]) -> None:
    p = ServerProcess(kaa_server_cmd(), ["--save", "", "--enable-protected-configs", "no"])
    try:
        c = redis.Redis(host="127.0.0.1", port=p.port, protocol=2)
        with pytest.raises(redis.ResponseError) as e:
            c.config_set("dir", str(tmp_path))
        assert str(e.value) == ("CONFIG SET failed (possibly related to argument 'dir') - can't "
                                "set protected config")
        c.close()
    finally:
        p.stop()
    p = ServerProcess(kaa_server_cmd(), ["--save", "", "--enable-protected-configs", "local"])
    try:
        c = redis.Redis(host="127.0.0.1", port=p.port, protocol=2)
        assert c.config_set("dir", str(tmp_path)) is True
        c.close()
    finally:
        p.stop()


def test_maxclients() -> None:
    p = start_kaa("--maxclients", "3")
    try:
        socks = [socket.create_connection(("127.0.0.1", p.port), timeout=5) for _ in range(3)]
        for s in socks:
            s.sendall(b"PING\r\n")
            assert s.recv(100) == b"+PONG\r\n"
        with socket.create_connection(("127.0.0.1", p.port), timeout=5) as extra:
            assert recv_all(extra) == b"-ERR max number of clients reached\r\n"
        socks[0].sendall(b"INFO stats\r\n")
        assert b"rejected_connections:1\r\n" in socks[0].recv(65536)
        for s in socks:
            s.close()
    finally:
        p.stop()


def test_persistence_files_are_owner_only() -> None:
    p = start_kaa()
    try:
        c = redis.Redis(host="127.0.0.1", port=p.port, protocol=2)
        c.set("k", "v")
        assert c.save() is True
        path = os.path.join(p.dir, "dump.rdb")
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
        c.close()
    finally:
        p.stop()
