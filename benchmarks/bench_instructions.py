#!/usr/bin/env python3
"""User-space instructions per request, Kaa next to redis-server, counted by callgrind.

bench.py's CPU-second ratios drift by about +-0.05 between runs on a shared VM; an
instruction count does not drift at all, so this is the instrument for comparing
changes to the hot path before confirming them with bench.py. For each server and
test it runs the server under ``valgrind --tool=callgrind`` twice, serving
``--small`` and then ``--large`` requests from redis-benchmark, and divides the
difference of the two totals by the difference of the request counts (start-up and
shut-down cancel out).

What it does not see: the kernel's share (the socket work, about two thirds of a
request at -P 1), and a server slowed down by valgrind reads more requests per loop
iteration than at full speed, so per-iteration costs weigh less than they do live.
Compare Kaa with Kaa; the redis column gives the scale.

    .venv/bin/python benchmarks/bench_instructions.py -t set,get,lpush
    .venv/bin/python benchmarks/bench_instructions.py -t set -P 16 --no-redis
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import platform
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from bench import (  # noqa: E402  (bench.py is a sibling script, not a package)
    DEFAULT_TESTS,
    TESTS,
    BenchTest,
    RespConn,
    RespError,
    encode_command,
    free_port,
    log,
)

_TOTAL = re.compile(rb"^(?:summary|totals):\s*(\d+)", re.M)


def kaa_command(exe: str | None) -> list[str]:
    """How to start Kaa: this interpreter's kaa.server.main unless --kaa names an
    executable (a script is run by the interpreter its #! line names)."""
    if not exe:
        return [sys.executable, "-m", "kaa.server.main"]
    with open(exe, "rb") as f:
        head = f.readline()
    if head.startswith(b"#!"):
        return [*shlex.split(head[2:].decode().strip()), exe]
    return [exe]


def count_run(cmd: list[str], test: BenchTest, requests: int, args: argparse.Namespace,
              workdir: Path) -> int:
    """Total instructions of one server run that serves ``requests`` of ``test``."""
    port = free_port()
    out = workdir / f"callgrind.{port}.out"
    argv = ["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}", *cmd,
            "--port", str(port), "--save", "", "--appendonly", "no"]
    with open(workdir / f"server.{port}.log", "wb") as logf:
        proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=logf, stderr=subprocess.STDOUT,
                                cwd=workdir, start_new_session=True)
        try:
            _wait_ready(proc, port, args.startup_timeout)
            with RespConn(port, timeout=60.0) as c:
                for setup in test.setup:
                    r = c.call(*setup)
                    if isinstance(r, RespError):
                        raise RuntimeError(f"setup {setup[0]}: {r}")
            subprocess.run([args.redis_benchmark, "-h", "127.0.0.1", "-p", str(port),
                            "-c", str(args.clients), "-P", str(args.pipeline), "-n", str(requests),
                            "-q", *test.bench_args],
                           stdin=subprocess.DEVNULL, capture_output=True, check=True,
                           timeout=args.timeout)
            with RespConn(port, timeout=10.0) as c:
                c.sock.sendall(encode_command(["SHUTDOWN", "NOSAVE"]))
            proc.wait(timeout=args.timeout)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    m = _TOTAL.search(out.read_bytes())
    if m is None:
        raise RuntimeError(f"no instruction total in {out}")
    return int(m.group(1))


def _wait_ready(proc: subprocess.Popen[bytes], port: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}")
        with contextlib.suppress(OSError, ValueError):
            with RespConn(port, timeout=2.0) as c:
                if c.call("PING") == "PONG":
                    return
        time.sleep(0.2)
    raise RuntimeError(f"server did not answer PING within {timeout}s")


def per_request(cmd: list[str], test: BenchTest, args: argparse.Namespace, workdir: Path) -> float:
    small = count_run(cmd, test, args.small, args, workdir)
    large = count_run(cmd, test, args.large, args, workdir)
    return (large - small) / (args.large - args.small)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("-t", "--tests", default=DEFAULT_TESTS, help="comma-separated bench.py tests")
    p.add_argument("-P", "--pipeline", type=int, default=1, help="redis-benchmark -P")
    p.add_argument("-c", "--clients", type=int, default=50, help="redis-benchmark -c")
    p.add_argument("--small", type=int, default=5_000, help="requests of the first run")
    p.add_argument("--large", type=int, default=25_000, help="requests of the second run")
    p.add_argument("--kaa", default=None, help="kaa-server executable (default: this "
                   "interpreter's kaa.server.main)")
    p.add_argument("--redis", default="redis-server", help="redis-server executable")
    p.add_argument("--no-redis", action="store_true", help="count Kaa only")
    p.add_argument("--redis-benchmark", default="redis-benchmark")
    p.add_argument("--startup-timeout", type=float, default=120.0)
    p.add_argument("--timeout", type=float, default=600.0, help="seconds per benchmark run")
    p.add_argument("--output", default=None, help="JSON path (default: "
                   "benchmarks/results/instructions-<timestamp>.json)")
    args = p.parse_args(argv)
    if args.large <= args.small:
        p.error("--large must be more than --small")
    for tool in ("valgrind", args.redis_benchmark) + (() if args.no_redis else (args.redis,)):
        if shutil.which(tool) is None:
            p.error(f"{tool} not found")
    names = [t.strip() for t in args.tests.split(",") if t.strip()]
    unknown = [n for n in names if n not in TESTS]
    if unknown:
        p.error(f"unknown tests: {', '.join(unknown)}")
    servers = {"kaa": kaa_command(args.kaa)}
    if not args.no_redis:
        servers["redis"] = [args.redis]
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="kaa-instr-") as tmp:
        for name in names:
            row: dict[str, Any] = {"test": name, "pipeline": args.pipeline}
            for kind, cmd in servers.items():
                log(f"{name} P{args.pipeline} {kind} ...")
                row[kind] = per_request(cmd, TESTS[name], args, Path(tmp))
            rows.append(row)
    print("user instructions per request (callgrind); ratio = redis / kaa")
    print(f"{'test':<12} {'P':>2} {'kaa':>10} {'redis':>10} {'ratio':>7}")
    for row in rows:
        redis = row.get("redis")
        ratio = f"{redis / row['kaa']:.3f}" if redis else "-"
        print(f"{row['test']:<12} {row['pipeline']:>2} {row['kaa']:>10,.0f} "
              f"{(f'{redis:,.0f}' if redis else '-'):>10} {ratio:>7}")
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    path = Path(args.output) if args.output else HERE / "results" / f"instructions-{stamp}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    machine = {"uname": list(platform.uname()), "python": sys.version,
               "servers": {k: shlex.join(v) for k, v in servers.items()},
               "valgrind": subprocess.run(["valgrind", "--version"], capture_output=True,
                                          text=True).stdout.strip()}
    path.write_text(json.dumps({"argv": sys.argv, "config": vars(args), "rows": rows,
                                "machine": machine}, indent=2))
    print(f"results: {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
