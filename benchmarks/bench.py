#!/usr/bin/env python3
"""Kaa vs. Redis benchmark harness (stdlib only).

Starts ``kaa-server`` and Debian's ``redis-server`` on free loopback ports with identical
settings (no persistence), pins the servers and the load generator (``redis-benchmark``)
to separate CPU cores with ``taskset`` and runs the same tests against both servers,
interleaved (kaa, redis, kaa, redis, ...) and repeated, reporting medians.

For every run the server's own CPU time (utime+stime from /proc) is read before and
after, so throughput can be reported per server CPU-second: on a 2-core machine the
load generator is often the bottleneck at -P 1, and requests per server CPU-second is
the honest efficiency figure.

Optionally (``--memory``) it loads 1,000,000 keys into a fresh instance of each server
and reports RSS bytes per key, with and without a TTL.

See benchmarks/README.md for usage.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import dataclasses
import datetime as dt
import hashlib
import json
import os
import platform
import shlex
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
CLK_TCK = os.sysconf("SC_CLK_TCK")
PAGE_SIZE = os.sysconf("SC_PAGE_SIZE")

SERVER_KINDS = ("kaa", "redis")


# --------------------------------------------------------------------------------------
# Test registry: the one place to add tests.
# --------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class BenchTest:
    """One redis-benchmark test.

    ``bench_args`` are the arguments passed to redis-benchmark that select the workload:
    either ``["-t", "<builtin>"]`` or a custom command argv (redis-benchmark substitutes
    ``__rand_int__`` when ``-r`` is given).  ``row_prefix`` selects the CSV row to use
    (matched case-insensitively against the start of the "test" column; None = last row).
    ``setup`` commands are sent over a raw socket right before the measured run (not
    included in the CPU measurement).  ``probe`` is a representative command sent once
    before benchmarking: if the server answers with an error the test is recorded as
    unsupported instead of being run.
    """

    name: str
    bench_args: tuple[str, ...]
    row_prefix: str | None = None
    setup: tuple[tuple[str, ...], ...] = ()
    probe: tuple[str, ...] | None = None


def _builtin(name: str, probe: Sequence[str] | None = None) -> BenchTest:
    return BenchTest(
        name=name,
        bench_args=("-t", name),
        row_prefix=name.upper(),
        probe=tuple(probe) if probe else None,
    )


def _custom(
    name: str,
    command: str,
    setup: Sequence[Sequence[str]] = (),
    probe: Sequence[str] | None = None,
) -> BenchTest:
    argv = tuple(shlex.split(command))
    return BenchTest(
        name=name,
        bench_args=argv,
        row_prefix=None,
        setup=tuple(tuple(c) for c in setup),
        probe=tuple(probe) if probe is not None else argv,
    )


# LRANGE list pre-filled with 100 3-byte elements (redis-benchmark's default -d 3), so the
# measured run contains only LRANGE calls.  (redis-benchmark's own lrange_100 test first
# runs -n LPUSHes in the same invocation, which would pollute the CPU measurement.)
_LRANGE_KEY = "bench:lrange"
_LRANGE_SETUP = (("DEL", _LRANGE_KEY), ("RPUSH", _LRANGE_KEY, *(["xxx"] * 100)))

TESTS: dict[str, BenchTest] = {
    t.name: t
    for t in (
        _builtin("ping_inline", ["PING"]),
        _builtin("ping_mbulk", ["PING"]),
        _builtin("set", ["SET", "bench:probe", "xxx"]),
        _builtin("get", ["GET", "bench:probe"]),
        _builtin("incr", ["INCR", "bench:probe:ctr"]),
        _builtin("lpush", ["LPUSH", "bench:probe:list", "x"]),
        _builtin("rpush", ["RPUSH", "bench:probe:list", "x"]),
        _builtin("lpop", ["LPOP", "bench:probe:list"]),
        _builtin("rpop", ["RPOP", "bench:probe:list"]),
        _builtin("sadd", ["SADD", "bench:probe:set", "x"]),
        _builtin("hset", ["HSET", "bench:probe:hash", "f", "v"]),
        _builtin("spop", ["SPOP", "bench:probe:set"]),
        _builtin("zadd", ["ZADD", "bench:probe:zset", "1", "x"]),
        _builtin("zpopmin", ["ZPOPMIN", "bench:probe:zset"]),
        _custom(
            "lrange_100",
            f"LRANGE {_LRANGE_KEY} 0 99",
            setup=_LRANGE_SETUP,
        ),
        _builtin("mset", ["MSET", "bench:probe:a", "x", "bench:probe:b", "y"]),
        _custom(
            "xadd",
            "XADD bench:stream * myfield myvalue",
            probe=["XADD", "bench:probe:s", "*", "f", "v"],
        ),
    )
}

# Tests of the other data types and of scripting (issues 4 and 6): run with -t or --extra-tests.
_EVAL_SCRIPT = "return redis.call('INCR', KEYS[1])"
_EVAL_SHA = hashlib.sha1(_EVAL_SCRIPT.encode()).hexdigest()
for _t in (
    _custom("xrange_100", "XRANGE bench:xr - + COUNT 100",
            setup=[("DEL", "bench:xr")] + [("XADD", "bench:xr", "*", "f", "v")] * 100),
    _custom("pfadd", "PFADD bench:hll __rand_int__"),
    _custom("pfcount", "PFCOUNT bench:hllc",
            setup=[("DEL", "bench:hllc"), ("PFADD", "bench:hllc", *[f"e{i}" for i in range(1000)])]),
    _custom("setbit", "SETBIT bench:bits 12345 1"),
    _custom("bitcount", "BITCOUNT bench:bitc", setup=[("SET", "bench:bitc", "x" * 1000)]),
    _custom("geoadd", "GEOADD bench:geo 13.361389 38.115556 m:__rand_int__"),
    _custom("geosearch", "GEOSEARCH bench:geos FROMLONLAT 15 37 BYRADIUS 200 km ASC COUNT 10",
            setup=[("DEL", "bench:geos")] + [
                ("GEOADD", "bench:geos", f"{13 + (i % 10) * 0.3:.4f}", f"{37 + (i // 10) * 0.2:.4f}", f"m{i}")
                for i in range(100)]),
    _custom("evalsha", f"EVALSHA {_EVAL_SHA} 1 bench:evalsha",
            setup=[("SCRIPT", "LOAD", _EVAL_SCRIPT)]),
):
    TESTS[_t.name] = _t

DEFAULT_TESTS = "set,get,incr,lpush,rpush,lpop,rpop,sadd,hset,spop,zadd,lrange_100,mset"


def parse_command_spec(spec: str) -> BenchTest:
    """``name=COMMAND args...`` -> custom test (e.g. ``"evalsha=EVALSHA <sha> 1 key"``)."""
    name, sep, command = spec.partition("=")
    if not sep or not name.strip() or not command.strip():
        raise argparse.ArgumentTypeError(f"--command expects NAME=COMMAND ARGS, got {spec!r}")
    return _custom(name.strip(), command.strip())


# --------------------------------------------------------------------------------------
# Minimal RESP client
# --------------------------------------------------------------------------------------


class RespError(Exception):
    pass


def encode_command(args: Sequence[str | bytes]) -> bytes:
    out = [b"*%d\r\n" % len(args)]
    for a in args:
        b = a.encode() if isinstance(a, str) else a
        out.append(b"$%d\r\n%s\r\n" % (len(b), b))
    return b"".join(out)


class RespConn:
    def __init__(self, port: int, host: str = "127.0.0.1", timeout: float = 30.0) -> None:
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.buf = bytearray()

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.sock.close()

    def __enter__(self) -> RespConn:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _fill(self) -> None:
        chunk = self.sock.recv(1 << 16)
        if not chunk:
            raise ConnectionError("server closed connection")
        self.buf += chunk

    def _line(self) -> bytes:
        while True:
            i = self.buf.find(b"\r\n")
            if i >= 0:
                line = bytes(self.buf[:i])
                del self.buf[: i + 2]
                return line
            self._fill()

    def _exact(self, n: int) -> bytes:
        while len(self.buf) < n + 2:
            self._fill()
        data = bytes(self.buf[:n])
        del self.buf[: n + 2]
        return data

    def read_reply(self) -> Any:
        line = self._line()
        kind, rest = line[:1], line[1:]
        if kind == b"+":
            return rest.decode(errors="replace")
        if kind == b"-":
            return RespError(rest.decode(errors="replace"))
        if kind == b":":
            return int(rest)
        if kind == b"$":
            n = int(rest)
            return None if n < 0 else self._exact(n)
        if kind in (b"*", b"~", b">"):
            n = int(rest)
            return None if n < 0 else [self.read_reply() for _ in range(n)]
        if kind == b"%":
            return [self.read_reply() for _ in range(2 * int(rest))]
        if kind == b"_":
            return None
        if kind in (b"#", b",", b"("):
            return rest.decode()
        if kind in (b"=", b"!"):
            return self._exact(int(rest))
        raise ValueError(f"unexpected RESP reply: {line!r}")

    def call(self, *args: str | bytes) -> Any:
        self.sock.sendall(encode_command(args))
        return self.read_reply()

    def pipeline_simple(self, payload: bytes, count: int) -> int:
        """Send ``count`` pre-encoded commands whose replies are single-line; return #errors."""
        self.sock.sendall(payload)
        errors = 0
        for _ in range(count):
            line = self._line()
            if line[:1] == b"-":
                errors += 1
            elif line[:1] not in (b"+", b":"):
                raise ValueError(f"unexpected reply while loading: {line[:80]!r}")
        return errors


# --------------------------------------------------------------------------------------
# /proc helpers
# --------------------------------------------------------------------------------------


def _proc_stat_fields(pid: int) -> list[str]:
    data = Path(f"/proc/{pid}/stat").read_text()
    # comm (field 2) may contain spaces/parens: split after the last ')'.
    return data[data.rindex(")") + 2 :].split()


def _descendants(pid: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            ppid = int(_proc_stat_fields(int(entry))[1])
        except (OSError, ValueError, IndexError):
            continue
        children.setdefault(ppid, []).append(int(entry))
    out: list[int] = []
    stack = [pid]
    while stack:
        p = stack.pop()
        for c in children.get(p, []):
            out.append(c)
            stack.append(c)
    return out


def proc_cpu_times(pid: int, include_children: bool = True) -> tuple[float, float]:
    """(utime, stime) in seconds (all threads) of pid and, optionally, its live
    descendants."""
    user = system = 0
    pids = [pid, *(_descendants(pid) if include_children else [])]
    for p in pids:
        try:
            f = _proc_stat_fields(p)
        except OSError:
            continue
        # After the comm field: state=0, ppid=1, ..., utime=11, stime=12
        user += int(f[11])
        system += int(f[12])
    return user / CLK_TCK, system / CLK_TCK


def proc_cpu_seconds(pid: int, include_children: bool = True) -> float:
    """utime+stime (all threads) of pid and, optionally, its live descendants."""
    return sum(proc_cpu_times(pid, include_children))


def proc_sched_seconds(pid: int) -> float | None:
    """Nanosecond-resolution CPU time of the live threads of pid (schedstat), or None.

    More precise than the 10 ms ticks of /proc/<pid>/stat but misses exited threads, so
    it is only recorded in the raw samples as a cross-check.
    """
    total = 0
    try:
        tids = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return None
    for tid in tids:
        try:
            total += int(Path(f"/proc/{pid}/task/{tid}/schedstat").read_text().split()[0])
        except (OSError, ValueError, IndexError):
            continue
    return total / 1e9


def proc_rss_bytes(pid: int, include_children: bool = True) -> int:
    total = 0
    for p in [pid, *(_descendants(pid) if include_children else [])]:
        try:
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1]) * 1024
                    break
        except OSError:
            continue
    return total


def proc_comm(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/comm").read_text().strip()
    except OSError:
        return "?"


# --------------------------------------------------------------------------------------
# Server management
# --------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


_LIVE_PROCS: list[subprocess.Popen[bytes]] = []


def _kill_proc(proc: subprocess.Popen[bytes], grace: float = 3.0) -> None:
    if proc.poll() is not None:
        return
    # Each server runs in its own session/process group: kill the group we created.
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=grace)


def kill_all_servers() -> None:
    while _LIVE_PROCS:
        _kill_proc(_LIVE_PROCS.pop())


class Server:
    def __init__(
        self,
        kind: str,
        exe: str,
        cpus: str,
        extra_args: Sequence[str],
        workdir: Path,
        startup_timeout: float,
    ) -> None:
        self.kind = kind
        self.exe = exe
        self.port = free_port()
        self.workdir = workdir / f"{kind}-{self.port}"
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.log_path = self.workdir / "server.log"
        self.argv = [
            "taskset",
            "-c",
            cpus,
            exe,
            "--port",
            str(self.port),
            "--save",
            "",
            "--appendonly",
            "no",
            *extra_args,
        ]
        self._log = open(self.log_path, "wb")  # closed in stop()
        # taskset exec()s the server, so proc.pid is the server's own pid.
        self.proc: subprocess.Popen[bytes] = subprocess.Popen(
            self.argv,
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            cwd=self.workdir,
            start_new_session=True,
        )
        _LIVE_PROCS.append(self.proc)
        self.pid = self.proc.pid
        try:
            self._wait_ready(startup_timeout)
        except BaseException:
            self.stop()
            raise

    def _wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        last_err: Exception | None = None
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(
                    f"{self.kind} server exited with {self.proc.returncode}; "
                    f"argv={shlex.join(self.argv)}\n{self.log_tail()}"
                )
            try:
                with RespConn(self.port, timeout=2.0) as c:
                    r = c.call("PING")
                if r == "PONG" and proc_comm(self.pid) != "taskset":
                    return
            except OSError as e:
                last_err = e
            time.sleep(0.05)
        raise RuntimeError(
            f"{self.kind} server did not answer PING within {timeout}s ({last_err}); "
            f"argv={shlex.join(self.argv)}\n{self.log_tail()}"
        )

    def log_tail(self, n: int = 20) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-n:])
        except OSError:
            return ""

    def alive(self) -> bool:
        return self.proc.poll() is None

    def cpu_seconds(self) -> float:
        return proc_cpu_seconds(self.pid)

    def cpu_times(self) -> tuple[float, float]:
        return proc_cpu_times(self.pid)

    def rss_bytes(self) -> int:
        return proc_rss_bytes(self.pid)

    def affinity(self) -> list[int]:
        try:
            return sorted(os.sched_getaffinity(self.pid))
        except OSError:
            return []

    def command(self, *args: str, timeout: float = 5.0) -> Any:
        with RespConn(self.port, timeout=timeout) as c:
            return c.call(*args)

    def stop(self) -> None:
        with contextlib.suppress(OSError, RespError, ValueError):
            # Polite first; the process group kill below is the guarantee.
            if self.alive():
                with RespConn(self.port, timeout=1.0) as c:
                    c.sock.sendall(encode_command(["SHUTDOWN", "NOSAVE"]))
        _kill_proc(self.proc)
        if self.proc in _LIVE_PROCS:
            _LIVE_PROCS.remove(self.proc)
        self._log.close()


@contextlib.contextmanager
def started(kind: str, exe: str, args: argparse.Namespace, workdir: Path) -> Iterator[Server]:
    extra = shlex.split(args.kaa_args if kind == "kaa" else args.redis_args)
    srv = Server(kind, exe, args.server_cpus, extra, workdir, args.startup_timeout)
    try:
        yield srv
    finally:
        srv.stop()


# --------------------------------------------------------------------------------------
# Benchmark runs
# --------------------------------------------------------------------------------------

CSV_FIELDS = (
    "test",
    "rps",
    "avg_latency_ms",
    "min_latency_ms",
    "p50_latency_ms",
    "p95_latency_ms",
    "p99_latency_ms",
    "max_latency_ms",
)


def parse_csv_rows(text: str) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for line in text.splitlines():
        line = line.strip()
        if not line.startswith('"') or line.startswith('"test"'):
            continue
        parts = next(csv.reader([line]))
        if len(parts) < 2:
            continue
        row: dict[str, Any] = {"test": parts[0]}
        for key, val in zip(CSV_FIELDS[1:], parts[1:], strict=False):
            try:
                row[key] = float(val)
            except ValueError:
                row[key] = None
        rows.append(row)
    return rows


def pick_row(rows: list[dict[str, Any]], prefix: str | None) -> dict[str, Any] | None:
    if not rows:
        return None
    if prefix is None:
        return rows[-1]
    p = prefix.upper()
    for row in rows:
        name = str(row["test"]).upper()
        if name == p or name.startswith(p + " "):
            return row
    return None


def probe_test(server: Server, test: BenchTest) -> str | None:
    """Return an error string if the server rejects the test's commands, else None."""
    try:
        with RespConn(server.port, timeout=5.0) as c:
            for cmd in test.setup:
                r = c.call(*cmd)
                if isinstance(r, RespError):
                    return f"setup {cmd[0]}: {r}"
            if test.probe:
                r = c.call(*test.probe)
                if isinstance(r, RespError):
                    return f"probe {test.probe[0]}: {r}"
    except (OSError, ValueError) as e:
        return f"probe failed: {e!r}"
    return None


def run_setup(server: Server, test: BenchTest) -> str | None:
    if not test.setup:
        return None
    try:
        with RespConn(server.port, timeout=30.0) as c:
            for cmd in test.setup:
                r = c.call(*cmd)
                if isinstance(r, RespError):
                    return f"setup {cmd[0]}: {r}"
    except (OSError, ValueError) as e:
        return f"setup failed: {e!r}"
    return None


def run_benchmark(
    server: Server,
    test: BenchTest,
    pipeline: int,
    requests: int,
    args: argparse.Namespace,
) -> dict[str, Any]:
    sample: dict[str, Any] = {
        "server": server.kind,
        "test": test.name,
        "pipeline": pipeline,
        "requests": requests,
        "clients": args.clients,
        "ok": False,
    }
    if not server.alive():
        sample["error"] = "server not running"
        return sample
    err = run_setup(server, test)
    if err:
        sample["error"] = err
        return sample
    argv = [
        "taskset",
        "-c",
        args.client_cpus,
        args.redis_benchmark,
        "-h",
        "127.0.0.1",
        "-p",
        str(server.port),
        "-c",
        str(args.clients),
        "-n",
        str(requests),
        "-P",
        str(pipeline),
        "-d",
        str(args.data_size),
        "--csv",
    ]
    if args.keyspace:
        argv += ["-r", str(args.keyspace)]
    argv += list(test.bench_args)
    sample["argv"] = argv

    user0, sys0 = server.cpu_times()
    sched0 = proc_sched_seconds(server.pid)
    t0 = time.perf_counter()
    proc = subprocess.Popen(
        argv,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    try:
        out_b, err_b = proc.communicate(timeout=args.timeout)
        timed_out = False
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        out_b, err_b = proc.communicate()
        timed_out = True
    except BaseException:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        raise
    wall = time.perf_counter() - t0
    user1, sys1 = server.cpu_times()
    sched1 = proc_sched_seconds(server.pid)

    out = out_b.decode(errors="replace")
    errtxt = err_b.decode(errors="replace")
    user, system = user1 - user0, sys1 - sys0
    cpu = user + system
    sample.update(
        wall_s=round(wall, 4),
        server_cpu_s=round(cpu, 4),
        server_user_s=round(user, 4),
        server_sys_s=round(system, 4),
        returncode=proc.returncode,
        server_cpu_s_schedstat=(
            round(sched1 - sched0, 6) if sched0 is not None and sched1 is not None else None
        ),
    )
    server_errors = [ln for ln in (out + "\n" + errtxt).splitlines() if "Error from server" in ln]
    row = pick_row(parse_csv_rows(out), test.row_prefix)
    if timed_out:
        sample["error"] = f"timeout after {args.timeout}s"
    elif server_errors:
        sample["error"] = server_errors[0].strip()[:300]
    elif proc.returncode != 0:
        sample["error"] = (
            f"redis-benchmark exit {proc.returncode}: {(errtxt or out).strip()[-300:]}"
        )
    elif row is None or not row.get("rps"):
        sample["error"] = f"no result row in output: {out.strip()[-300:]}"
    elif not server.alive():
        sample["error"] = "server died during run"
    else:
        sample["ok"] = True
        sample.update({k: v for k, v in row.items() if k != "test"})
        sample["csv_test"] = row["test"]
        # CPU ticks are 10ms; guard against a zero reading on tiny runs.
        sample["rps_per_cpu_s"] = requests / cpu if cpu > 0 else None
        # The same time split into user and kernel, in microseconds per request.
        sample["user_us_per_req"] = user * 1e6 / requests
        sample["sys_us_per_req"] = system * 1e6 / requests
    if not sample["ok"]:
        sample["stdout_tail"] = out[-1000:]
        sample["stderr_tail"] = errtxt[-1000:]
    return sample


def flushall(server: Server) -> None:
    with contextlib.suppress(OSError, ValueError):
        server.command("FLUSHALL")


def run_throughput(
    servers: dict[str, Server],
    tests: list[BenchTest],
    args: argparse.Namespace,
    samples: list[dict[str, Any]],
) -> dict[tuple[str, str], str]:
    """Run all tests; returns {(server, test): reason} for tests marked unsupported."""
    unsupported: dict[tuple[str, str], str] = {}
    for kind, srv in servers.items():
        flushall(srv)
        for t in tests:
            reason = probe_test(srv, t)
            if reason:
                unsupported[(kind, t.name)] = reason
                log(f"  {kind}: test {t.name} unsupported ({reason}); will be recorded as failed")
        flushall(srv)

    total = args.repeat * len(args.pipelines) * len(tests) * len(servers)
    done = 0
    for rep in range(args.repeat):
        for pi, pipeline in enumerate(args.pipelines):
            requests = args.requests[pi]
            for srv in servers.values():
                flushall(srv)
            for t in tests:
                for kind, srv in servers.items():  # interleaved: kaa, redis, kaa, redis...
                    done += 1
                    if (kind, t.name) in unsupported:
                        s = {
                            "server": kind,
                            "test": t.name,
                            "pipeline": pipeline,
                            "requests": requests,
                            "ok": False,
                            "error": "unsupported: " + unsupported[(kind, t.name)],
                        }
                    else:
                        s = run_benchmark(srv, t, pipeline, requests, args)
                    s["repeat"] = rep
                    samples.append(s)
                    if s["ok"]:
                        msg = (
                            f"{s['rps']:>11,.0f} rps  cpu {s['server_cpu_s']:6.2f}s  "
                            f"p50 {s.get('p50_latency_ms')} p99 {s.get('p99_latency_ms')}"
                        )
                    else:
                        msg = "FAILED: " + str(s.get("error"))[:120]
                    log(
                        f"[{done:>3}/{total}] rep {rep + 1} P{pipeline:<3} {t.name:<11} "
                        f"{kind:<5} {msg}"
                    )
    return unsupported


# --------------------------------------------------------------------------------------
# Memory mode
# --------------------------------------------------------------------------------------


def load_keys(server: Server, nkeys: int, ttl: int | None, batch: int = 10_000) -> dict[str, Any]:
    value = b"v" * 10
    errors = 0
    t0 = time.perf_counter()
    with RespConn(server.port, timeout=120.0) as c:
        for start in range(0, nkeys, batch):
            stop = min(start + batch, nkeys)
            if ttl is None:
                parts = [
                    b"*3\r\n$3\r\nSET\r\n$14\r\nkey:%010d\r\n$10\r\n%s\r\n" % (i, value)
                    for i in range(start, stop)
                ]
            else:
                ttl_b = str(ttl).encode()
                tail = b"$2\r\nEX\r\n$%d\r\n%s\r\n" % (len(ttl_b), ttl_b)
                parts = [
                    b"*5\r\n$3\r\nSET\r\n$14\r\nkey:%010d\r\n$10\r\n%s\r\n%s" % (i, value, tail)
                    for i in range(start, stop)
                ]
            errors += c.pipeline_simple(b"".join(parts), stop - start)
        dbsize = c.call("DBSIZE")
    elapsed = time.perf_counter() - t0
    return {
        "load_s": round(elapsed, 3),
        "errors": errors,
        "dbsize": dbsize if isinstance(dbsize, int) else None,
    }


def measure_memory(
    exes: dict[str, str], args: argparse.Namespace, workdir: Path
) -> list[dict[str, Any]]:
    results: list[dict[str, Any]] = []
    for mode, ttl in (("plain", None), ("ttl", 100_000)):
        for kind in SERVER_KINDS:  # interleaved, fresh server for each measurement
            entry: dict[str, Any] = {"server": kind, "mode": mode, "keys": args.memory_keys}
            try:
                with started(kind, exes[kind], args, workdir) as srv:
                    time.sleep(0.3)
                    rss0 = srv.rss_bytes()
                    info = load_keys(srv, args.memory_keys, ttl)
                    time.sleep(0.5)
                    rss1 = srv.rss_bytes()
                    entry.update(info)
                    entry.update(
                        rss_before=rss0,
                        rss_after=rss1,
                        bytes_per_key=(rss1 - rss0) / args.memory_keys,
                        ok=info["errors"] == 0,
                    )
                    if info["errors"]:
                        entry["error"] = f"{info['errors']} error replies while loading"
            except (OSError, RuntimeError, ValueError) as e:
                entry.update(ok=False, error=repr(e)[:500])
            results.append(entry)
            if entry.get("ok"):
                log(
                    f"  memory {mode:<5} {kind:<5} {entry['bytes_per_key']:8.1f} B/key "
                    f"(RSS {entry['rss_before'] / 2**20:.1f} -> {entry['rss_after'] / 2**20:.1f} MiB,"
                    f" load {entry['load_s']:.1f}s, dbsize {entry['dbsize']})"
                )
            else:
                log(f"  memory {mode:<5} {kind:<5} FAILED: {entry.get('error')}")
    return results


# --------------------------------------------------------------------------------------
# Reporting
# --------------------------------------------------------------------------------------


def median_or_none(values: list[float | None]) -> float | None:
    vals = [v for v in values if v is not None]
    return statistics.median(vals) if vals else None


def summarize(
    samples: list[dict[str, Any]], tests: list[BenchTest], pipelines: list[int]
) -> list[dict[str, Any]]:
    rows = []
    for pipeline in pipelines:
        for t in tests:
            row: dict[str, Any] = {"test": t.name, "pipeline": pipeline}
            for kind in SERVER_KINDS:
                mine = [
                    s
                    for s in samples
                    if s["server"] == kind and s["test"] == t.name and s["pipeline"] == pipeline
                ]
                ok = [s for s in mine if s["ok"]]
                row[f"{kind}_ok"] = len(ok)
                row[f"{kind}_runs"] = len(mine)
                for key in ("rps", "rps_per_cpu_s", "p50_latency_ms", "p99_latency_ms",
                            "user_us_per_req", "sys_us_per_req"):
                    row[f"{kind}_{key}"] = median_or_none([s.get(key) for s in ok])
                if not ok and mine:
                    row[f"{kind}_error"] = mine[-1].get("error")
            kr, rr = row["kaa_rps"], row["redis_rps"]
            kc, rc = row["kaa_rps_per_cpu_s"], row["redis_rps_per_cpu_s"]
            row["ratio_rps"] = kr / rr if kr and rr else None
            row["ratio_cpu"] = kc / rc if kc and rc else None
            rows.append(row)
    return rows


def _fmt_num(v: float | None) -> str:
    if v is None:
        return "FAIL"
    return f"{v:,.0f}"


def _fmt_ratio(v: float | None) -> str:
    return "-" if v is None else f"{v:.3f}"


def _fmt_ms(v: float | None) -> str:
    return "-" if v is None else f"{v:.3f}"


def format_table(rows: list[dict[str, Any]]) -> str:
    headers = [
        "test",
        "P",
        "kaa rps",
        "redis rps",
        "kaa rps/cpu-s",
        "redis rps/cpu-s",
        "ratio cpu",
        "ratio rps",
        "kaa p50",
        "kaa p99",
        "redis p50",
        "redis p99",
    ]
    body = []
    for r in rows:
        p1 = r["pipeline"] == 1
        body.append(
            [
                r["test"],
                str(r["pipeline"]),
                _fmt_num(r["kaa_rps"]),
                _fmt_num(r["redis_rps"]),
                _fmt_num(r["kaa_rps_per_cpu_s"]),
                _fmt_num(r["redis_rps_per_cpu_s"]),
                _fmt_ratio(r["ratio_cpu"]),
                _fmt_ratio(r["ratio_rps"]),
                _fmt_ms(r["kaa_p50_latency_ms"]) if p1 else "",
                _fmt_ms(r["kaa_p99_latency_ms"]) if p1 else "",
                _fmt_ms(r["redis_p50_latency_ms"]) if p1 else "",
                _fmt_ms(r["redis_p99_latency_ms"]) if p1 else "",
            ]
        )
    widths = [
        max(len(h), *(len(b[i]) for b in body)) if body else len(h) for i, h in enumerate(headers)
    ]

    def line(cells: list[str]) -> str:
        return "  ".join(
            c.ljust(widths[i]) if i == 0 else c.rjust(widths[i]) for i, c in enumerate(cells)
        )

    out = [line(headers), line(["-" * w for w in widths])]
    out += [line(b) for b in body]
    failures = [
        f"  {r['test']} P{r['pipeline']} {k}: {r.get(k + '_error')}"
        for r in rows
        for k in SERVER_KINDS
        if r.get(k + "_error")
    ]
    if failures:
        out.append("")
        out.append("failed tests:")
        out += failures
    return "\n".join(out)


def format_cpu_split(rows: list[dict[str, Any]]) -> str:
    """Server CPU per request split into user and kernel time (medians, microseconds):
    at -P 1 the kernel's socket work is most of both servers' time, so this shows how
    much of a ratio is the servers' own code and how much the kernel's."""
    headers = ["test", "P", "kaa user", "kaa kernel", "redis user", "redis kernel"]
    body = [
        [r["test"], str(r["pipeline"]),
         *(_fmt_us(r.get(f"{k}_{part}_us_per_req"))
           for k in SERVER_KINDS for part in ("user", "sys"))]
        for r in rows
    ]
    widths = [max(len(h), *(len(b[i]) for b in body)) if body else len(h)
              for i, h in enumerate(headers)]

    def line(cells: list[str]) -> str:
        return "  ".join(
            c.ljust(widths[i]) if i == 0 else c.rjust(widths[i]) for i, c in enumerate(cells)
        )

    out = ["server CPU per request, us (medians): user = the server's code, kernel = its syscalls"]
    out += [line(headers), line(["-" * w for w in widths])]
    out += [line(b) for b in body]
    return "\n".join(out)


def _fmt_us(v: float | None) -> str:
    return "-" if v is None else f"{v:.2f}"


def format_memory(results: list[dict[str, Any]]) -> str:
    out = ["", "memory (RSS delta per key, 10-byte values, 14-byte keys):"]
    out.append(f"{'mode':<6} {'kaa B/key':>10} {'redis B/key':>12} {'ratio':>7}")
    for mode in ("plain", "ttl"):
        by = {r["server"]: r for r in results if r["mode"] == mode}
        k = by.get("kaa", {}).get("bytes_per_key") if by.get("kaa", {}).get("ok") else None
        r = by.get("redis", {}).get("bytes_per_key") if by.get("redis", {}).get("ok") else None
        ratio = k / r if k and r else None
        out.append(
            f"{mode:<6} {('FAIL' if k is None else f'{k:.1f}'):>10} "
            f"{('FAIL' if r is None else f'{r:.1f}'):>12} {_fmt_ratio(ratio):>7}"
        )
    return "\n".join(out)


def _run_text(argv: list[str], timeout: float = 10.0) -> str | None:
    try:
        p = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return None
    text = (p.stdout or p.stderr).strip()
    return text or None


# What the benchmarked kaa-server's interpreter loads (kaa.accel), in this environment.
_ACCEL_PROBE = (
    "import sys, kaa.accel as a, kaa.server.client, kaa.types.hyperloglog as h;"
    "from kaa.protocol.fast_request import FastRequestParser as F;"
    "print('conn_core', a.is_compiled(sys.modules['kaa.server.conn_core']),"
    " '_multibulk', F.splitter is not None, '_hllhash', h._compiled is not None)"
)


def kaa_accelerators(kaa_exe: str) -> str | None:
    """Which optional compiled modules kaa-server runs with ("conn_core True ..."),
    read with the python next to the kaa-server script; None if there is none."""
    py = Path(kaa_exe).with_name("python")
    return _run_text([str(py), "-c", _ACCEL_PROBE]) if py.exists() else None


def machine_description(exes: dict[str, str], kaa_info: str | None) -> dict[str, Any]:
    cpu_model = None
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu_model = line.split(":", 1)[1].strip()
                break
    mem_total = None
    with contextlib.suppress(OSError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                mem_total = line.split(":", 1)[1].strip()
    kaa_pkg = None
    with contextlib.suppress(Exception):
        import importlib.metadata as md

        kaa_pkg = md.version("kaa")
    return {
        "uname": list(platform.uname()),
        "cpu_model": cpu_model,
        "nproc": os.cpu_count(),
        "affinity_available": sorted(os.sched_getaffinity(0)),
        "mem_total": mem_total,
        "python": sys.version,
        "python_executable": sys.executable,
        "redis_server_version": _run_text([exes["redis"], "--version"]),
        "redis_benchmark_version": _run_text(["redis-benchmark", "--version"]),
        "kaa_executable": exes["kaa"],
        "kaa_version_cli": _run_text([exes["kaa"], "--version"]),
        "kaa_package_version": kaa_pkg,
        "kaa_info_server": kaa_info,
        "kaa_accelerators": kaa_accelerators(exes["kaa"]),
    }


def server_info(srv: Server) -> str | None:
    with contextlib.suppress(OSError, ValueError):
        r = srv.command("INFO", "server")
        if isinstance(r, bytes):
            keep = [
                ln
                for ln in r.decode(errors="replace").splitlines()
                if ln.split(":", 1)[0]
                in ("redis_version", "valkey_version", "kaa_version", "server_name", "process_id")
            ]
            return "; ".join(keep) or None
    return None


# --------------------------------------------------------------------------------------
# CLI
# --------------------------------------------------------------------------------------


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def default_kaa() -> str | None:
    cand = Path(sys.executable).parent / "kaa-server"
    if cand.exists():
        return str(cand)
    return shutil.which("kaa-server")


def int_list(text: str) -> list[int]:
    try:
        return [int(x) for x in text.split(",") if x.strip()]
    except ValueError as e:
        raise argparse.ArgumentTypeError(str(e)) from e


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        description="Benchmark kaa-server against redis-server with redis-benchmark.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    p.add_argument(
        "--kaa",
        default=None,
        help="kaa-server executable (default: next to sys.executable, else on PATH)",
    )
    p.add_argument("--redis", default="redis-server", help="redis-server executable")
    p.add_argument(
        "--redis-benchmark", default="redis-benchmark", help="redis-benchmark executable"
    )
    p.add_argument("--kaa-args", default="", help="extra args for kaa-server (shell-quoted)")
    p.add_argument("--redis-args", default="", help="extra args for redis-server (shell-quoted)")
    p.add_argument("--server-cpus", default="0", help="taskset cpu list for the servers")
    p.add_argument("--client-cpus", default="1", help="taskset cpu list for redis-benchmark")
    p.add_argument(
        "-t",
        "--tests",
        default=DEFAULT_TESTS,
        help=f"comma-separated tests; known: {','.join(TESTS)}",
    )
    p.add_argument(
        "--extra-tests", default="", help="comma-separated tests appended to -t (e.g. xadd,zpopmin)"
    )
    p.add_argument(
        "--command",
        action="append",
        default=[],
        type=parse_command_spec,
        metavar="NAME=CMD",
        help='custom test, e.g. --command "xadd2=XADD s * f v" (repeatable)',
    )
    p.add_argument("--pipelines", type=int_list, default=[1, 16], help="pipeline depths (-P)")
    p.add_argument(
        "-n",
        "--requests",
        type=int_list,
        default=None,
        help="requests per run: one value for all pipelines or one per pipeline "
        "(default 100000 for P1, 500000 otherwise; --quick: 20000 / 50000)",
    )
    p.add_argument("-c", "--clients", type=int, default=50, help="parallel connections")
    p.add_argument("-d", "--data-size", type=int, default=3, help="SET/GET value size (bytes)")
    p.add_argument(
        "-r",
        "--keyspace",
        type=int,
        default=0,
        help="redis-benchmark -r keyspace (0 = single key, redis-benchmark default)",
    )
    p.add_argument("--repeat", type=int, default=None, help="repetitions (default 3, --quick 1)")
    p.add_argument(
        "--timeout",
        type=float,
        default=None,
        help="timeout per redis-benchmark invocation in s (default 180, --quick 60)",
    )
    p.add_argument("--startup-timeout", type=float, default=30.0, help="server start timeout")
    p.add_argument(
        "--quick", action="store_true", help="small -n, 1 repeat, no memory test (< 2 min)"
    )
    mem = p.add_mutually_exclusive_group()
    mem.add_argument(
        "--memory",
        dest="memory",
        action="store_true",
        default=None,
        help="run the memory test (default on, off with --quick)",
    )
    mem.add_argument("--no-memory", dest="memory", action="store_false")
    p.add_argument("--memory-keys", type=int, default=1_000_000, help="keys for the memory test")
    p.add_argument("--no-throughput", action="store_true", help="skip the redis-benchmark runs")
    p.add_argument(
        "--output",
        default=None,
        help="JSON output path (default benchmarks/results/<timestamp>.json)",
    )
    return p


def resolve_args(argv: Sequence[str] | None) -> tuple[argparse.Namespace, list[BenchTest]]:
    p = build_parser()
    args = p.parse_args(argv)
    if args.repeat is None:
        args.repeat = 1 if args.quick else 3
    if args.timeout is None:
        args.timeout = 60.0 if args.quick else 180.0
    if args.memory is None:
        args.memory = not args.quick
    if not args.pipelines:
        p.error("--pipelines is empty")
    if args.requests is None:
        args.requests = [
            (20_000 if args.quick else 100_000) if pl == 1 else (50_000 if args.quick else 500_000)
            for pl in args.pipelines
        ]
    elif len(args.requests) == 1:
        args.requests = args.requests * len(args.pipelines)
    elif len(args.requests) != len(args.pipelines):
        p.error("-n needs one value or one per pipeline")

    custom = {t.name: t for t in args.command}
    names = [n.strip() for n in (args.tests + "," + args.extra_tests).split(",") if n.strip()]
    tests: list[BenchTest] = []
    seen: set[str] = set()
    for n in [*names, *custom]:
        if n in seen:
            continue
        seen.add(n)
        if n in custom:
            tests.append(custom[n])
        elif n in TESTS:
            tests.append(TESTS[n])
        else:
            p.error(f"unknown test {n!r}; known: {', '.join(TESTS)} (or use --command)")
    if args.no_throughput:
        tests = []

    if args.kaa is None:
        args.kaa = default_kaa()
        if args.kaa is None:
            p.error("kaa-server not found next to sys.executable nor on PATH; pass --kaa")
    for name in ("kaa", "redis", "redis_benchmark"):
        exe = getattr(args, name)
        found = shutil.which(exe)
        if found is None:
            p.error(f"--{name.replace('_', '-')}: {exe!r} not found / not executable")
        setattr(args, name, found)
    if shutil.which("taskset") is None:
        p.error("taskset not found (util-linux)")
    return args, tests


def _raise_keyboard_interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def main(argv: Sequence[str] | None = None) -> int:
    args, tests = resolve_args(argv)
    # Explicit, so Ctrl-C works even when started with SIGINT ignored (e.g. `cmd &`).
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, _raise_keyboard_interrupt)
    signal.signal(signal.SIGHUP, _raise_keyboard_interrupt)
    exes = {"kaa": args.kaa, "redis": args.redis}
    started_at = dt.datetime.now()
    out_path = (
        Path(args.output)
        if args.output
        else (HERE / "results" / f"{started_at.strftime('%Y%m%d-%H%M%S')}.json")
    )
    samples: list[dict[str, Any]] = []
    memory: list[dict[str, Any]] = []
    kaa_info: str | None = None
    server_meta: dict[str, Any] = {}
    t_start = time.perf_counter()
    log(
        f"kaa:   {args.kaa} (compiled: {kaa_accelerators(args.kaa)})\n"
        f"redis: {args.redis}\nservers on cpu {args.server_cpus}, "
        f"redis-benchmark on cpu {args.client_cpus}; tests: {','.join(t.name for t in tests)}; "
        f"pipelines {args.pipelines}; -n {args.requests}; repeat {args.repeat}; "
        f"memory {args.memory}"
    )
    interrupted = False
    try:
        with tempfile.TemporaryDirectory(prefix="kaa-bench-") as tmp:
            workdir = Path(tmp)
            if tests:
                with contextlib.ExitStack() as stack:
                    servers = {
                        kind: stack.enter_context(started(kind, exes[kind], args, workdir))
                        for kind in SERVER_KINDS
                    }
                    for kind, srv in servers.items():
                        server_meta[kind] = {
                            "pid": srv.pid,
                            "comm": proc_comm(srv.pid),
                            "affinity": srv.affinity(),
                            "argv": srv.argv,
                            "info": server_info(srv),
                        }
                        log(
                            f"started {kind} pid {srv.pid} ({server_meta[kind]['comm']}) port "
                            f"{srv.port} affinity {server_meta[kind]['affinity']}"
                        )
                    kaa_info = server_meta["kaa"]["info"]
                    run_throughput(servers, tests, args, samples)
            if args.memory:
                log(f"memory test: {args.memory_keys:,} keys per server and mode")
                memory = measure_memory(exes, args, workdir)
    except KeyboardInterrupt:
        interrupted = True
        log("interrupted; killing servers and writing partial results")
    finally:
        kill_all_servers()

    rows = summarize(samples, tests, args.pipelines)
    result = {
        "started_at": started_at.isoformat(timespec="seconds"),
        "duration_s": round(time.perf_counter() - t_start, 1),
        "interrupted": interrupted,
        "argv": sys.argv,
        "config": {k: v for k, v in vars(args).items() if k != "command"}
        | {"tests": [dataclasses.asdict(t) for t in tests]},
        "machine": machine_description(exes, kaa_info),
        "servers": server_meta,
        "summary": rows,
        "memory": memory,
        "samples": samples,
    }
    out_path.parent.mkdir(parents=True, exist_ok=True)
    out_path.write_text(json.dumps(result, indent=2, default=str) + "\n")

    if rows:
        print(
            f"medians over {args.repeat} repeat(s); clients {args.clients}; "
            f"ratio = kaa / redis (cpu: requests per server CPU-second)"
        )
        print(format_table(rows))
        print()
        print(format_cpu_split(rows))
    if memory:
        print(format_memory(memory))
    print(f"\nraw results: {out_path}  ({result['duration_s']} s)")
    return 130 if interrupted else 0


if __name__ == "__main__":
    sys.exit(main())
