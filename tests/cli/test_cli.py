"""Differential tests: kaa-cli must print exactly what redis-cli prints.

Both CLIs run against the same redis-server with the same arguments, with stdout as a
pipe (raw format), with --no-raw (human format through a pipe) and on a pty.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from kaa.cli.main import main, parse_options

if TYPE_CHECKING:
    from conftest import CliRunner, Result, Server

LUA_NESTED = "return {1, {2, {3, 'a'}}, {}, 'b', false}"

# Read-only (or idempotent) commands, so both CLIs see the same server state.
COMMANDS: list[list[str]] = [
    ["ping"],
    ["echo", "hello world"],
    ["get", "str"],
    ["get", "weird"],
    ["get", "missing"],
    ["set", "foo", "bar"],
    ["strlen", "str"],
    ["exists", "str", "missing"],
    ["lrange", "list", "0", "-1"],
    ["lrange", "big", "0", "-1"],
    ["lrange", "missing", "0", "-1"],
    ["bogus", "arg"],
    ["set", "onlykey"],
    ["incr", "str"],
    ["eval", LUA_NESTED, "0"],
    ["hgetall", "hash"],
    ["smembers", "set"],
    ["zscore", "z", "m"],
    ["config", "get", "port"],
    ["zrange", "z", "0", "-1", "withscores"],
    ["xrange", "stream", "-", "+"],
    ["info", "keyspace"],
    ["-n", "2", "get", "indb2"],
    ["-r", "3", "get", "str"],
    ["-r", "2", "-i", "0.01", "get", "missing"],
    # RESP3
    ["-3", "hgetall", "hash"],
    ["-3", "hgetall", "missing"],
    ["-3", "smembers", "set"],
    ["-3", "smembers", "missing"],
    ["-3", "zscore", "z", "m"],
    ["-3", "zscore", "z", "lo"],
    ["-3", "zrange", "z", "0", "-1", "withscores"],
    ["-3", "config", "get", "port"],
    ["-3", "command", "docs", "get"],
    ["-3", "xinfo", "stream", "stream"],
    ["-3", "get", "missing"],
    ["-3", "bogus"],
    ["-3", "eval", "redis.setresp(3); return {redis.call('hgetall','hash'), {double=1.5}}", "0"],
    ["-3", "debug", "protocol", "true"],
    ["-3", "debug", "protocol", "false"],
    ["-3", "debug", "protocol", "double"],
    ["-3", "debug", "protocol", "null"],
    ["-3", "debug", "protocol", "verbatim"],
    ["-3", "debug", "protocol", "map"],
    ["-3", "debug", "protocol", "set"],
    ["-3", "debug", "protocol", "push"],
]

_HELLO_ID = re.compile(rb'(\bid[" =>)(a-z\n]*?)\d+')


def _mask_client_id(data: bytes) -> bytes:
    """HELLO reports the connection id, which differs between the two runs."""
    return _HELLO_ID.sub(rb"\1<id>", data)


def _ids(cmd: list[str]) -> str:
    return " ".join(cmd)[:60]


def assert_same(kaa: Result, ref: Result) -> None:
    assert kaa.stdout == ref.stdout
    assert kaa.stderr == ref.stderr
    assert kaa.returncode == ref.returncode


def _target(server: Server) -> list[str]:
    return ["-h", server.host, "-p", str(server.port)]


@pytest.mark.parametrize("mode", [[], ["--no-raw"], ["--raw"]], ids=["pipe", "no-raw", "raw"])
@pytest.mark.parametrize("cmd", COMMANDS, ids=_ids)
def test_one_shot_matches_redis_cli(
    clis: CliRunner, populated: Server, mode: list[str], cmd: list[str]
) -> None:
    args = [*_target(populated), *mode, *cmd]
    assert_same(clis.run(clis.KAA, args), clis.run(clis.REDIS, args))


TTY_COMMANDS = [
    ["get", "str"],
    ["get", "weird"],
    ["get", "missing"],
    ["strlen", "str"],
    ["bogus"],
    ["eval", LUA_NESTED, "0"],
    ["lrange", "big", "0", "-1"],
    ["lrange", "missing", "0", "-1"],
    ["info", "keyspace"],
    ["--raw", "lrange", "list", "0", "-1"],
    ["-3", "hgetall", "hash"],
    ["-3", "smembers", "set"],
    ["-3", "zscore", "z", "m"],
    ["-3", "command", "docs", "get"],
    ["-3", "debug", "protocol", "true"],
    ["-3", "debug", "protocol", "verbatim"],
    # Push messages are only shown when stdout is a terminal.
    ["-3", "debug", "protocol", "push"],
    ["-3", "--raw", "debug", "protocol", "push"],
]


@pytest.mark.parametrize("cmd", TTY_COMMANDS, ids=_ids)
def test_one_shot_on_tty_matches_redis_cli(
    clis: CliRunner, populated: Server, cmd: list[str]
) -> None:
    args = [*_target(populated), *cmd]
    assert_same(clis.run_tty(clis.KAA, args), clis.run_tty(clis.REDIS, args))


def test_hello_3_map(clis: CliRunner, populated: Server) -> None:
    for mode in ([], ["--no-raw"]):
        args = [*_target(populated), *mode, "-3", "hello", "3"]
        kaa, ref = clis.run(clis.KAA, args), clis.run(clis.REDIS, args)
        assert _mask_client_id(kaa.stdout) == _mask_client_id(ref.stdout)
        assert kaa.returncode == ref.returncode == 0
    assert b'3# "proto" => (integer) 3\n' in kaa.stdout


def test_resp3_types_redis_cli_7_0_cannot_parse(clis: CliRunner, populated: Server) -> None:
    """Debian's redis-cli 7.0 rejects these, so check against newer redis-cli's format."""
    base = [*_target(populated), "-3", "debug", "protocol"]
    assert clis.run(clis.KAA, ["--no-raw", *base, "bignum"]).stdout == (
        b"(big number) 1234567999999999999999999999999999999\n"
    )
    assert (
        clis.run(clis.KAA, [*base, "bignum"]).stdout == b"1234567999999999999999999999999999999\n"
    )
    attrib = clis.run(clis.KAA, ["--no-raw", *base, "attrib"])
    assert attrib.stdout == b'"Some real reply following the attribute"\n'


def test_stdin_last_arg(clis: CliRunner, populated: Server) -> None:
    payload = b"line one\nline two\n\x00binary"
    for prog, key in ((clis.KAA, "x-kaa"), (clis.REDIS, "x-ref")):
        assert clis.run(prog, [*_target(populated), "-x", "set", key], stdin=payload).stdout == (
            b"OK\n"
        )
    kaa = clis.run(clis.KAA, [*_target(populated), "--no-raw", "get", "x-kaa"])
    ref = clis.run(clis.REDIS, [*_target(populated), "--no-raw", "get", "x-ref"])
    assert kaa == ref
    assert kaa.stdout == b'"line one\\nline two\\n\\x00binary"\n'


def test_unix_socket(clis: CliRunner, populated: Server) -> None:
    args = ["-s", populated.unix_socket, "get", "str"]
    assert_same(clis.run(clis.KAA, args), clis.run(clis.REDIS, args))


def test_connection_refused(clis: CliRunner, populated: Server) -> None:
    args = ["-p", str(clis.free_port()), "ping"]
    kaa, ref = clis.run(clis.KAA, args), clis.run(clis.REDIS, args)
    assert_same(kaa, ref)
    assert kaa.returncode == 1
    assert kaa.stderr.startswith(b"Could not connect to Redis at 127.0.0.1:")


@pytest.mark.parametrize(
    "auth",
    [
        ["--user", "bob", "--pass", "secret"],
        ["--user", "bob", "-a", "secret", "--no-auth-warning"],
        ["--user", "bob", "-a", "wrong"],
        ["-a", "nopass-configured"],
    ],
    ids=["user-pass", "no-warning", "wrong-pass", "no-default-pass"],
)
def test_auth_options(clis: CliRunner, populated: Server, auth: list[str]) -> None:
    args = [*_target(populated), *auth, "acl", "whoami"]
    assert_same(clis.run(clis.KAA, args), clis.run(clis.REDIS, args))


@pytest.mark.parametrize(
    "uri_tail",
    ["/2", "", "/0", "/99"],
)
def test_uri(clis: CliRunner, populated: Server, uri_tail: str) -> None:
    uri = f"redis://bob:secret@{populated.host}:{populated.port}{uri_tail}"
    for args in (["-u", uri, "get", "indb2"], ["-u", uri, "acl", "whoami"]):
        assert_same(clis.run(clis.KAA, args), clis.run(clis.REDIS, args))


@pytest.mark.parametrize(
    "args",
    [["--bogus", "ping"], ["-p"], ["-u", "http://x", "ping"]],
    ids=["unknown-option", "missing-value", "bad-uri"],
)
def test_bad_options(clis: CliRunner, args: list[str]) -> None:
    kaa, ref = clis.run(clis.KAA, args), clis.run(clis.REDIS, args)
    assert_same(kaa, ref)
    assert kaa.returncode == 1


def test_version_and_help(clis: CliRunner) -> None:
    version = clis.run(clis.KAA, ["--version"])
    assert version.returncode == 0
    assert re.fullmatch(rb"kaa-cli \S+\n", version.stdout)
    usage = clis.run(clis.KAA, ["--help"])
    assert usage.returncode == 0
    assert b"Usage: kaa-cli [OPTIONS]" in usage.stdout


def test_options_stop_at_first_command_word() -> None:
    config, command = parse_options(["-p", "7000", "-n", "3", "set", "-x", "--raw"])
    assert (config.port, config.db, config.stdin_last_arg, config.raw) == (7000, 3, False, None)
    assert command == ["set", "-x", "--raw"]


def test_main_in_process(populated: Server, capsysbinary: pytest.CaptureFixture[bytes]) -> None:
    assert main([*_target(populated), "--no-raw", "lrange", "list", "0", "-1"]) == 0
    assert capsysbinary.readouterr().out == b'1) "a"\n2) "b c"\n3) "x\\ny"\n4) ""\n'


# -- interactive ---------------------------------------------------------------

PIPED_SESSION = b"""\
ping
get str
get "abc
get "abc"def
set "k 1" "x\\x41\\ny"
get 'k 1'
select 2
get indb2
bogus
3 ping
multi
get indb2
exec
hgetall hash

lrange missing 0 -1
"""


@pytest.mark.parametrize("mode", [[], ["--no-raw"]], ids=["pipe", "no-raw"])
def test_interactive_with_piped_stdin(clis: CliRunner, populated: Server, mode: list[str]) -> None:
    args = [*_target(populated), *mode]
    kaa = clis.run(clis.KAA, args, stdin=PIPED_SESSION)
    ref = clis.run(clis.REDIS, args, stdin=PIPED_SESSION)
    assert_same(kaa, ref)
    assert b"Invalid argument(s)\n" in kaa.stdout


def test_interactive_on_pty(clis: CliRunner, populated: Server, tmp_path: Path) -> None:
    lines = [
        "get str",
        "set 'k 2' \"a\\tb\"",
        'get "k 2"',
        "select 2",
        "get indb2",
        "multi",
        "ping",
        "exec",
        'get "abc',
        "auth secret-password",
        "quit",
    ]
    args = _target(populated)
    kaa = clis.run_tty(clis.KAA, args, lines, env=clis.env(tmp_path))
    ref = clis.run_tty(clis.REDIS, args, lines, env=clis.env(tmp_path))
    assert kaa.stdout == ref.stdout
    assert kaa.returncode == ref.returncode == 0
    prompt = f"127.0.0.1:{populated.port}".encode()
    assert prompt + b"> get str\n" + b'"bar"\n' in kaa.stdout
    assert prompt + b"[2]> get indb2\n" in kaa.stdout
    assert prompt + b"[2](TX)> ping\nQUEUED\n" in kaa.stdout
    assert kaa.stdout.endswith(prompt + b"[2]> quit\n")
    history = (tmp_path / ".kaacli_history").read_text().splitlines()
    assert history[0] == "get str"
    assert "quit" in history
    assert not any("secret-password" in line for line in history)


def test_interactive_not_connected(clis: CliRunner, tmp_path: Path) -> None:
    args = ["-p", str(clis.free_port())]
    lines = ["ping", "quit"]
    kaa = clis.run_tty(clis.KAA, args, lines, env=clis.env(tmp_path))
    ref = clis.run_tty(clis.REDIS, args, lines, env=clis.env(tmp_path))
    assert kaa == ref
    assert b"not connected> ping\nCould not connect to Redis at" in kaa.stdout
