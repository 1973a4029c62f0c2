"""INFO, CONFIG, TIME, SHUTDOWN, LOLWUT, SLOWLOG and MONITOR against a running kaa-server."""

from __future__ import annotations

import re
import socket
import time
from collections.abc import Iterator

import pytest
import redis
from tests.support.servers import ServerProcess, start_kaa


def info_fields(text: str) -> dict[str, str]:
    out = {}
    for line in text.split("\r\n"):
        if line and not line.startswith("#") and ":" in line:
            k, v = line.split(":", 1)
            out[k] = v
    return out


def raw_info(r: redis.Redis, *sections: str) -> str:
    r.set_response_callback("INFO", lambda x, **kw: x)  # the text, not redis-py's dict
    data = r.execute_command("INFO", *sections)
    return data.decode() if isinstance(data, bytes) else str(data)


def cfg(r: redis.Redis, name: str) -> str:
    return str(r.config_get(name)[name])


def send_raw(port: int, payload: bytes, wait: float = 0.2) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=2) as s:
        s.sendall(payload)
        time.sleep(wait)
        s.settimeout(0.3)
        data = b""
        try:
            while True:
                chunk = s.recv(65536)
                if not chunk:
                    break
                data += chunk
        except TimeoutError:
            pass
        return data


# ---- INFO -----------------------------------------------------------------------------------

def test_info_default_sections_and_layout(r: redis.Redis) -> None:
    text = raw_info(r)
    titles = [line for line in text.split("\r\n") if line.startswith("# ")]
    assert titles == ["# Server", "# Clients", "# Memory", "# Persistence", "# Stats", "# Replication",
                      "# CPU", "# Modules", "# Errorstats", "# Cluster", "# Keyspace"]
    # Sections are separated by exactly one empty line.
    assert "\r\n\r\n# Clients\r\n" in text
    f = info_fields(text)
    assert f["redis_version"] == "7.2.4"
    assert f["server_name"] == "valkey"
    assert f["valkey_version"].startswith("8.")
    assert f["role"] == "master"
    assert f["connected_slaves"] == "0"
    assert len(f["master_replid"]) == 40
    assert f["cluster_enabled"] == "0"
    assert "rejected_calls" not in text


def test_info_server_fields(r: redis.Redis, kaa_proc: ServerProcess) -> None:
    f = info_fields(raw_info(r, "server"))
    assert f["tcp_port"] == str(kaa_proc.port)
    assert f["process_id"] == str(kaa_proc.proc.pid)
    assert len(f["run_id"]) == 40
    assert f["server_mode"] == "standalone"
    assert int(f["uptime_in_seconds"]) >= 0
    assert f["listener0"] == f"name=tcp,bind=127.0.0.1,port={kaa_proc.port}"
    assert f["executable"].endswith("kaa-server")
    assert abs(int(f["server_time_usec"]) / 1e6 - time.time()) < 5


def test_info_sections_case_insensitive_and_combined(r: redis.Redis) -> None:
    cpu = raw_info(r, "CPU")
    assert cpu.startswith("# CPU\r\n") and "used_cpu_user:" in cpu and "used_memory" not in cpu
    both = raw_info(r, "cpu", "all")
    assert both.count("used_cpu_user_children") == 1
    assert "rejected_calls" in both or "# Commandstats" in both
    assert "master_repl_offset" in both
    default = raw_info(r, "cpu", "default")
    assert "# Commandstats" not in default and "used_memory" in default
    assert raw_info(r, "nosuchsection") == ""
    everything = raw_info(r, "everything")
    assert "# Latencystats" in everything and "# Commandstats" in everything
    assert "eventloop_duration_aof_sum" not in everything
    assert "eventloop_duration_aof_sum" in raw_info(r, "debug")


def test_info_keyspace_and_stats(r: redis.Redis) -> None:
    r.set("a", "1")
    r.set("b", "2", px=100000)
    r.get("a")
    r.get("missing")
    f = info_fields(raw_info(r, "keyspace", "stats"))
    keys, expires, avg = f["db0"].split(",")
    assert keys == "keys=2" and expires == "expires=1"
    assert 0 < int(avg.split("=")[1]) <= 100000
    assert int(f["keyspace_hits"]) >= 1 and int(f["keyspace_misses"]) >= 1
    r.select(3)
    r.set("x", "y")
    assert info_fields(raw_info(r, "keyspace"))["db3"] == "keys=1,expires=0,avg_ttl=0"


def test_info_commandstats_and_errorstats(r: redis.Redis) -> None:
    r.config_resetstat()
    r.set("k", "v")
    r.get("k")
    with pytest.raises(redis.ResponseError):
        r.execute_command("INCR", "k")
    with pytest.raises(redis.ResponseError):
        r.execute_command("GET")
    f = info_fields(raw_info(r, "commandstats", "errorstats", "stats"))
    assert f["cmdstat_set"].startswith("calls=1,usec=")
    assert f["cmdstat_set"].endswith(",rejected_calls=0,failed_calls=0")
    assert "usec_per_call=" in f["cmdstat_set"]
    assert f["cmdstat_incr"].endswith("rejected_calls=0,failed_calls=1")
    assert f["cmdstat_get"].endswith("rejected_calls=1,failed_calls=0")
    assert f["errorstat_ERR"] == "count=2"
    assert f["total_error_replies"] == "2"
    r.client_list()
    assert "cmdstat_client|list" in raw_info(r, "commandstats")
    r.config_resetstat()
    f = info_fields(raw_info(r, "commandstats", "errorstats", "stats"))
    assert "errorstat_ERR" not in f and "cmdstat_set" not in f
    assert f["total_error_replies"] == "0"
    assert int(f["total_commands_processed"]) <= 2


def test_info_used_memory_follows_writes(r: redis.Redis) -> None:
    before = int(info_fields(raw_info(r, "memory"))["used_memory"])
    r.set("big", "x" * 2_000_000)
    during = int(info_fields(raw_info(r, "memory"))["used_memory"])
    assert during > before + 1_500_000
    r.delete("big")
    after = int(info_fields(raw_info(r, "memory"))["used_memory"])
    assert after < during - 1_500_000
    f = info_fields(raw_info(r, "memory"))
    assert f["used_memory_human"].endswith(("K", "M", "B"))
    assert f["maxmemory_policy"] == "noeviction"
    assert int(f["used_memory_peak"]) >= during


def test_info_clients_counts(r: redis.Redis, kaa_proc: ServerProcess) -> None:
    other = redis.Redis(port=kaa_proc.port)
    other.ping()
    try:
        f = info_fields(raw_info(r, "clients"))
        assert int(f["connected_clients"]) >= 2
        assert f["maxclients"] == "10000"
        assert f["blocked_clients"] == "0"
    finally:
        other.close()


def test_info_resp3_is_verbatim(kaa_proc: ServerProcess) -> None:
    data = send_raw(kaa_proc.port, b"HELLO 3\r\nINFO cpu\r\n")
    idx = data.index(b"=")
    assert data[idx:].split(b"\r\n", 1)[1].startswith(b"txt:# CPU")


# ---- CONFIG ---------------------------------------------------------------------------------

def test_config_get_set(r: redis.Redis) -> None:
    assert r.config_get("maxmemory") == {"maxmemory": "0"}
    assert r.execute_command("CONFIG", "GET", "nosuch") == {}
    res = r.config_get("maxmemory*")
    assert "maxmemory-policy" in res and "maxmemory-samples" in res
    assert r.config_set("maxmemory-samples", 7)
    assert r.config_get("maxmemory-samples") == {"maxmemory-samples": "7"}
    r.config_set("maxmemory-samples", 5)
    res = r.execute_command("CONFIG", "GET", "maxmemory", "bind", "*of")
    assert b"slaveof" in res and b"replicaof" in res and b"bind" in res


def test_config_set_errors(r: redis.Redis) -> None:
    with pytest.raises(redis.ResponseError, match="wrong number of arguments for 'config|set' command"):
        r.execute_command("CONFIG", "SET", "maxmemory", "1", "hz")
    with pytest.raises(redis.ResponseError, match="Unknown option or number of arguments for CONFIG SET - 'nosuch'"):
        r.execute_command("CONFIG", "SET", "nosuch", "1")
    with pytest.raises(redis.ResponseError, match="duplicate"):
        r.execute_command("CONFIG", "SET", "maxmemory", "1", "maxmemory", "2")
    with pytest.raises(redis.ResponseError, match="immutable"):
        r.execute_command("CONFIG", "SET", "daemonize", "yes")
    with pytest.raises(redis.ResponseError, match="unknown subcommand 'nope'. Try CONFIG HELP."):
        r.execute_command("CONFIG", "nope")
    with pytest.raises(redis.ResponseError, match="wrong number of arguments for 'config' command"):
        r.execute_command("CONFIG")
    # A failed multi-set rolls everything back.
    before = cfg(r, "maxmemory")
    with pytest.raises(redis.ResponseError, match="maxmemory-clients"):
        r.execute_command("CONFIG", "SET", "maxmemory", "10000001", "maxmemory-clients", "200%")
    assert cfg(r, "maxmemory") == before


def test_config_help_and_rewrite_without_file(r: redis.Redis) -> None:
    lines = r.execute_command("CONFIG", "HELP")
    assert lines[0].startswith(b"CONFIG <subcommand>")
    assert lines[-2:] == [b"HELP", b"    Print this help."]
    with pytest.raises(redis.ResponseError, match="The server is running without a config file"):
        r.execute_command("CONFIG", "REWRITE")


def test_config_live_slowlog_threshold(r: redis.Redis) -> None:
    old = cfg(r, "slowlog-log-slower-than")
    try:
        r.slowlog_reset()
        r.config_set("slowlog-log-slower-than", 0)
        r.set("a", "b")
        entries = r.slowlog_get()
        assert any(e["command"].lower() == b"set a b" for e in entries)
        r.config_set("slowlog-log-slower-than", -1)
        r.slowlog_reset()
        r.set("a", "b")
        assert r.slowlog_len() == 0
    finally:
        r.config_set("slowlog-log-slower-than", old)


def test_config_live_notify_keyspace_events(r: redis.Redis, kaa_proc: ServerProcess) -> None:
    try:
        r.config_set("notify-keyspace-events", "KEA")
        assert cfg(r, "notify-keyspace-events") in ("AKE", "KEA")
        f = r.execute_command("DEBUG", "PROTOCOL", "integer")
        assert f == 12345
    finally:
        r.config_set("notify-keyspace-events", "")


def test_config_live_proto_max_bulk_len(r: redis.Redis, kaa_proc: ServerProcess) -> None:
    old = cfg(r, "proto-max-bulk-len")
    try:
        r.config_set("proto-max-bulk-len", 1024 * 1024)
        data = send_raw(kaa_proc.port, b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$2000000\r\n")
        assert data.startswith(b"-ERR Protocol error: invalid bulk length")
    finally:
        r.config_set("proto-max-bulk-len", old)


def test_config_port_rebind_failure_rolls_back(r: redis.Redis, kaa_proc: ServerProcess) -> None:
    with socket.socket() as blocker:
        blocker.bind(("127.0.0.1", 0))
        blocker.listen(1)
        used = blocker.getsockname()[1]
        with pytest.raises(redis.ResponseError,
                           match="CONFIG SET failed \\(possibly related to argument 'port'\\) - Unable to listen on this port"):
            r.execute_command("CONFIG", "SET", "maxmemory", "10000001", "port", str(used))
    assert cfg(r, "port") == str(kaa_proc.port)
    assert cfg(r, "maxmemory") == "0"
    fresh = redis.Redis(port=kaa_proc.port)
    assert fresh.ping()
    fresh.close()


# ---- TIME / LOLWUT --------------------------------------------------------------------------

def test_time(r: redis.Redis) -> None:
    sec, usec = r.execute_command("TIME")
    assert abs(int(sec) - time.time()) < 5
    assert 0 <= int(usec) < 1_000_000
    with pytest.raises(redis.ResponseError, match="wrong number of arguments for 'time' command"):
        r.execute_command("TIME", "x")


def test_lolwut(r: redis.Redis) -> None:
    from kaa import VALKEY_VERSION

    assert r.execute_command("LOLWUT") == f"Kaa ver. {VALKEY_VERSION}\n".encode()
    art = r.execute_command("LOLWUT", "VERSION", "5", "20", "4").decode()
    assert art.endswith(f"Kaa ver. {VALKEY_VERSION}\n")
    assert len(art.split("\n")[0]) == 20
    with pytest.raises(redis.ResponseError, match="not an integer"):
        r.execute_command("LOLWUT", "VERSION", "x")


# ---- SLOWLOG --------------------------------------------------------------------------------

def test_slowlog_entries_and_errors(r: redis.Redis) -> None:
    old = cfg(r, "slowlog-log-slower-than")
    try:
        r.config_set("slowlog-log-slower-than", 0)
        r.slowlog_reset()
        r.client_setname("slowpoke")
        r.set("k", "x" * 200)
        r.execute_command("MSET", *[f"a{i}" for i in range(40)])
        raw = r.execute_command("SLOWLOG", "GET", "-1")
        by_cmd = {e[3][0].lower(): e for e in raw}
        set_entry = by_cmd[b"set"]
        assert set_entry[3][2].endswith(b"... (72 more bytes)")
        assert set_entry[5] == b"slowpoke"
        assert set_entry[4].startswith(b"127.0.0.1:")
        mset = by_cmd[b"mset"][3]
        assert len(mset) == 32 and mset[-1] == b"... (10 more arguments)"
        assert raw[0][0] > raw[-1][0]  # newest first
        assert len(r.execute_command("SLOWLOG", "GET", "1")) == 1
        assert r.slowlog_len() >= 3
        assert r.execute_command("SLOWLOG", "RESET") == b"OK"
    finally:
        r.config_set("slowlog-log-slower-than", old)
    with pytest.raises(redis.ResponseError, match="count should be greater than or equal to -1"):
        r.execute_command("SLOWLOG", "GET", "-2")
    with pytest.raises(redis.ResponseError, match="count should be greater than or equal to -1"):
        r.execute_command("SLOWLOG", "GET", "x")
    with pytest.raises(redis.ResponseError, match="unknown subcommand .FOO.. Try SLOWLOG HELP."):
        r.execute_command("SLOWLOG", "FOO")
    assert r.execute_command("SLOWLOG", "HELP")[0].startswith(b"SLOWLOG <subcommand>")


def test_slowlog_max_len(r: redis.Redis) -> None:
    try:
        r.config_set("slowlog-log-slower-than", 0)
        r.config_set("slowlog-max-len", 3)
        for i in range(10):
            r.set(f"k{i}", i)
        assert r.slowlog_len() == 3
    finally:
        r.config_set("slowlog-log-slower-than", 10000)
        r.config_set("slowlog-max-len", 128)
        r.slowlog_reset()


# ---- MONITOR --------------------------------------------------------------------------------

def test_monitor_streams_commands(r: redis.Redis, kaa_proc: ServerProcess) -> None:
    with socket.create_connection(("127.0.0.1", kaa_proc.port), timeout=2) as m:
        m.sendall(b"MONITOR\r\n")
        assert m.recv(100) == b"+OK\r\n"
        r.execute_command("set", "foo", "bar\n")
        r.execute_command("get", "foo")
        r.config_get("maxmemory")  # admin commands are not shown
        r.select(2)
        r.execute_command("ping")
        time.sleep(0.1)
        data = b""
        m.settimeout(0.5)
        try:
            while data.count(b"\r\n") < 4:
                data += m.recv(4096)
        except TimeoutError:
            pass
    lines = data.decode().split("\r\n")
    assert lines[0].startswith("+") and lines[0].endswith('"set" "foo" "bar\\n"')
    assert "[0 127.0.0.1:" in lines[0]
    assert lines[1].endswith('"get" "foo"')
    assert "config" not in data.decode()
    assert lines[3].endswith('"ping"') and "[2 " in lines[3]


def test_monitor_in_multi_is_refused(r: redis.Redis) -> None:
    try:
        r.execute_command("DISCARD")
    except redis.ResponseError as e:
        if "unknown command" in str(e):
            pytest.skip("MULTI/EXEC not available yet")
    p = r.pipeline(transaction=True)
    p.execute_command("MONITOR")
    res = p.execute(raise_on_error=False)
    assert isinstance(res[0], redis.ResponseError)
    assert "MONITOR isn't allowed for DENY BLOCKING client" in str(res[0])


# ---- SHUTDOWN -------------------------------------------------------------------------------

@pytest.fixture()
def private_kaa() -> Iterator[ServerProcess]:
    p = start_kaa()
    yield p
    p.stop()


def test_shutdown_errors_and_nosave(private_kaa: ServerProcess) -> None:
    c = redis.Redis(port=private_kaa.port)
    for args in (("FOO",), ("ABORT", "NOW"), ("SAVE", "NOSAVE")):
        with pytest.raises(redis.ResponseError, match="syntax error"):
            c.execute_command("SHUTDOWN", *args)
    with pytest.raises(redis.ResponseError, match="No shutdown in progress."):
        c.execute_command("SHUTDOWN", "ABORT")
    with pytest.raises(redis.ConnectionError):
        c.execute_command("SHUTDOWN", "NOSAVE", "NOW")
    private_kaa.proc.wait(10)
    assert private_kaa.proc.returncode == 0
    assert "ready to exit, bye bye" in private_kaa.output()


# ---- differential -------------------------------------------------------------------------

def test_differential_error_texts(r: redis.Redis, oracle: redis.Redis) -> None:
    cases = [
        ("CONFIG", "SET", "maxmemory"),
        ("CONFIG", "SET", "nosuch", "x"),
        ("CONFIG", "GETX"),
        ("SLOWLOG", "GET", "-5"),
        ("SLOWLOG", "LEN", "x"),
        ("TIME", "1"),
        ("LOLWUT", "VERSION", "abc"),
        ("SHUTDOWN", "BLAH"),
        ("SHUTDOWN", "ABORT", "SAVE"),
    ]
    for args in cases:
        got = want = None
        try:
            r.execute_command(*args)
        except redis.ResponseError as e:
            got = str(e)
        try:
            oracle.execute_command(*args)
        except redis.ResponseError as e:
            want = str(e)
        assert got == want, args


def test_info_latencystats(r: redis.Redis) -> None:
    try:
        r.config_resetstat()
        r.config_set("latency-tracking", "no")
        r.set("a", "b")
        assert "latency_percentiles_usec_set" not in raw_info(r, "latencystats")
        r.config_set("latency-tracking", "yes")
        r.set("a", "b")
        r.execute_command("DEBUG", "SLEEP", "0.05")
        f = info_fields(raw_info(r, "latencystats"))
        assert re.fullmatch(r"p50=\d+\.\d{3},p99=\d+\.\d{3},p99\.9=\d+\.\d{3}", f["latency_percentiles_usec_set"])
        p50 = float(f["latency_percentiles_usec_debug"].split(",")[0].split("=")[1])
        assert p50 >= 50000
        r.config_set("latency-tracking-info-percentiles", "0.0 50.0 100.0")
        f = info_fields(raw_info(r, "latencystats"))
        assert f["latency_percentiles_usec_set"].startswith("p0=") and ",p100=" in f["latency_percentiles_usec_set"]
        r.client_id()
        assert "latency_percentiles_usec_client|id" in raw_info(r, "latencystats")
        r.config_resetstat()
        assert "latency_percentiles_usec_set" not in raw_info(r, "latencystats")
    finally:
        r.config_set("latency-tracking-info-percentiles", "50 99 99.9")
        r.config_set("latency-tracking", "yes")


def test_config_set_of_secrets_is_redacted_in_slowlog(r2: redis.Redis) -> None:
    """CONFIG SET of a sensitive parameter (SENSITIVE_CONFIG in Valkey) shows
    (redacted) for its value in SLOWLOG; other parameters are logged as sent."""
    try:
        r2.execute_command("SLOWLOG", "RESET")
        r2.config_set("slowlog-log-slower-than", 0)
        r2.execute_command("CONFIG", "SET", "primaryuser", "")
        r2.execute_command("CONFIG", "SET", "masterauth", "")
        r2.execute_command("CONFIG", "SET", "maxmemory-samples", "5")
    finally:
        r2.config_set("slowlog-log-slower-than", 10000)
    logged = [e["command"] for e in r2.slowlog_get(10)]
    assert b"CONFIG SET primaryuser (redacted)" in logged
    assert b"CONFIG SET masterauth (redacted)" in logged
    assert b"CONFIG SET maxmemory-samples 5" in logged


def test_slowlog_of_a_script_command_names_the_caller(r2: redis.Redis) -> None:
    """Valkey logs a command run by a script with the calling client's address and
    name, like the EVAL entry itself."""
    r2.client_setname("script-caller")
    try:
        r2.execute_command("SLOWLOG", "RESET")
        r2.config_set("slowlog-log-slower-than", 0)
        r2.eval("return server.call('ping')", 0)
    finally:
        r2.config_set("slowlog-log-slower-than", 10000)
    entries = r2.execute_command("SLOWLOG", "GET", "10")
    by_cmd = {e[3][0].lower(): e for e in entries}
    assert by_cmd[b"ping"][4] == by_cmd[b"eval"][4] != b""
    assert by_cmd[b"ping"][5] == by_cmd[b"eval"][5] == b"script-caller"
