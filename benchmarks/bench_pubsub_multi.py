"""PUBLISH to 1 and to 50 subscribers, and MULTI/EXEC of 10 INCRs: Kaa next to
redis-server in one run, each server pinned to its own core, the load on the other.

    .venv/bin/python benchmarks/bench_pubsub_multi.py [--kaa PATH] [-n 100000]

PUBLISH load comes from redis-benchmark (``-P 16 -c 50``); subscribers are raw sockets
drained by a separate pinned process. MULTI/EXEC batches come from this script, pipelined.
The figure that counts is requests per server CPU-second (/proc/<pid>/stat), as in bench.py.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import selectors
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench import Server, default_kaa, encode_command  # noqa: E402


def drain(port: int, n: int, ready: mp.synchronize.Event, stop: mp.synchronize.Event) -> None:
    """n subscribers on channel 'ch', read and discarded until told to stop."""
    os.sched_setaffinity(0, {1})
    sel = selectors.DefaultSelector()
    socks = []
    for _ in range(n):
        s = socket.create_connection(("127.0.0.1", port))
        s.sendall(encode_command(["SUBSCRIBE", "ch"]))
        s.setblocking(False)
        sel.register(s, selectors.EVENT_READ)
        socks.append(s)
    ready.set()
    while not stop.is_set():
        for key, _ in sel.select(0.1):
            try:
                if not key.fileobj.recv(1 << 20):  # type: ignore[union-attr]
                    sel.unregister(key.fileobj)
            except BlockingIOError:
                pass
    for s in socks:
        s.close()


def bench_publish(srv: Server, subscribers: int, n: int) -> tuple[float, float]:
    ready, stop = mp.Event(), mp.Event()
    p = mp.Process(target=drain, args=(srv.port, subscribers, ready, stop))
    p.start()
    ready.wait(30)
    time.sleep(0.3)
    cpu0, t0 = srv.cpu_seconds(), time.monotonic()
    subprocess.run(["taskset", "-c", "1", "redis-benchmark", "-p", str(srv.port), "-c", "50",
                    "-P", "16", "-n", str(n), "-q", "PUBLISH", "ch", "hello-subscribers"],
                   capture_output=True, timeout=600, check=True)
    cpu, wall = srv.cpu_seconds() - cpu0, time.monotonic() - t0
    stop.set()
    p.join(10)
    return n / wall, n / cpu if cpu else float("nan")


def bench_multi(srv: Server, n: int) -> tuple[float, float]:
    """n transactions of MULTI + 10 INCR + EXEC, 100 transactions per write."""
    tx = encode_command(["MULTI"]) + encode_command(["INCR", "ctr"]) * 10 + encode_command(["EXEC"])
    batch = 100
    payload = tx * batch
    replies_per_batch = batch * 12
    s = socket.create_connection(("127.0.0.1", srv.port))
    cpu0, t0 = srv.cpu_seconds(), time.monotonic()
    buf = b""
    for _ in range(n // batch):
        s.sendall(payload)
        # Each transaction answers +OK, 10 x +QUEUED and one array of 10 integers.
        need = replies_per_batch
        while need:
            buf += s.recv(1 << 20)
            while need:
                if buf.startswith(b"*"):
                    end = _array_end(buf)
                    if end < 0:
                        break
                    buf = buf[end:]
                else:
                    i = buf.find(b"\r\n")
                    if i < 0:
                        break
                    buf = buf[i + 2:]
                need -= 1
    cpu, wall = srv.cpu_seconds() - cpu0, time.monotonic() - t0
    s.close()
    done = (n // batch) * batch
    return done / wall, done / cpu if cpu else float("nan")


def _array_end(buf: bytes) -> int:
    """End offset of a complete array of integers at the start of buf, or -1."""
    i = buf.find(b"\r\n")
    if i < 0:
        return -1
    count = int(buf[1:i])
    pos = i + 2
    for _ in range(count):
        j = buf.find(b"\r\n", pos)
        if j < 0:
            return -1
        pos = j + 2
    return pos


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--kaa", default=default_kaa())
    ap.add_argument("--redis", default=shutil.which("redis-server"))
    ap.add_argument("-n", type=int, default=100_000, help="PUBLISH requests and MULTI/EXEC transactions")
    args = ap.parse_args()
    if not args.kaa or not args.redis or not shutil.which("redis-benchmark"):
        print("needs kaa-server, redis-server and redis-benchmark", file=sys.stderr)
        return 2
    work = Path(tempfile.mkdtemp(prefix="kaa-bench-ps-"))
    rows = []
    for name, fn in (("publish, 1 subscriber", lambda s: bench_publish(s, 1, args.n)),
                     ("publish, 50 subscribers", lambda s: bench_publish(s, 50, args.n // 5)),
                     ("MULTI + 10 INCR + EXEC", lambda s: bench_multi(s, args.n))):
        res = {}
        for kind, exe in (("kaa", args.kaa), ("redis", args.redis)):
            srv = Server(kind, exe, "0", [], work, 20.0)
            try:
                res[kind] = fn(srv)
            finally:
                srv.stop()
        rows.append((name, res["kaa"], res["redis"]))
    print(f"{'test':26} {'kaa/s':>10} {'redis/s':>10} {'kaa/cpu-s':>10} {'redis/cpu-s':>12} {'ratio cpu':>9}")
    for name, k, r in rows:
        print(f"{name:26} {k[0]:10,.0f} {r[0]:10,.0f} {k[1]:10,.0f} {r[1]:12,.0f} {k[1] / r[1]:9.3f}")
    shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
