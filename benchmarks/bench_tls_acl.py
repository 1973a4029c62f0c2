#!/usr/bin/env python3
"""TLS and ACL costs, Kaa next to redis-server (stdlib only; reuses bench.py).

Two questions:

1. GET/SET over TLS: requests/s and requests per server CPU-second for kaa-server and
   redis-server, each listening on a TCP port and a TLS port (same certificates, client
   certificates required), measured with ``redis-benchmark --tls``; the plain-TCP figures
   are measured too, so the TLS overhead of each server is visible.
2. ACL checks: GET/SET as a user with 20 key patterns (the matching one last, so each key
   is tried against 19 patterns first) versus the unrestricted default user. For Kaa a
   third case runs the default user while a restricted user exists (the permission gate
   is installed but returns at once for unrestricted users). The baseline of both is the
   plain-TCP run with no user but the default one.

Certificates are made with the ``openssl`` command line tool in a temp directory.
Servers and redis-benchmark are pinned to separate CPUs with taskset, runs are
interleaved (kaa, redis, kaa, ...) and repeated; medians are reported.

    benchmarks/bench_tls_acl.py            # ~3 minutes
    benchmarks/bench_tls_acl.py --quick    # < 1 minute, one repetition
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import bench  # noqa: E402  (benchmarks/bench.py: servers, redis-benchmark runs, CPU time)

ACL_USER = "bench"
ACL_PASS = "bench-pass"
# 19 patterns that never match redis-benchmark's "key:..." keys (prefixes and globs that
# take the general matcher), then the one that does.
KEY_PATTERNS = [f"~p{i}:*" for i in range(10)] + [f"~obj:{c}[abc]?:*" for c in "abcdefghi"] + [
    "~key:*"]


def make_certs(d: Path) -> dict[str, str]:
    """A CA, a server certificate and a client certificate (EC P-256), via openssl."""
    def run(*argv: str) -> None:
        subprocess.run(["openssl", *argv], check=True, capture_output=True, cwd=d)

    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    run("req", "-x509", *ec, "-keyout", "ca.key", "-out", "ca.crt", "-days", "2",
        "-subj", "/O=Kaa Bench/CN=Bench CA")
    for name in ("server", "client"):
        run("req", *ec, "-keyout", f"{name}.key", "-out", f"{name}.csr",
            "-subj", f"/O=Kaa Bench/CN={name}")
        run("x509", "-req", "-in", f"{name}.csr", "-CA", "ca.crt", "-CAkey", "ca.key",
            "-CAcreateserial", "-out", f"{name}.crt", "-days", "2")
    return {k: str(d / v) for k, v in (("ca", "ca.crt"), ("cert", "server.crt"),
                                       ("key", "server.key"), ("client_cert", "client.crt"),
                                       ("client_key", "client.key"))}


def tls_server_args(certs: dict[str, str], tls_port: int) -> list[str]:
    return ["--tls-port", str(tls_port), "--tls-cert-file", certs["cert"],
            "--tls-key-file", certs["key"], "--tls-ca-cert-file", certs["ca"]]


def tls_client_args(certs: dict[str, str], tls_port: int) -> tuple[str, ...]:
    # redis-benchmark takes the last -p, so this overrides the TCP port bench.py passes.
    return ("-p", str(tls_port), "--tls", "--cacert", certs["ca"], "--cert",
            certs["client_cert"], "--key", certs["client_key"])


def case_tests(op: str, extra: tuple[str, ...], tag: str) -> bench.BenchTest:
    return bench.BenchTest(name=f"{op}{tag}", bench_args=(*extra, "-t", op),
                           row_prefix=op.upper())


def median(xs: list[float]) -> float | None:
    return statistics.median(xs) if xs else None


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--kaa", default=bench.default_kaa())
    p.add_argument("--redis", default="redis-server")
    p.add_argument("--redis-benchmark", default="redis-benchmark")
    p.add_argument("--server-cpus", default="0")
    p.add_argument("--client-cpus", default="1")
    p.add_argument("-c", "--clients", type=int, default=50)
    p.add_argument("-n", "--requests", type=int, default=None)
    p.add_argument("-P", "--pipeline", type=int, default=1)
    p.add_argument("--repeat", type=int, default=None)
    p.add_argument("--quick", action="store_true")
    p.add_argument("--output", default=None)
    args = p.parse_args(argv)
    args.requests = args.requests or (20_000 if args.quick else 100_000)
    args.repeat = args.repeat or (1 if args.quick else 3)
    for name in ("kaa", "redis", "redis_benchmark"):
        exe = getattr(args, name)
        found = shutil.which(exe) if exe else None
        if found is None:
            p.error(f"--{name.replace('_', '-')}: {exe!r} not found")
        setattr(args, name, found)
    if shutil.which("openssl") is None or shutil.which("taskset") is None:
        p.error("needs openssl and taskset")
    # What bench.run_benchmark reads from its namespace.
    args.data_size, args.keyspace, args.timeout, args.startup_timeout = 3, 100_000, 120.0, 30.0

    work = Path(tempfile.mkdtemp(prefix="kaa-bench-tls-"))
    certs = make_certs(work)
    tls_ports = {"kaa": bench.free_port(), "redis": bench.free_port()}
    exes = {"kaa": args.kaa, "redis": args.redis}
    servers: dict[str, bench.Server] = {}
    samples: list[dict[str, Any]] = []
    try:
        for kind in ("kaa", "redis"):
            servers[kind] = bench.Server(kind, exes[kind], args.server_cpus,
                                         tls_server_args(certs, tls_ports[kind]), work,
                                         args.startup_timeout)
        acl_args = ("--user", ACL_USER, "-a", ACL_PASS)
        plans: list[tuple[str, str, str, tuple[str, ...]]] = []  # (case, kind, op, extra)
        for op in ("set", "get"):
            for kind in ("kaa", "redis"):
                plans.append(("tcp", kind, op, ()))
                plans.append(("tls", kind, op, tls_client_args(certs, tls_ports[kind])))
                plans.append(("acl-20-patterns", kind, op, acl_args))
            plans.append(("acl-default-gate-on", "kaa", op, ()))
        for rep in range(args.repeat):
            for case, kind, op, extra in plans:
                srv = servers[kind]
                setup_users(srv, case)
                s = bench.run_benchmark(srv, case_tests(op, extra, ""), args.pipeline,
                                        args.requests, args)
                s.update(case=case, op=op, repeat=rep)
                samples.append(s)
                msg = (f"{s['rps']:>11,.0f} rps  cpu {s['server_cpu_s']:6.2f}s" if s["ok"]
                       else "FAILED: " + str(s.get("error"))[:120])
                bench.log(f"rep {rep + 1} {case:<20} {op:<3} {kind:<5} {msg}")
    finally:
        for srv in servers.values():
            srv.stop()
        shutil.rmtree(work, ignore_errors=True)

    summary = summarize(samples)
    print(format_summary(summary, args))
    out = Path(args.output) if args.output else HERE / "results" / (
        "tls_acl-" + dt.datetime.now().strftime("%Y%m%d-%H%M%S") + ".json")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"args": {k: v for k, v in vars(args).items()},
                               "summary": summary, "samples": samples}, indent=1, default=str))
    bench.log(f"results written to {out}")
    return 0


def setup_users(srv: bench.Server, case: str) -> None:
    """The ACL users a case needs: none, or the 20-pattern user."""
    with bench.RespConn(srv.port) as c:
        c.call("ACL", "DELUSER", ACL_USER)
        if case in ("acl-20-patterns", "acl-default-gate-on"):
            c.call("ACL", "SETUSER", ACL_USER, "on", ">" + ACL_PASS, "+@all", "&*",
                   *KEY_PATTERNS)


def summarize(samples: list[dict[str, Any]]) -> dict[str, Any]:
    cells: dict[tuple[str, str, str], dict[str, list[float]]] = {}
    for s in samples:
        if not s.get("ok"):
            continue
        cell = cells.setdefault((s["case"], s["server"], s["op"]), {"rps": [], "cpu": []})
        cell["rps"].append(float(s["rps"]))
        if s.get("rps_per_cpu_s"):
            cell["cpu"].append(float(s["rps_per_cpu_s"]))
    out: dict[str, Any] = {}
    for (case, kind, op), v in cells.items():
        out[f"{case}/{kind}/{op}"] = {"rps": median(v["rps"]), "rps_per_cpu_s": median(v["cpu"])}
    return out


def _ratio(a: float | None, b: float | None) -> str:
    return f"{a / b:5.2f}" if a and b else "  n/a"


def format_summary(summary: dict[str, Any], args: argparse.Namespace) -> str:
    def get(case: str, kind: str, op: str, field: str = "rps") -> float | None:
        v = summary.get(f"{case}/{kind}/{op}")
        return v[field] if v else None

    lines = [f"\nredis-benchmark -c {args.clients} -n {args.requests} -P {args.pipeline} "
             f"-r 100000, median of {args.repeat}; servers on cpu {args.server_cpus}, "
             f"client on cpu {args.client_cpus}", ""]
    lines.append(f"{'case':<22}{'op':<5}{'kaa rps':>11}{'redis rps':>11}{'kaa/redis':>10}"
                 f"{'kaa/cpu-s':>11}{'redis/cpu-s':>12}{'ratio':>7}")
    for case in ("tcp", "tls", "acl-20-patterns", "acl-default-gate-on"):
        for op in ("set", "get"):
            k, r = get(case, "kaa", op), get(case, "redis", op)
            kc, rc = get(case, "kaa", op, "rps_per_cpu_s"), get(case, "redis", op, "rps_per_cpu_s")
            lines.append(f"{case:<22}{op:<5}{_fmt(k):>11}{_fmt(r):>11}{_ratio(k, r):>10}"
                         f"{_fmt(kc):>11}{_fmt(rc):>12}{_ratio(kc, rc):>7}")
    lines.append("")
    for kind in ("kaa", "redis"):
        for op in ("set", "get"):
            lines.append(
                f"{kind:<6}{op:<4} TLS/TCP rps {_ratio(get('tls', kind, op), get('tcp', kind, op))}"
                f"   per cpu-s {_ratio(get('tls', kind, op, 'rps_per_cpu_s'), get('tcp', kind, op, 'rps_per_cpu_s'))}"
                f"   | ACL 20 patterns / default rps "
                f"{_ratio(get('acl-20-patterns', kind, op), get('tcp', kind, op))}"
                f"   per cpu-s {_ratio(get('acl-20-patterns', kind, op, 'rps_per_cpu_s'), get('tcp', kind, op, 'rps_per_cpu_s'))}")
    for op in ("set", "get"):
        lines.append(f"kaa   {op:<4} default user with the gate on / off: rps "
                     f"{_ratio(get('acl-default-gate-on', 'kaa', op), get('tcp', 'kaa', op))}"
                     f"   per cpu-s "
                     f"{_ratio(get('acl-default-gate-on', 'kaa', op, 'rps_per_cpu_s'), get('tcp', 'kaa', op, 'rps_per_cpu_s'))}")
    return "\n".join(lines)


def _fmt(v: float | None) -> str:
    return f"{v:,.0f}" if v else "n/a"


if __name__ == "__main__":
    sys.exit(main())
