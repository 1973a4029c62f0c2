"""Unit tests of kaa.server.config / config_file (no server needed)."""

from __future__ import annotations

import io
import os
import sys
from pathlib import Path

import pytest

from kaa.server import config as cfgmod
from kaa.server.config import (
    NOTIFY_ALL,
    NOTIFY_KEYEVENT,
    NOTIFY_KEYSPACE,
    Config,
    ConfigError,
    ConfigLoadingError,
    format_fatal,
)
from kaa.server.config_file import (
    ConfigFileOpenError,
    argv_to_options,
    memtoull,
    quote_arg,
    split_args,
    string2ll,
    stringmatch,
)


@pytest.fixture(autouse=True)
def _keep_cwd() -> object:
    cwd = os.getcwd()
    yield
    os.chdir(cwd)


def set_err(cfg: Config, *pairs: tuple[str, str], **kw: bool) -> str:
    with pytest.raises(ConfigError) as ei:
        cfg.set_many(list(pairs), **kw)
    return str(ei.value)


def load_err(text: str) -> ConfigError:
    with pytest.raises(ConfigError) as ei:
        Config().load_text(text)
    return ei.value


# ---------------------------------------------------------------- split / quote


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("a b   c", ["a", "b", "c"]),
        ('"hello world" x', ["hello world", "x"]),
        (r'"a\nb\r\t\b\a\\\"c"', ["a\nb\r\t\b\a\\\"c"]),
        (r'"\x41\x4a\x4G"', ["AJx4G"]),
        (r"'it\'s' 'a\nb'", ["it's", "a\\nb"]),
        ('""', [""]),
        ("''", [""]),
        ("   ", []),
        ("a\tb", ["a", "b"]),
    ],
)
def test_split_args(line: str, expected: list[str]) -> None:
    assert split_args(line) == expected


@pytest.mark.parametrize("line", ['"abc', "'abc", '"a"b', "'a'b"])
def test_split_args_unbalanced(line: str) -> None:
    assert split_args(line) is None


def test_quote_arg_roundtrip() -> None:
    for s in ["", "plain", 'q"uo\\te', "nl\nx\r\t\a\b", "\x01\x7f", "sp ace", "é"]:
        q = quote_arg(s)
        assert q.startswith('"') and q.endswith('"')
        assert split_args(q) == [s]
    assert quote_arg("a\x01") == '"a\\x01"'


def test_memtoull_units() -> None:
    assert memtoull("1k") == 1000
    assert memtoull("1kb") == 1024
    assert memtoull("1KB") == 1024
    assert memtoull("2m") == 2_000_000
    assert memtoull("2mb") == 2 * 1024 * 1024
    assert memtoull("1g") == 10**9
    assert memtoull("1Gb") == 1024**3
    assert memtoull("100") == 100
    assert memtoull("100b") == 100
    assert memtoull("-1") is None
    assert memtoull("1x") is None
    assert memtoull("1.5mb") is None


def test_string2ll_strict() -> None:
    assert string2ll("0") == 0
    assert string2ll("-5") == -5
    for bad in ["", "01", "+1", " 1", "1 ", "-0", "1e3", "9223372036854775808"]:
        assert string2ll(bad) is None


def test_stringmatch() -> None:
    assert stringmatch("*", "anything")
    assert stringmatch("max*", "maxmemory")
    assert stringmatch("MAX*", "maxmemory", True)
    assert not stringmatch("MAX*", "maxmemory", False)
    assert stringmatch("h?", "hz")
    assert stringmatch("[a-c]x", "bx")
    assert stringmatch("[^a-c]x", "dx")
    assert not stringmatch("[^a-c]x", "ax")
    assert stringmatch("a\\*b", "a*b")
    assert not stringmatch("a\\*b", "axb")
    assert stringmatch("*of", "slaveof")
    assert stringmatch("[abc", "a")  # unterminated class
    assert not stringmatch("*", "")


# ---------------------------------------------------------------- defaults / get


def test_defaults() -> None:
    c = Config()
    assert c.port == 6379
    assert c.bind == ["*", "-::*"]
    assert c.protected_mode is True
    assert c.databases == 16
    assert c.save == [(3600, 1), (300, 100), (60, 10000)]
    assert c.dbfilename == "dump.rdb"
    assert c.dir == os.getcwd() and os.path.isabs(c.dir)
    assert c.maxclients == 10000
    assert c.timeout == 0
    assert c.tcp_keepalive == 300
    assert c.proto_max_bulk_len == 512 * 1024 * 1024
    assert c.client_query_buffer_limit == 1024**3
    assert c.enable_debug_command == "no"
    assert c.hz == 10
    assert c.loglevel == "notice"
    assert c.logfile == "" and c.pidfile == ""
    assert c.daemonize is False and c.always_show_logo is False
    assert c.appendonly is False
    assert c.maxmemory == 0
    assert c.maxmemory_policy == "noeviction"
    assert c.notify_keyspace_events == 0
    assert c.replicaof is None
    assert c.client_output_buffer_limit["replica"] == (256 << 20, 64 << 20, 60)


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("port", "6379"),
        ("bind", "* -::*"),
        ("save", "3600 1 300 100 60 10000"),
        ("maxmemory", "0"),
        ("proto-max-bulk-len", "536870912"),
        ("client-query-buffer-limit", "1073741824"),
        ("protected-mode", "yes"),
        ("appendonly", "no"),
        ("loglevel", "notice"),
        ("notify-keyspace-events", ""),
        ("client-output-buffer-limit",
         "normal 0 0 0 slave 268435456 67108864 60 pubsub 33554432 8388608 60"),
        ("oom-score-adj-values", "0 200 800"),
        ("latency-tracking-info-percentiles", "50 99 99.9"),
        ("slaveof", ""),
        ("replicaof", ""),
        ("unixsocketperm", "0"),
        ("maxmemory-clients", "0"),
        ("shutdown-on-sigterm", "default"),
        ("acl-pubsub-default", "resetchannels"),
        ("syslog-ident", "valkey"),
        ("list-max-ziplist-size", "-2"),
        ("hash-max-ziplist-entries", "512"),
        ("tls-auth-clients", "yes"),
        ("proc-title-template", "{title} {listen-addr} {server-mode}"),
    ],
)
def test_get_str_defaults(name: str, value: str) -> None:
    assert Config().get_str(name) == value


def test_get_dir_is_cwd(tmp_path: Path) -> None:
    c = Config()
    os.chdir(tmp_path)
    assert c.get("dir") == str(tmp_path.resolve())


def test_every_param_has_typed_attribute_annotation() -> None:
    annotations = Config.__annotations__
    c = Config()
    for p in cfgmod.all_params():
        assert p.attr in annotations, p.name
        assert hasattr(c, p.attr)
        c.get_str(p.name)  # formatting works for every default
        if p.alias:
            assert c.get_str(p.alias) == c.get_str(p.name)


def test_param_count_and_flags() -> None:
    names = {p.name for p in cfgmod.all_params()}
    assert len(names) == len(cfgmod.all_params()) >= 190
    for n in ["cluster-enabled", "repl-backlog-size", "tls-port", "aof-use-rdb-preamble",
              "lazyfree-lazy-user-del", "zset-max-listpack-entries", "availability-zone"]:
        assert n in names
    assert cfgmod.lookup_param("SLAVEOF") is cfgmod.lookup_param("replicaof")
    assert cfgmod.lookup_param("requirepass").flags & cfgmod.SENSITIVE  # type: ignore[union-attr]
    assert cfgmod.lookup_param("key-load-delay").flags & cfgmod.HIDDEN  # type: ignore[union-attr]


# ---------------------------------------------------------------- CONFIG GET


def test_match_glob_and_exact() -> None:
    c = Config()
    res = dict(c.match(["maxmemory", "maxmemory*", "bind", "*of"]))
    assert len(res) == len(c.match(["maxmemory", "maxmemory*", "bind", "*of"]))
    assert {"maxmemory", "maxmemory-samples", "maxmemory-clients", "bind",
            "slaveof", "replicaof"} <= set(res)


def test_match_case_and_duplicates() -> None:
    c = Config()
    assert c.match(["PORT", "port", "Po*"]) == [("PORT", "6379")]
    assert c.match(["nosuch"]) == []
    assert dict(c.match(["HASH-MAX-*-ENTRIES"])) == {
        "hash-max-listpack-entries": "512", "hash-max-ziplist-entries": "512"}


def test_match_hidden_only_by_exact_name() -> None:
    c = Config()
    assert "key-load-delay" not in dict(c.match(["*"]))
    assert c.match(["key-load-delay"]) == [("key-load-delay", "0")]


# ---------------------------------------------------------------- CONFIG SET


def test_set_basic_and_alias() -> None:
    c = Config()
    c.set_many([("maxmemory", "1gb"), ("save", "100 1 50 2"), ("hash-max-ziplist-entries", "7")])
    assert c.maxmemory == 1024**3
    assert c.get_str("maxmemory") == "1073741824"
    assert c.save == [(100, 1), (50, 2)]
    assert c.hash_max_listpack_entries == 7
    c.set_many([("save", "")])
    assert c.save == [] and c.get_str("save") == ""
    c.set_many([("MAXMEMORY-POLICY", "ALLKEYS-LRU")])
    assert c.maxmemory_policy == "allkeys-lru"


@pytest.mark.parametrize(
    ("pairs", "message"),
    [
        ([("foo", "1")], "Unknown option or number of arguments for CONFIG SET - 'foo'"),
        ([("maxmemory", "x")], "CONFIG SET failed (possibly related to argument 'maxmemory') - "
                               "argument must be a memory value"),
        ([("daemonize", "yes")], "CONFIG SET failed (possibly related to argument 'daemonize') - "
                                 "can't set immutable config"),
        ([("dir", "/tmp")], "CONFIG SET failed (possibly related to argument 'dir') - "
                            "can't set protected config"),
        ([("maxmemory", "1"), ("maxmemory", "2")],
         "CONFIG SET failed (possibly related to argument 'maxmemory') - duplicate parameter"),
        ([("port", "65536")], "CONFIG SET failed (possibly related to argument 'port') - "
                              "argument must be between 0 and 65535 inclusive"),
        ([("port", "01")], "CONFIG SET failed (possibly related to argument 'port') - "
                           "argument couldn't be parsed into an integer"),
        ([("appendonly", "maybe")], "CONFIG SET failed (possibly related to argument "
                                    "'appendonly') - argument must be 'yes' or 'no'"),
        ([("maxmemory-clients", "200%")], "CONFIG SET failed (possibly related to argument "
                                          "'maxmemory-clients') - percentage argument must be "
                                          "less or equal to 100"),
        ([("maxmemory-clients", "x")], "CONFIG SET failed (possibly related to argument "
                                       "'maxmemory-clients') - argument must be a memory or "
                                       "percent value"),
        ([("client-query-buffer-limit", "1k")],
         "CONFIG SET failed (possibly related to argument 'client-query-buffer-limit') - "
         "argument must be between 1048576 and 9223372036854775807 inclusive"),
        ([("maxmemory-policy", "lru")],
         "CONFIG SET failed (possibly related to argument 'maxmemory-policy') - argument(s) must "
         "be one of the following: volatile-lru, volatile-lfu, volatile-random, volatile-ttl, "
         "allkeys-lru, allkeys-lfu, allkeys-random, noeviction"),
        ([("dbfilename", "a/b")], "CONFIG SET failed (possibly related to argument 'dbfilename')"
                                  " - can't set protected config"),
        ([("bar", "1"), ("daemonize", "yes")],
         "Unknown option or number of arguments for CONFIG SET - 'bar'"),
        ([("daemonize", "yes"), ("bar", "1")],
         "CONFIG SET failed (possibly related to argument 'daemonize') - "
         "can't set immutable config"),
    ],
)
def test_set_errors(pairs: list[tuple[str, str]], message: str) -> None:
    assert set_err(Config(), *pairs) == message


def test_set_validator_errors() -> None:
    c = Config()
    c.enable_protected_configs = "yes"
    assert set_err(c, ("dbfilename", "a/b")).endswith("dbfilename can't be a path, just a filename")
    assert set_err(c, ("dbfilename", "")).endswith("dbfilename can't be empty")
    assert set_err(c, ("dir", "")).endswith("dir can't be empty")
    assert set_err(c, ("dir", "/nonexistent/zzz")).endswith("No such file or directory")
    assert set_err(c, ("shutdown-on-sigint", "save nosave")).endswith(
        "shutdown options SAVE and NOSAVE can't be used simultaneously")
    assert set_err(c, ("proc-title-template", "{nope}")).endswith(
        "template format is invalid or contains unknown variables")
    assert set_err(c, ("cluster-announce-hostname", "a_b")).endswith(
        "Hostnames may only contain alphanumeric characters, hyphens or dots")
    assert set_err(c, ("cluster-announce-client-ipv4", "1.2.3")).endswith("Invalid IPv4 address")


def test_set_protected_local() -> None:
    c = Config()
    c.enable_protected_configs = "local"
    assert "protected" in set_err(c, ("dbfilename", "x.rdb"))
    c.set_many([("dbfilename", "x.rdb")], is_local=True)
    assert c.dbfilename == "x.rdb"


def test_set_from_internal_bypasses_immutable() -> None:
    c = Config()
    c.set_many([("daemonize", "yes")], from_config_set=False)
    assert c.daemonize is True


def test_set_deny_loading() -> None:
    c = Config()
    with pytest.raises(ConfigLoadingError) as ei:
        c.set_many([("appendonly", "yes")], loading=True)
    assert str(ei.value).startswith("LOADING ")
    c.set_many([("loglevel", "debug")], loading=True)


def test_set_rollback_on_validation_error() -> None:
    c = Config()
    c.set_many([("maxmemory", "10000002")])
    msg = set_err(c, ("maxmemory", "10000001"), ("maxmemory-clients", "200%"),
                  ("client-query-buffer-limit", "invalid"))
    assert "'maxmemory-clients'" in msg
    assert c.maxmemory == 10000002
    assert c.maxmemory_clients == 0


def test_set_rollback_on_hook_error() -> None:
    c = Config()
    calls: list[tuple[str, object, object]] = []

    def mm_hook(old: object, new: object) -> None:
        calls.append(("maxmemory", old, new))

    def port_hook(old: object, new: object) -> None:
        calls.append(("port", old, new))
        if new == 1234:
            raise ConfigError("Unable to listen on this port. Check server logs.")

    c.on_change("maxmemory", mm_hook)
    c.on_change("port", port_hook)
    msg = set_err(c, ("maxmemory", "10000001"), ("port", "1234"),
                  ("client-query-buffer-limit", "10m"))
    assert msg == ("CONFIG SET failed (possibly related to argument 'port') - "
                   "Unable to listen on this port. Check server logs.")
    assert c.maxmemory == 0 and c.port == 6379 and c.client_query_buffer_limit == 1024**3
    # maxmemory hook applied, then reverted with (new, old)
    assert calls == [("maxmemory", 0, 10000001), ("port", 6379, 1234),
                     ("maxmemory", 10000001, 0)]


def test_hooks_only_on_change() -> None:
    c = Config()
    seen: list[object] = []
    c.on_change("hz", lambda o, n: seen.append((o, n)))
    c.set_many([("hz", "10")])
    assert seen == []
    c.set_many([("hz", "1000")])  # clamped like updateHZ
    assert c.hz == 500 and seen == [(10, 500)]


def test_set_dir_changes_cwd(tmp_path: Path) -> None:
    c = Config()
    c.enable_protected_configs = "yes"
    c.set_many([("dir", str(tmp_path))])
    assert os.getcwd() == str(tmp_path.resolve())
    assert c.get_str("dir") == str(tmp_path.resolve())
    # rollback restores the previous cwd
    set_err(c, ("dir", "/"), ("maxmemory", "bad"))
    assert os.getcwd() == str(tmp_path.resolve())


def test_set_multiarg_split_by_space() -> None:
    c = Config()
    c.set_many([("client-output-buffer-limit", "normal 1mb 2mb 3 slave 10 20 30")])
    assert c.client_output_buffer_limit["normal"] == (1 << 20, 2 << 20, 3)
    assert c.client_output_buffer_limit["replica"] == (10, 20, 30)
    assert c.client_output_buffer_limit["pubsub"] == (32 << 20, 8 << 20, 60)
    assert "Invalid client class" in set_err(c, ("client-output-buffer-limit", "master 1 1 1"))
    assert "Wrong number of arguments" in set_err(c, ("client-output-buffer-limit", "normal 1"))
    assert "Error in hard, soft" in set_err(c, ("client-output-buffer-limit", "normal x 1 1"))
    c.set_many([("bind", "127.0.0.1 -::1")])
    assert c.bind == ["127.0.0.1", "-::1"]
    c.set_many([("bind", "")])
    assert c.bind == []
    c.set_many([("oom-score-adj-values", "1 2 3")])
    assert c.oom_score_adj_values == (1, 2, 3)
    assert "between -2000 and 2000" in set_err(c, ("oom-score-adj-values", "1 2 3000"))
    assert "wrong number of arguments" in set_err(c, ("oom-score-adj-values", "1 2"))
    c.set_many([("latency-tracking-info-percentiles", "50.5 99")])
    assert c.get_str("latency-tracking-info-percentiles") == "50.5 99"
    assert "should sit between" in set_err(c, ("latency-tracking-info-percentiles", "101"))
    assert "Invalid latency" in set_err(c, ("latency-tracking-info-percentiles", "abc"))
    c.set_many([("shutdown-on-sigint", "nosave force now")])
    assert c.get_str("shutdown-on-sigint") == "nosave now force"


def test_notify_keyspace_events() -> None:
    c = Config()
    c.set_many([("notify-keyspace-events", "KEA")])
    assert c.notify_keyspace_events == NOTIFY_ALL | NOTIFY_KEYSPACE | NOTIFY_KEYEVENT
    assert c.get_str("notify-keyspace-events") == "AKE"
    c.set_many([("notify-keyspace-events", "Elg$m")])
    assert c.get_str("notify-keyspace-events") == "g$lEm"
    assert set_err(c, ("notify-keyspace-events", "Q")).endswith(
        "Invalid event class character. Use 'Ag$lshzxeKEtmdn'.")


def test_numeric_formats() -> None:
    c = Config()
    c.set_many([("maxmemory-clients", "10%")])
    assert c.maxmemory_clients == -10 and c.get_str("maxmemory-clients") == "10%"
    c.set_many([("maxmemory", "18446744073709551615")])
    assert c.get_str("maxmemory") == "18446744073709551615"
    c.set_many([("slowlog-log-slower-than", "-1")])
    assert c.slowlog_log_slower_than == -1
    c.set_many([("oom-score-adj", "relative")])
    assert c.get_str("oom-score-adj") == "yes"


# ---------------------------------------------------------------- file loading


def test_load_text_values_and_units() -> None:
    c = Config()
    c.load_text(
        "# comment\n"
        "\n"
        "   port 7000  \r\n"
        "MAXMEMORY 100mb\n"
        "maxmemory-policy Allkeys-LFU\n"
        'requirepass "p a\\x41ss"\n'
        "bind 127.0.0.1 -::1\n"
        "protected-mode no\n"
        "unixsocketperm 700\n"
        "notify-keyspace-events Ex\n"
        "enable-debug-command local\n"
        "slaveof 10.0.0.1 6380\n"
        "list-max-ziplist-entries 10\n"
    )
    assert c.port == 7000
    assert c.maxmemory == 100 * 1024 * 1024
    assert c.maxmemory_policy == "allkeys-lfu"
    assert c.requirepass == "p aAss"
    assert c.bind == ["127.0.0.1", "-::1"]
    assert c.protected_mode is False
    assert c.unixsocketperm == 0o700 and c.get_str("unixsocketperm") == "700"
    assert c.get_str("notify-keyspace-events") == "xE"
    assert c.enable_debug_command == "local"
    assert c.replicaof == ("10.0.0.1", 6380)
    assert c.get_str("replicaof") == "10.0.0.1 6380"


def test_load_save_accumulates_and_resets() -> None:
    c = Config()
    c.load_text("port 1\n")
    assert c.save == [(3600, 1), (300, 100), (60, 10000)]
    c = Config()
    c.load_text("save 900 1\nsave 300 10\n")
    assert c.save == [(900, 1), (300, 10)]
    c = Config()
    c.load_text('save 900 1\nsave ""\n')
    assert c.save == []
    c = Config()
    c.load_text('save "100 1 200 2"\n')  # single arg split for MULTI_ARG configs
    assert c.save == [(100, 1), (200, 2)]


def test_load_multiarg_single_string() -> None:
    c = Config()
    c.load_text('client-output-buffer-limit "pubsub 1 2 3"\nshutdown-on-sigterm "nosave now"\n')
    assert c.client_output_buffer_limit["pubsub"] == (1, 2, 3)
    assert c.shutdown_on_sigterm == "nosave now"


@pytest.mark.parametrize(
    ("text", "line_no", "line", "reason"),
    [
        ("port 1\nfoo bar\n", 2, "foo bar", "Bad directive or wrong number of arguments"),
        ("\n\nport 1 2\n", 3, "port 1 2", "wrong number of arguments"),
        ('port "1\n', 1, 'port "1', "Unbalanced quotes in configuration line"),
        ("maxmemory lots\n", 1, "maxmemory lots", "argument must be a memory value"),
        ("daemonize maybe\n", 1, "daemonize maybe", "argument must be 'yes' or 'no'"),
        ("save 1\n", 1, "save 1", "Invalid save parameters"),
        ("replicaof h x\n", 1, "replicaof h x", "Invalid primary port"),
        ("sentinel monitor m 1 2 3\n", 1, "sentinel monitor m 1 2 3",
         "sentinel directive while not in sentinel mode"),
        ("mod.cfg\n", 1, "mod.cfg", "Module config specified without value"),
        ("include\n", 1, "include", "Bad directive or wrong number of arguments"),
        ("  databases 0   \n", 1, "databases 0",
         "argument must be between 1 and 2147483647 inclusive"),
    ],
)
def test_load_errors(text: str, line_no: int, line: str, reason: str) -> None:
    e = load_err(text)
    assert str(e) == reason
    assert e.line_no == line_no
    assert e.line == line
    assert format_fatal(e, e.line_no, e.line) == (
        "\n*** FATAL CONFIG FILE ERROR (Version 8.0.2) ***\n"
        f"Reading the configuration file, at line {line_no}\n"
        f">>> '{line}'\n"
        f"{reason}\n")
    assert e.fatal_report() == format_fatal(e, e.line_no, e.line)


def test_format_fatal_without_line() -> None:
    assert format_fatal("boom", None, None) == (
        "\n*** FATAL CONFIG FILE ERROR (Version 8.0.2) ***\nboom\n")


def test_post_load_checks(tmp_path: Path) -> None:
    e = load_err("cluster-enabled yes\nreplicaof h 1\n")
    assert str(e) == "replicaof directive not allowed in cluster mode" and e.line_no is None
    c = Config()
    c.load_text("cluster-enabled yes\n")
    assert c.databases == 1
    e = load_err(f"logfile {tmp_path}/nodir/x.log\n")
    assert str(e) == "Can't open the log file: No such file or directory"


def test_special_directives() -> None:
    c = Config()
    c.load_text(
        "rename-command FLUSHALL \"\"\n"
        "rename-command config myconfig\n"
        "user alice on >pw ~* +@all\n"
        "loadmodule /x/mod.so a b\n"
        "my.module.opt 1 2\n"
        "lua-replicate-commands yes\n"
        "sentinel\n"
    )
    assert c.rename_commands == [("FLUSHALL", ""), ("config", "myconfig")]
    assert c.users == [["alice", "on", ">pw", "~*", "+@all"]]
    assert c.loadmodules == [("/x/mod.so", ["a", "b"])]
    assert c.module_configs == {"my.module.opt": "1 2"}


def test_rename_command_validation() -> None:
    c = Config()
    c.command_lookup = lambda name: name in {"get", "set", "config"}
    c.load_text("rename-command get get2\n")
    with pytest.raises(ConfigError, match="No such command in rename-command"):
        c.load_text("rename-command get foo\n")
    with pytest.raises(ConfigError, match="Target command name already exists"):
        c.load_text("rename-command set config\n")


def test_user_validator() -> None:
    c = Config()
    c.acl_user_validator = lambda args: "Error in user declaration 'x': bad" if "x" in args else None
    with pytest.raises(ConfigError) as ei:
        c.load_text("user bob x\n")
    assert str(ei.value) == "Error in user declaration 'x': bad"


def test_include_and_glob(tmp_path: Path) -> None:
    (tmp_path / "conf.d").mkdir()
    (tmp_path / "conf.d" / "a.conf").write_text("port 1111\n")
    (tmp_path / "conf.d" / "b.conf").write_text("maxmemory 1mb\n")
    (tmp_path / "other.conf").write_text("hz 20\n")
    main = tmp_path / "main.conf"
    main.write_text(f"include {tmp_path}/conf.d/*.conf\ninclude {tmp_path}/other.conf\n"
                    f"include {tmp_path}/empty.d/*.conf\ntimeout 5\n")
    c = Config()
    c.load_file(str(main))
    assert (c.port, c.maxmemory, c.hz, c.timeout) == (1111, 1 << 20, 20, 5)
    assert c.config_file == str(main)
    (tmp_path / "bad.conf").write_text("port 1\n\nnope\n")
    with pytest.raises(ConfigError) as ei:
        Config().load_text(f"include {tmp_path}/bad.conf\n")
    assert ei.value.line_no == 3 and ei.value.line == "nope"
    with pytest.raises(ConfigFileOpenError) as ei2:
        Config().load_text(f"include {tmp_path}/missing.conf\n")
    assert str(ei2.value) == (f"Fatal error, can't open config file '{tmp_path}/missing.conf': "
                              "No such file or directory")


def test_load_file_missing(tmp_path: Path) -> None:
    with pytest.raises(ConfigFileOpenError):
        Config().load_file(str(tmp_path / "nope.conf"))


# ---------------------------------------------------------------- argv


def test_argv_to_options() -> None:
    assert argv_to_options(["--port", "7000", "--save", ""]) == (
        None, False, 'port "7000" \nsave "" ')
    assert argv_to_options(["/etc/v.conf", "--save"]) == ("/etc/v.conf", False, 'save ""')
    assert argv_to_options(["--save", "--port", "1"])[2] == 'save ""\nport "1" '
    assert argv_to_options(["-", "--port", "1"])[1] is True
    assert argv_to_options(["--port", "1", "-"])[1] is True


def test_load_argv(tmp_path: Path) -> None:
    f = tmp_path / "v.conf"
    f.write_text("port 1000\nsave 900 1\n")
    c = Config()
    c.load_argv([str(f), "--port", "7000", "--save", "100", "100", "--maxmemory 700mb",
                 "--proc-title-template", "--my--title"])
    assert c.port == 7000
    assert c.save == [(900, 1), (100, 100)]
    assert c.maxmemory == 700 * 1024 * 1024
    assert c.proc_title_template == "--my--title"
    assert c.config_file == str(f)
    c = Config()
    c.load_argv(["--save", "--loglevel", "verbose"])
    assert c.save == [] and c.loglevel == "verbose"
    c = Config()
    c.load_argv(["--shutdown-on-sigint", "nosave", "force", "now"])
    assert c.shutdown_on_sigint == "nosave now force"


@pytest.mark.parametrize(
    ("argv", "line", "reason"),
    [
        (["--port"], "port", "wrong number of arguments"),
        (["--port", "6379", "6380"], 'port "6379" "6380"', "wrong number of arguments"),
        (["--port", "--bla", "--loglevel", "verbose"], 'port "--bla"',
         "argument couldn't be parsed into an integer"),
        (["--invalid"], "invalid", "Bad directive or wrong number of arguments"),
        (["--replicaof", "127.0.0.1", "abc"], 'replicaof "127.0.0.1" "abc"',
         "Invalid primary port"),
    ],
)
def test_load_argv_errors(argv: list[str], line: str, reason: str) -> None:
    with pytest.raises(ConfigError) as ei:
        Config().load_argv(argv)
    assert ei.value.line == line
    assert str(ei.value) == reason


def test_load_argv_stdin(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "stdin", io.StringIO("port 4242\nhz 50\n"))
    c = Config()
    c.load_argv(["-", "--hz", "60"])
    assert (c.port, c.hz) == (4242, 60)


# ---------------------------------------------------------------- rewrite


def test_rewrite_without_file() -> None:
    with pytest.raises(ConfigError, match="^The server is running without a config file$"):
        Config().rewrite()


def test_rewrite_preserves_comments(tmp_path: Path) -> None:
    f = tmp_path / "v.conf"
    f.write_text(
        "# top comment\n"
        "port 7000\n"
        "\n"
        "\n"
        "# memory\n"
        "maxmemory 1mb\n"
        "save 900 1\n"
        "save 300 10\n"
        "slaveof 1.2.3.4 6379\n"
        "rename-command FLUSHALL \"\"\n"
        "hash-max-ziplist-entries 20\n"
        "hz 10\n"
    )
    c = Config()
    c.load_file(str(f))
    os.chdir(tmp_path)
    c.set_many([("maxmemory", "2mb"), ("timeout", "30"), ("save", "60 5")])
    c.rewrite()
    text = f.read_text()
    lines = text.split("\n")
    assert lines[0] == "# top comment"
    assert lines[1] == "port 7000"
    assert lines[2] == "" and lines[3] == "# memory"  # blank lines collapsed
    assert "maxmemory 2mb" in lines
    assert "save 60 5" in lines and "save 300 10" not in text
    assert "replicaof 1.2.3.4 6379" in lines and "slaveof" not in text
    assert 'rename-command FLUSHALL ""' in lines
    assert "hash-max-listpack-entries 20" in lines
    assert "hz 10" in lines  # default value but present: kept
    sig = lines.index("# Generated by CONFIG REWRITE")
    assert lines.index("maxmemory 2mb") < sig
    assert "timeout 30" in lines[sig:]
    assert f'dir "{tmp_path.resolve()}"' in lines[sig:]
    assert "port 6379" not in text
    # Round-trip: the rewritten file loads to the same values
    c2 = Config()
    c2.load_file(str(f))
    for name, value in c.match(["*"]):
        if name != "dir":
            assert c2.get_str(name) == value, name
    # Rewrites are stable (modulo Valkey's trailing blank line) with one signature
    c2.rewrite()
    second = f.read_text()
    assert second.rstrip("\n") == text.rstrip("\n")
    c2.rewrite()
    assert f.read_text() == second
    assert second.count("# Generated by CONFIG REWRITE") == 1


def test_rewrite_unknown_lines_and_special(tmp_path: Path) -> None:
    f = tmp_path / "v.conf"
    f.write_text("bogus-directive 1\nbind 127.0.0.1\nuser default on nopass ~* +@all\n")
    c = Config()
    c.load_text("port 1\n")  # not from the file: file has an unknown directive
    c.config_file = str(f)
    c.users = [["default", "on", "nopass", "~*", "+@all"]]
    c.set_many([("client-output-buffer-limit", "pubsub 64mb 16mb 90"),
                ("notify-keyspace-events", "Ex"),
                ("latency-tracking-info-percentiles", "")])
    c.rewrite(force_all=False)
    lines = f.read_text().split("\n")
    assert lines[0] == "# ??? bogus-directive 1"
    assert lines[1] == ""  # bind is back to the default: its line is blanked
    assert lines[2] == "user default on nopass ~* +@all"
    assert "client-output-buffer-limit pubsub 64mb 16mb 90" in lines
    assert "client-output-buffer-limit normal 0 0 0" not in lines
    assert 'notify-keyspace-events "xE"' in lines
    assert 'latency-tracking-info-percentiles ""' in lines
    assert "port 1" in lines
    c2 = Config()
    c2.load_text("\n".join(x for x in lines if not x.startswith("# ???")))
    assert c2.client_output_buffer_limit == c.client_output_buffer_limit
    assert c2.latency_tracking_info_percentiles == []


def test_rewrite_force_all_roundtrip(tmp_path: Path) -> None:
    f = tmp_path / "v.conf"
    f.write_text("")
    c = Config()
    c.load_file(str(f))
    c.rewrite(force_all=True)
    c2 = Config()
    c2.load_file(str(f))
    for name, value in c.match(["*"]):
        assert c2.get_str(name) == value, name


def test_rewrite_error(tmp_path: Path) -> None:
    c = Config()
    with pytest.raises(ConfigError, match="^Rewriting config file: "):
        c.rewrite(str(tmp_path / "nodir" / "x.conf"))


def test_debug_info() -> None:
    info = Config().debug_info()
    assert "io-threads 1\n" in info and "client-query-buffer-limit 1gb\n" in info
