"""``kaa-server``: start a server from a valkey.conf-style file and ``--name value`` arguments."""

from __future__ import annotations

import asyncio
import gc
import os
import sys

from kaa import VALKEY_VERSION, __version__
from kaa.server.config import Config, ConfigError

try:
    from kaa.server.config_file import format_fatal
except ImportError:  # pragma: no cover - older config module
    format_fatal = None  # type: ignore[assignment]

USAGE = """Usage: ./kaa-server [/path/to/kaa.conf] [options] [-]
       ./kaa-server - (read config from stdin)
       ./kaa-server -v or --version
       ./kaa-server -h or --help

Examples:
       ./kaa-server (run the server with default conf)
       ./kaa-server /etc/kaa/6379.conf
       ./kaa-server --port 7777
       ./kaa-server --port 7777 --replicaof 127.0.0.1 8888
       ./kaa-server /etc/mykaa.conf --loglevel verbose -
       ./kaa-server /etc/mykaa.conf --loglevel verbose
"""


def version_line() -> str:
    return f"Kaa server v={VALKEY_VERSION} sha=00000000:0 malloc=libc bits=64 build=kaa-{__version__}"


def banner(cfg: Config, pid: int) -> str:
    mode = "cluster" if cfg.cluster_enabled else "standalone"
    return (
        "\n"
        f"                 Kaa {__version__} (Valkey {VALKEY_VERSION} compatible) 64 bit\n"
        f"                 Running in {mode} mode\n"
        f"                 Port: {cfg.port}\n"
        f"                 PID: {pid}\n"
        "\n"
    )


def use_uvloop() -> None:
    try:
        import uvloop
    except ImportError:
        return
    asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if args and args[0] in ("-v", "--version"):
        print(version_line())
        return 0
    if args and args[0] in ("-h", "--help"):
        print(USAGE, end="")
        return 0
    cfg = Config()
    # rename-command lines are checked against the command table while the file loads.
    from kaa.commands import load_all
    from kaa.commands.registry import COMMANDS

    load_all()
    cfg.command_lookup = lambda name: name.lower() in COMMANDS
    try:
        cfg.load_argv(args)
    except ConfigError as e:
        if format_fatal is not None and getattr(e, "line_no", None) is not None:
            sys.stderr.write(format_fatal(e, e.line_no, e.line))  # type: ignore[attr-defined]
        else:
            sys.stderr.write(
                f"\n*** FATAL CONFIG FILE ERROR (Version {VALKEY_VERSION}) ***\n{e}\n"
            )
        sys.stderr.flush()
        return 1
    except OSError as e:
        sys.stderr.write(f"Fatal error, can't open config file '{e.filename}': {e.strerror}\n")
        return 1
    if cfg.daemonize and not os.environ.get("KAA_NO_DAEMONIZE"):
        _daemonize()
    return run(cfg)


async def _load_data(srv: object) -> bool:
    """Load the RDB file at start-up, serving -LOADING meanwhile; False (after logging
    Valkey's messages) if the server must exit."""
    p = srv.persistence  # type: ignore[attr-defined]
    return bool(await p.load_startup())


def _daemonize() -> None:
    if os.fork() > 0:
        os._exit(0)
    os.setsid()
    fd = os.open(os.devnull, os.O_RDWR)
    for i in (0, 1, 2):
        os.dup2(fd, i)


def run(cfg: Config) -> int:
    from kaa.server.server import Server

    use_uvloop()
    srv = Server(cfg)
    pid = os.getpid()
    srv.log_notice("oO0OoO0OoO0Oo Kaa is starting oO0OoO0OoO0Oo")
    srv.log_notice(
        f"Kaa version={__version__}, valkey-compat={VALKEY_VERSION}, bits=64, commit=00000000, modified=0, pid={pid}, just started"
    )
    if cfg.config_file:
        srv.log_notice("Configuration loaded")
    else:
        srv.log_warning(
            "Warning: no config file specified, using the default config. In order to specify a config file use kaa-server /path/to/kaa.conf"
        )
    if cfg.always_show_logo:
        srv.log_raw(banner(cfg, pid))
    else:
        srv.log_notice(f"Running mode={'cluster' if cfg.cluster_enabled else 'standalone'}, port={cfg.port}.")
    if cfg.pidfile:
        try:
            with open(cfg.pidfile, "w") as f:
                f.write(f"{pid}\n")
        except OSError as e:
            srv.log_warning(f"Failed to write PID file: {e.strerror}")

    async def _main() -> int:
        srv.log_notice("Server initialized")
        # Listeners open before the data loads, as in Valkey: clients connecting during
        # a long load get -LOADING replies instead of connection refused.
        try:
            await srv.start()
        except OSError:
            return 1
        if not await _load_data(srv):
            await srv.close_listeners()
            return 1
        for hook in list(srv.startup_hooks):
            hook()
        _tune_gc()
        if cfg.port:
            srv.log_notice("Ready to accept connections tcp")
        if cfg.unixsocket:
            srv.log_notice("Ready to accept connections unix")
        srv.install_signal_handlers()
        assert srv.shutdown_event is not None
        await srv.shutdown_event.wait()
        srv.shutting_down = True
        await srv.close_listeners()
        for c in list(srv.clients.values()):
            c.flush()
            c.close()
        await asyncio.sleep(0)
        return srv.exit_code

    try:
        code = asyncio.run(_main())
    except KeyboardInterrupt:
        code = 0
    if code and cfg.pidfile:
        try:
            os.unlink(cfg.pidfile)
        except OSError:
            pass
    return code


# Young-generation threshold: CPython's default (700 tracked allocations) runs a
# collection every few hundred requests that create containers; the server's
# short-lived objects (argv lists, replies) die by reference count anyway.
_GC_YOUNG_THRESHOLD = 20_000


def _tune_gc() -> None:
    """Keep start-up objects (modules, the command table, the config) and a dataset
    loaded at start-up out of every later collection: they are never garbage, and
    rescanning millions of loaded values made full collections pause the server."""
    gc.collect()
    gc.freeze()
    _, g1, g2 = gc.get_threshold()
    gc.set_threshold(_GC_YOUNG_THRESHOLD, g1, g2)


if __name__ == "__main__":
    sys.exit(main())
