"""LATENCY: the latency monitor (Valkey's latency.c) and per-command latency histograms.

The monitor keeps, per event name ("command", "fast-command", "expire-cycle",
"expire-del", ...), the last 160 samples of (unix time, latency in ms) at one sample
per second (the worst of that second) and the all-time maximum. Events are recorded
only while ``latency-monitor-threshold`` is non-zero and only when they last at least
that many milliseconds, so the hot path pays one comparison (``Server.slow_watch``).

LATENCY HISTOGRAM reports ``Command.latency_counts()`` (filled by the client pipeline while
``latency-tracking`` is on) as Valkey does from its HDR histograms: cumulative counts
at power-of-two bucket edges starting at 1 us.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from kaa.commands.registry import COMMANDS, Command, subcommand
from kaa.commands.server_cmds import arg, declare_container, help_reply
from kaa.protocol.reply import ReplyError, Verbatim

if TYPE_CHECKING:
    from kaa.server.server import Server

HISTORY_LEN = 160  # LATENCY_TS_LEN
_GRAPH_COLUMNS = 80
_GRAPH_ROWS = 4
_NEVER = 1 << 62  # Server.slow_watch when neither the slowlog nor the monitor is on


class EventSeries:
    """The recent samples of one event: [time, ms] pairs, oldest first."""

    __slots__ = ("samples", "max")

    def __init__(self) -> None:
        self.samples: deque[list[int]] = deque(maxlen=HISTORY_LEN)
        self.max = 0


class LatencyMonitor:
    """Events above the threshold, by name (case-sensitive, as Valkey's dict)."""

    def __init__(self, server: Server) -> None:
        self.server = server
        self.events: dict[str, EventSeries] = {}
        self.threshold = 0  # ms; mirrors latency-monitor-threshold

    def add_if_needed(self, event: str, ms: int) -> None:
        """latencyAddSampleIfNeeded."""
        if self.threshold and ms >= self.threshold:
            self.add(event, ms)

    def add(self, event: str, ms: int) -> None:
        """latencyAddSample: one sample per second per event, keeping the worst."""
        ts = self.events.get(event)
        if ts is None:
            ts = self.events[event] = EventSeries()
        if ms > ts.max:
            ts.max = ms
        now = int(time.time())
        samples = ts.samples
        if samples and samples[-1][0] == now:
            if ms > samples[-1][1]:
                samples[-1][1] = ms
            return
        samples.append([now, ms])

    def reset(self, event: str | None = None) -> int:
        """Forget one event (matched without regard to case) or all; how many went."""
        if event is None:
            n = len(self.events)
            self.events.clear()
            return n
        gone = [name for name in self.events if name.lower() == event.lower()]
        for name in gone:
            del self.events[name]
        return len(gone)


def install(srv: Server) -> None:
    """Create the server's monitor and keep it, the keyspace's copy of the threshold and
    ``Server.slow_watch`` in step with latency-monitor-threshold and the slowlog."""
    cfg = srv.config
    mon = srv.latency_monitor = LatencyMonitor(srv)
    ks = srv.keyspace
    ks.latency_sink = mon.add

    def refresh(old: Any = None, new: Any = None) -> None:
        mon.threshold = cfg.latency_monitor_threshold
        ks.latency_threshold_ms = mon.threshold
        watch = _NEVER
        if srv.slowlog_threshold >= 0:
            watch = srv.slowlog_threshold
        if mon.threshold:
            watch = min(watch, mon.threshold * 1000)
        srv.slow_watch = watch
        srv.refresh_plain_ctx()

    refresh()
    cfg.on_change("latency-monitor-threshold", refresh)
    cfg.on_change("slowlog-log-slower-than", refresh)


def _monitor(c: Any) -> LatencyMonitor:
    mon = c.server.latency_monitor
    if mon is None:  # a server built without install() (unit tests)
        install(c.server)
        mon = c.server.latency_monitor
    return mon  # type: ignore[no-any-return]


# ---- the command ------------------------------------------------------------------------

declare_container("latency", -2, group="server", since="2.8.13", complexity="Depends on subcommand.",
                  summary="A container for latency diagnostics commands.")

_ADMIN = "admin noscript loading stale"
_TIPS = ("nondeterministic_output", "request_policy:all_nodes", "response_policy:special")


@subcommand("latency", "latest", 2, _ADMIN, since="2.8.13", complexity="O(1)", tips=_TIPS,
            summary="Returns the latest latency samples for all events.")
def latency_latest(c: Any, argv: list[bytes]) -> Any:
    out = []
    for name, ts in _monitor(c).events.items():
        t, ms = ts.samples[-1] if ts.samples else (0, 0)
        out.append([name.encode(), t, ms, ts.max])
    return out


@subcommand("latency", "history", 3, _ADMIN, since="2.8.13", complexity="O(1)", tips=_TIPS,
            summary="Returns timestamp-latency samples for an event.",
            arguments=(arg("event", "string"),))
def latency_history(c: Any, argv: list[bytes]) -> Any:
    ts = _monitor(c).events.get(argv[2].decode("utf-8", "surrogateescape"))
    if ts is None:
        return []
    return [[t, ms] for t, ms in ts.samples]


@subcommand("latency", "reset", -2, _ADMIN, since="2.8.13", complexity="O(1)",
            tips=("request_policy:all_nodes", "response_policy:agg_sum"),
            summary="Resets the latency data for one or more events.",
            arguments=(arg("event", "string", optional=True, multiple=True),))
def latency_reset(c: Any, argv: list[bytes]) -> Any:
    mon = _monitor(c)
    if len(argv) == 2:
        return mon.reset()
    return sum(mon.reset(a.decode("utf-8", "surrogateescape")) for a in argv[2:])


@subcommand("latency", "graph", 3, _ADMIN, since="2.8.13", complexity="O(1)", tips=_TIPS,
            summary="Returns a latency graph for an event.", arguments=(arg("event", "string"),))
def latency_graph(c: Any, argv: list[bytes]) -> Any:
    name = argv[2].decode("utf-8", "surrogateescape")
    ts = _monitor(c).events.get(name)
    if ts is None:
        raise ReplyError(f"ERR No samples available for event '{name}'")
    return Verbatim(render_graph(name, ts, int(time.time())).encode("utf-8", "surrogateescape"))


@subcommand("latency", "doctor", 2, _ADMIN, since="2.8.13", complexity="O(1)", tips=_TIPS,
            summary="Returns a human-readable latency analysis report.")
def latency_doctor(c: Any, argv: list[bytes]) -> Any:
    return Verbatim(doctor_report(c.server, _monitor(c)).encode())


@subcommand("latency", "histogram", -2, _ADMIN, since="7.0.0", tips=_TIPS,
            complexity="O(N) where N is the number of commands with latency information "
                       "being retrieved.",
            summary="Returns the cumulative distribution of latencies of a subset or all commands.",
            arguments=(arg("command", "string", optional=True, multiple=True),))
def latency_histogram(c: Any, argv: list[bytes]) -> Any:
    out: dict[bytes, Any] = {}
    if len(argv) == 2:
        _add_histograms(out, _all_commands(COMMANDS.values()))
    else:
        for a in argv[2:]:
            cmd = _lookup(a)
            if cmd is None:
                continue  # unknown names are skipped, as in Valkey
            _add_histograms(out, [cmd, *cmd.subcommands.values()])
    return out


_LATENCY_HELP = (
    "DOCTOR",
    "    Return a human readable analysis of the recorded latency events.",
    "GRAPH <event>",
    "    Return an ASCII graph of the samples of the <event> class.",
    "HISTORY <event>",
    "    Return the (time, latency) samples of the <event> class.",
    "LATEST",
    "    Return the most recent sample of every event class.",
    "RESET [<event> ...]",
    "    Forget the samples of the given <event> classes.",
    "    (default: forget every event class)",
    "HISTOGRAM [COMMAND ...]",
    "    Return the cumulative latency distribution, as a histogram, of the named commands.",
    "    Without command names, return the histograms of every command.",
)


@subcommand("latency", "help", 2, "loading stale", since="2.8.13", complexity="O(1)",
            summary="Returns helpful text about the different subcommands.")
def latency_help(c: Any, argv: list[bytes]) -> Any:
    return help_reply(argv[0], _LATENCY_HELP)


# ---- histograms ---------------------------------------------------------------------------

def _all_commands(cmds: Iterable[Command]) -> Iterable[Command]:
    for cmd in cmds:
        yield cmd
        if cmd.subcommands:
            yield from cmd.subcommands.values()


def _lookup(name: bytes) -> Command | None:
    """lookupCommandBySds: "cmd" or "parent|sub", any letter case."""
    text = name.decode("utf-8", "surrogateescape").lower()
    parent, _, sub = text.partition("|")
    cmd = COMMANDS.get(parent)
    if cmd is None or not sub:
        return cmd
    return cmd.subcommands.get(sub)


def _add_histograms(out: dict[bytes, Any], cmds: Iterable[Command]) -> None:
    for cmd in cmds:
        counts = cmd.latency_counts()
        if counts:
            out[cmd.fullname.encode()] = histogram_reply(counts)


def histogram_reply(counts: dict[int, int]) -> dict[bytes, Any]:
    """fillCommandCDF: {calls, histogram_usec: {bucket edge us: cumulative count}}.

    Valkey iterates its HDR histogram (ns, 2 significant digits) in power-of-two steps
    from 1024 ns and reports each step's highest equivalent value in us wherever the
    cumulative count grew. Our counts are keyed by us (exact below 128 us, then the top
    of a 7-significant-bit bucket); a duration of 0 counts as Valkey's minimum of 1 ns."""
    total = sum(counts.values())
    ordered = sorted(counts.items())
    cdf: dict[int, int] = {}
    cumulative = 0
    i = 0
    step = 0
    while cumulative < total:
        edge_ns = 1024 << step
        top_ns = edge_ns + (edge_ns >> 7) - 1  # highest value equivalent to the edge
        before = cumulative
        while i < len(ordered) and ordered[i][0] * 1000 <= top_ns:
            cumulative += ordered[i][1]
            i += 1
        if cumulative > before:
            cdf[top_ns // 1000] = cumulative
        step += 1
    return {b"calls": total, b"histogram_usec": cdf}


# ---- graph and doctor ---------------------------------------------------------------------

def _age_label(seconds: int) -> str:
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m"
    if seconds < 86400:
        return f"{seconds // 3600}h"
    return f"{seconds // 86400}d"


def render_graph(name: str, ts: EventSeries, now: int) -> str:
    """An ASCII sparkline of the event's samples (oldest left), labelled by age, under a
    "<event> - high N ms, low N ms (all time high N ms)" header as in Valkey."""
    values = [ms for _, ms in ts.samples]
    labels = [_age_label(now - t) for t, _ in ts.samples]
    high = max(values) if values else 0
    low = min(values) if values else 0
    lines = [f"{name} - high {high} ms, low {low} ms (all time high {ts.max} ms)",
             "-" * _GRAPH_COLUMNS]
    for start in range(0, len(values), _GRAPH_COLUMNS):
        if start:
            lines.append("")
        lines.extend(_sparkline(values[start:start + _GRAPH_COLUMNS],
                                labels[start:start + _GRAPH_COLUMNS], low, high))
    return "\n".join(lines) + "\n"


def _sparkline(values: list[int], labels: list[str], low: int, high: int) -> list[str]:
    """Filled bars ('_', 'o', '#', then '|' below the tip) over ``_GRAPH_ROWS`` rows,
    then the labels written vertically after one blank row."""
    levels = 3 * _GRAPH_ROWS
    span = (high - low) or 1
    steps = [min(levels - 1, max(0, (v - low) * levels // span)) for v in values]
    rows = []
    for row in range(_GRAPH_ROWS):
        floor = (_GRAPH_ROWS - row - 1) * 3
        line = []
        for s in steps:
            k = s - floor
            line.append("_o#"[k] if 0 <= k < 3 else ("|" if k >= 3 else " "))
        rows.append("".join(line))
    if labels:
        rows.append(" " * len(values))
        for depth in range(max(map(len, labels))):
            rows.append("".join(lb[depth] if depth < len(lb) else " " for lb in labels))
    return rows


def doctor_report(srv: Server, mon: LatencyMonitor) -> str:
    """A short human-readable analysis in the spirit of Valkey's LATENCY DOCTOR."""
    if not mon.events and not mon.threshold:
        return ("Latency monitoring is disabled on this Kaa instance, so there is nothing to "
                "analyse. Enable it with \"CONFIG SET latency-monitor-threshold <milliseconds>\".\n")
    if not mon.events:
        return ("No latency spike above the configured threshold has been recorded since "
                "the monitor was last reset.\n")
    lines = ["Latency spikes were recorded on this Kaa instance.", ""]
    advice: list[str] = []
    now = int(time.time())
    for n, (name, ts) in enumerate(mon.events.items(), 1):
        values = [ms for _, ms in ts.samples]
        count = len(values)
        avg = sum(values) // count if count else 0
        mad = sum(abs(avg - v) for v in values) // count if count else 0
        period = max(1, now - min(t for t, _ in ts.samples)) if count else 0
        lines.append(f"{n}. {name}: {count} latency spikes (average {avg}ms, mean deviation "
                     f"{mad}ms, period {period / count if count else 0:.2f} sec). "
                     f"Worst all time event {ts.max}ms.")
        if name in ("command", "fast-command"):
            advice.append("- Look at SLOWLOG GET for the slow commands; operations on big "
                          "values (O(N) commands, deleting large keys) are the usual cause.")
        elif name.startswith("expire"):
            advice.append("- Expiring or deleting large values blocks the server: consider "
                          "lazyfree-lazy-expire yes, or a higher hz for a smoother expiry.")
    if advice:
        lines.append("")
        lines.append("Advice:")
        lines.extend(dict.fromkeys(advice))
    return "\n".join(lines) + "\n"


__all__ = ["LatencyMonitor", "install", "histogram_reply", "render_graph"]
