#!/usr/bin/env python3
"""RDB benchmark: Kaa next to redis-server (stdlib only, reuses bench.py's helpers).

For each server, pinned with ``taskset`` to the same CPU list, it loads the same mixed
dataset (default 1,000,000 keys: 60% strings, 10% each small hashes, lists, integer sets
and sorted sets), then measures

* SAVE: wall time of the SAVE command and the file size;
* BGSAVE: the parent's fork latency (INFO stats ``latest_fork_usec``), the time until
  the child is done, and the child's copy-on-write size (``rdb_last_cow_size``);
* load: a fresh server started on that dump.rdb: the "DB loaded from disk: N seconds"
  the server logs, and the wall time from exec to the first PONG.

Runs alternate kaa, redis, kaa, redis ... and medians over ``--repeat`` runs are
reported, as JSON in benchmarks/results/rdb-<timestamp>.json and a table on stdout.

    .venv/bin/python benchmarks/bench_rdb.py                 # 1M keys, 3 repeats
    .venv/bin/python benchmarks/bench_rdb.py --keys 200000 --repeat 1
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from bench import (  # noqa: E402  (bench.py is a sibling script, not a package)
    _LIVE_PROCS,
    RespConn,
    RespError,
    _kill_proc,
    default_kaa,
    encode_command,
    free_port,
    kill_all_servers,
    log,
    machine_description,
    proc_comm,
)

_LOADED = re.compile(r"DB loaded from disk: ([0-9.]+) seconds")


class RdbServer:
    """A server pinned with taskset, working in ``workdir`` (where dump.rdb lives)."""

    def __init__(self, kind: str, exe: str, cpus: str, workdir: Path, timeout: float) -> None:
        self.kind = kind
        self.port = free_port()
        self.workdir = workdir
        self.log_path = workdir / f"{kind}-{self.port}.log"
        argv = ["taskset", "-c", cpus, exe, "--port", str(self.port), "--bind", "127.0.0.1",
                "--dir", str(workdir), "--save", "", "--appendonly", "no",
                "--enable-debug-command", "yes"]
        self._log = open(self.log_path, "wb")  # noqa: SIM115 - closed in stop()
        self.t0 = time.perf_counter()
        self.proc: subprocess.Popen[bytes] = subprocess.Popen(
            argv, stdin=subprocess.DEVNULL, stdout=self._log, stderr=subprocess.STDOUT,
            cwd=workdir, start_new_session=True)
        _LIVE_PROCS.append(self.proc)
        self.pid = self.proc.pid
        self.ready_after = self._wait_ready(timeout)

    def _wait_ready(self, timeout: float) -> float:
        """Seconds from exec until PING answers PONG (not -LOADING)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.kind} exited with {self.proc.returncode}:\n{self.log_tail()}")
            with contextlib.suppress(OSError, ValueError):
                with RespConn(self.port, timeout=5.0) as c:
                    if c.call("PING") == "PONG" and proc_comm(self.pid) != "taskset":
                        return time.perf_counter() - self.t0
            time.sleep(0.01)
        raise RuntimeError(f"{self.kind} did not answer PING within {timeout}s:\n{self.log_tail()}")

    def log_tail(self, n: int = 20) -> str:
        with contextlib.suppress(OSError):
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-n:])
        return ""

    def loaded_seconds(self) -> float | None:
        found: list[str] = []
        with contextlib.suppress(OSError):
            found = _LOADED.findall(self.log_path.read_text(errors="replace"))
        return float(found[-1]) if found else None

    def call(self, *args: str | bytes, timeout: float = 600.0) -> Any:
        with RespConn(self.port, timeout=timeout) as c:
            r = c.call(*args)
        if isinstance(r, RespError):
            raise r
        return r

    def info(self, section: str) -> dict[str, str]:
        text = self.call("INFO", section)
        assert isinstance(text, bytes)
        out = {}
        for line in text.decode().splitlines():
            if ":" in line:
                k, v = line.split(":", 1)
                out[k] = v
        return out

    def stop(self) -> None:
        with contextlib.suppress(OSError, RespError, ValueError):
            if self.proc.poll() is None:
                with RespConn(self.port, timeout=2.0) as c:
                    c.sock.sendall(encode_command(["SHUTDOWN", "NOSAVE"]))
        _kill_proc(self.proc, grace=10.0)
        if self.proc in _LIVE_PROCS:
            _LIVE_PROCS.remove(self.proc)
        self._log.close()


def populate(srv: RdbServer, nkeys: int, batch: int = 2000) -> None:
    """60% strings (DEBUG POPULATE, 16-byte values), then small hashes, lists, integer
    sets and sorted sets, 10% each, sent as pipelined batches."""
    nstr = nkeys * 6 // 10
    srv.call("DEBUG", "POPULATE", str(nstr), "str", "16")
    each = (nkeys - nstr) // 4
    kinds = [
        lambda i: ["HSET", f"hash:{i}", "name", f"user{i}", "age", str(i % 90), "city", "Lyon",
                   "score", str(i * 3), "flag", "1"],
        lambda i: ["RPUSH", f"list:{i}", "a", "bb", str(i), "dddd", "eeeee"],
        lambda i: ["SADD", f"set:{i}", str(i), str(i + 1), str(i * 2), "7", "-3"],
        lambda i: ["ZADD", f"zset:{i}", "1", "a", "2.5", "b", str(i), "c", "-1", "d", "0.125", "e"],
    ]
    with RespConn(srv.port, timeout=120) as c:
        for make in kinds:
            for start in range(0, each, batch):
                n = min(batch, each - start)
                errors = c.pipeline_simple(b"".join(encode_command(make(start + j)) for j in range(n)), n)
                if errors:
                    raise RuntimeError(f"{srv.kind}: {errors} errors while loading")
    size = srv.call("DBSIZE")
    if size != nstr + 4 * each:
        raise RuntimeError(f"{srv.kind}: DBSIZE {size}, expected {nstr + 4 * each}")


def run_once(kind: str, exe: str, args: argparse.Namespace, root: Path) -> dict[str, Any]:
    workdir = Path(tempfile.mkdtemp(prefix=f"{kind}-", dir=root))
    res: dict[str, Any] = {"kind": kind}
    srv = RdbServer(kind, exe, args.server_cpus, workdir, args.startup_timeout)
    try:
        t = time.perf_counter()
        populate(srv, args.keys)
        res["populate_s"] = time.perf_counter() - t
        res["keys"] = srv.call("DBSIZE")
        t = time.perf_counter()
        srv.call("SAVE")
        res["save_s"] = time.perf_counter() - t
        res["file_bytes"] = (workdir / "dump.rdb").stat().st_size
        t = time.perf_counter()
        srv.call("BGSAVE")
        while srv.info("persistence").get("rdb_bgsave_in_progress") == "1":
            time.sleep(0.01)
        res["bgsave_s"] = time.perf_counter() - t
        res["fork_usec"] = int(srv.info("stats")["latest_fork_usec"])
        pers = srv.info("persistence")
        res["bgsave_status"] = pers["rdb_last_bgsave_status"]
        res["cow_bytes"] = int(pers.get("rdb_last_cow_size", 0))
        res["rss_bytes"] = int(srv.info("memory").get("used_memory_rss", 0))
    finally:
        srv.stop()
    srv = RdbServer(kind, exe, args.server_cpus, workdir, args.startup_timeout)
    try:
        res["load_wall_s"] = srv.ready_after
        res["load_logged_s"] = srv.loaded_seconds()
        res["keys_loaded"] = srv.call("DBSIZE")
    finally:
        srv.stop()
        shutil.rmtree(workdir, ignore_errors=True)
    return res


def summarize(runs: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for kind in ("kaa", "redis"):
        rows = [r for r in runs if r["kind"] == kind]
        if not rows:
            continue
        s: dict[str, Any] = {}
        for f in ("save_s", "file_bytes", "bgsave_s", "fork_usec", "cow_bytes", "load_logged_s",
                  "load_wall_s", "populate_s", "rss_bytes"):
            vals = [r[f] for r in rows if r.get(f) is not None]
            s[f] = statistics.median(vals) if vals else None
        s["keys"] = rows[0]["keys"]
        out[kind] = s
    return out


def table(summary: dict[str, dict[str, Any]]) -> str:
    def fmt(v: Any, unit: str) -> str:
        if v is None:
            return "-"
        if unit == "s":
            return f"{v:.3f} s"
        if unit == "us":
            return f"{v:,.0f} us"
        if unit == "MB":
            return f"{v / 1e6:.1f} MB"
        return str(v)

    rows = [("keys", "keys", ""), ("SAVE", "save_s", "s"), ("dump size", "file_bytes", "MB"),
            ("BGSAVE (until done)", "bgsave_s", "s"), ("fork latency", "fork_usec", "us"),
            ("child CoW", "cow_bytes", "MB"), ("load (logged)", "load_logged_s", "s"),
            ("load (exec to PONG)", "load_wall_s", "s"), ("RSS with data", "rss_bytes", "MB")]
    kinds = [k for k in ("kaa", "redis") if k in summary]
    lines = ["| metric | " + " | ".join(kinds) + (" | kaa/redis |" if len(kinds) == 2 else " |"),
             "|---" * (len(kinds) + 1 + (len(kinds) == 2)) + "|"]
    for name, field, unit in rows:
        vals = [summary[k].get(field) for k in kinds]
        cells = [fmt(v, unit) for v in vals]
        ratio = ""
        if len(kinds) == 2 and unit and vals[0] and vals[1]:
            ratio = f" {vals[0] / vals[1]:.1f}x |"
        elif len(kinds) == 2:
            ratio = " |"
        lines.append(f"| {name} | " + " | ".join(cells) + " |" + ratio)
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--kaa", default=default_kaa(), help="kaa-server executable")
    ap.add_argument("--redis", default=shutil.which("redis-server"), help="reference server")
    ap.add_argument("--keys", type=int, default=1_000_000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--server-cpus", default="0", help="taskset -c list for the servers")
    ap.add_argument("--startup-timeout", type=float, default=600.0)
    ap.add_argument("--output", type=Path, default=None)
    args = ap.parse_args(argv)
    exes = {k: v for k, v in (("kaa", args.kaa), ("redis", args.redis)) if v}
    if not shutil.which("taskset"):
        log("taskset (util-linux) is required")
        return 2
    root = Path(tempfile.mkdtemp(prefix="kaa-bench-rdb-"))
    runs: list[dict[str, Any]] = []
    try:
        for rep in range(args.repeat):
            for kind, exe in exes.items():
                log(f"[{rep + 1}/{args.repeat}] {kind}: {args.keys} keys ...")
                r = run_once(kind, exe, args, root)
                log(f"    save {r['save_s']:.3f}s  bgsave {r['bgsave_s']:.3f}s  fork {r['fork_usec']}us  "
                    f"load {r['load_logged_s']}s ({r['load_wall_s']:.3f}s to PONG)  keys {r['keys_loaded']}")
                runs.append(r)
    finally:
        kill_all_servers()
        shutil.rmtree(root, ignore_errors=True)
    summary = summarize(runs)
    out = args.output or HERE / "results" / f"rdb-{dt.datetime.now().strftime('%Y%m%d-%H%M%S')}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    kaa_info = None
    with contextlib.suppress(Exception):
        kaa_info = subprocess.run([exes.get("kaa", ""), "--version"], capture_output=True, text=True,
                                  timeout=10).stdout.strip()
    machine = machine_description({"kaa": exes.get("kaa", ""), "redis": exes.get("redis", "")}, kaa_info)
    out.write_text(json.dumps({"args": {k: str(v) for k, v in vars(args).items()}, "machine": machine,
                               "runs": runs, "summary": summary}, indent=2))
    print(table(summary))
    log(f"results: {out}")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    finally:
        kill_all_servers()
