"""kaa-cli: a small redis-cli compatible command-line client.

It mirrors redis-cli's options, prompt, exit codes and output bytes so existing shell
scripts and habits keep working when pointed at Kaa.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import metadata
from typing import NoReturn
from urllib.parse import unquote, urlsplit

from kaa.cli.connection import Connection, ConnectionClosed, describe_target
from kaa.cli.format import format_invalidate_tty, format_reply
from kaa.cli.split import SplitError, split_args
from kaa.protocol.reply_reader import Error, Push, Reply, SimpleString

AUTH_WARNING = (
    "Warning: Using a password with '-a' or '-u' option on the command line interface "
    "may not be safe.\n"
)

USAGE = """\
Usage: kaa-cli [OPTIONS] [cmd [arg [arg ...]]]
  -h <hostname>      Server hostname (default: 127.0.0.1).
  -p <port>          Server port (default: 6379).
  -s <socket>        Server socket (overrides hostname and port).
  -a <password>      Password to use when connecting to the server.
                     You can also use the REDISCLI_AUTH environment
                     variable to pass this password more safely.
  --user <username>  Used to send ACL style 'AUTH username pass'. Needs -a.
  --pass <password>  Alias of -a for consistency with the new --user option.
  --no-auth-warning  Don't show warning message when using password on command
                     line interface.
  -u <uri>           Server URI: redis://[user:password@]host[:port][/db].
  -r <repeat>        Execute specified command N times (-1 repeats forever).
  -i <interval>      When -r is used, waits <interval> seconds per command.
                     It is possible to specify sub-second times like -i 0.1.
  -n <db>            Database number.
  -2                 Start session in RESP2 protocol mode.
  -3                 Start session in RESP3 protocol mode.
  -x                 Read last argument from STDIN.
  --tls              Establish a secure TLS connection.
  --sni <host>       Server name indication for TLS.
  --cacert <file>    CA Certificate file to verify with.
  --cacertdir <dir>  Directory where trusted CA certificates are stored.
  --insecure         Allow insecure TLS connection by skipping cert validation.
  --cert <file>      Client certificate to authenticate with.
  --key <file>       Private key file to authenticate with.
  --raw              Use raw formatting for replies (default when STDOUT is
                     not a tty).
  --no-raw           Force formatted output even when STDOUT is not a tty.
  --help             Output this help and exit.
  -v, --version      Output version and exit.

Examples:
  kaa-cli -p 7000 set foo bar
  cat /etc/passwd | kaa-cli -x set mypasswd
  kaa-cli -r 100 lpush mylist x
  kaa-cli -r 100 -i 1 info | grep used_memory_human:
  kaa-cli -u redis://user:pass@127.0.0.1:6379/2 ping

When no command is given, kaa-cli starts in interactive mode.
Type "help" in interactive mode for information on available commands.
"""

REPL_HELP = """\
Type a command to send it to the server, "quit" or "exit" to leave.
Prefix a command with a number to repeat it, e.g. "3 ping".
"connect <host> <port>" switches servers, "clear" clears the screen.
"""

# Commands whose reply is text meant to be read verbatim even on a terminal.
_RAW_STRING_COMMANDS = {
    (b"info", None),
    (b"lolwut", None),
    (b"debug", b"htstats"),
    (b"debug", b"htstats-key"),
    (b"debug", b"listpack"),
    (b"debug", b"quicklist-packed-threshold"),
    (b"memory", b"malloc-stats"),
    (b"memory", b"doctor"),
    (b"cluster", b"nodes"),
    (b"cluster", b"info"),
    (b"client", b"list"),
    (b"client", b"info"),
    (b"latency", b"graph"),
    (b"latency", b"doctor"),
    (b"proxy", b"info"),
}
_PUBSUB_COMMANDS = {b"subscribe", b"psubscribe", b"ssubscribe"}


class UsageError(Exception):
    """Bad command line; the message is printed as-is and the exit code is 1."""


@dataclass
class Config:
    """Everything the command line can set; defaults match redis-cli."""

    host: str = "127.0.0.1"
    port: int = 6379
    unix_socket: str | None = None
    user: str | None = None
    password: str | None = None
    db: int = 0
    resp3: bool = False
    raw: bool | None = None  # None: decide from whether stdout is a tty
    repeat: int = 1
    interval: float = 0.0
    stdin_last_arg: bool = False
    auth_warning: bool = True
    show_help: bool = False
    show_version: bool = False
    tls: bool = False
    sni: str | None = None
    cacert: str | None = None
    cacertdir: str | None = None
    insecure: bool = False
    cert: str | None = None
    key: str | None = None


def version() -> str:
    try:
        return metadata.version("kaa")
    except metadata.PackageNotFoundError:
        return "0.0.0"


def _apply_uri(config: Config, uri: str) -> bool:
    """Fill ``config`` from a redis:// URI; return True if it carried a password."""
    parts = urlsplit(uri)
    if parts.scheme == "rediss":
        raise UsageError("TLS URIs (rediss://) are not supported by kaa-cli")
    if parts.scheme != "redis":
        raise UsageError("Invalid URI scheme")
    if parts.hostname:
        config.host = parts.hostname
    try:
        port = parts.port
    except ValueError:
        raise UsageError("Invalid URI port") from None
    if port is not None:
        config.port = port
    if parts.username:
        config.user = unquote(parts.username)
    has_password = parts.password is not None
    if has_password:
        config.password = unquote(parts.password or "")
    path = parts.path.lstrip("/")
    if path:
        try:
            config.db = int(path)
        except ValueError:
            raise UsageError(f"Invalid database number in URI: {path}") from None
    return has_password


def parse_options(argv: Sequence[str]) -> tuple[Config, list[str]]:
    """Parse leading options the way redis-cli does: the first non-option starts the command."""
    config = Config()
    password_on_cli = False
    i = 0
    n = len(argv)

    def value() -> str:
        return argv[i + 1]

    def number(text: str, kind: type[int] | type[float] = int) -> int | float:
        try:
            return kind(text)
        except ValueError:
            raise UsageError(f"Invalid value for '{argv[i]}': '{text}'") from None

    while i < n:
        arg = argv[i]
        has_value = i + 1 < n
        if arg == "--help" or (arg == "-h" and not has_value):
            config.show_help = True
        elif arg in ("-v", "--version"):
            config.show_version = True
        elif arg == "-h" and has_value:
            config.host = value()
            i += 1
        elif arg == "-p" and has_value:
            config.port = int(number(value()))
            i += 1
        elif arg == "-s" and has_value:
            config.unix_socket = value()
            i += 1
        elif arg in ("-a", "--pass") and has_value:
            config.password = value()
            password_on_cli = True
            i += 1
        elif arg == "--user" and has_value:
            config.user = value()
            i += 1
        elif arg == "-u" and has_value:
            password_on_cli = _apply_uri(config, value()) or password_on_cli
            i += 1
        elif arg == "-n" and has_value:
            config.db = int(number(value()))
            i += 1
        elif arg == "-r" and has_value:
            config.repeat = int(number(value()))
            i += 1
        elif arg == "-i" and has_value:
            config.interval = float(number(value(), float))
            i += 1
        elif arg == "-2":
            config.resp3 = False
        elif arg == "-3":
            config.resp3 = True
        elif arg == "-x":
            config.stdin_last_arg = True
        elif arg == "--raw":
            config.raw = True
        elif arg == "--no-raw":
            config.raw = False
        elif arg == "--tls":
            config.tls = True
        elif arg == "--insecure":
            config.insecure = True
        elif arg in ("--sni", "--cacert", "--cacertdir", "--cert", "--key") and has_value:
            setattr(config, arg[2:], value())
            i += 1
        elif arg == "--no-auth-warning":
            config.auth_warning = False
        elif arg.startswith("-") and len(arg) > 1:
            raise UsageError(f"Unrecognized option or bad number of args for: '{arg}'")
        else:
            break
        i += 1
    if password_on_cli and config.auth_warning:
        sys.stderr.write(AUTH_WARNING)
    if config.password is None:
        config.password = os.environ.get("KAACLI_AUTH") or os.environ.get("REDISCLI_AUTH")
    return config, list(argv[i:])


def _is_sensitive(args: Sequence[bytes]) -> bool:
    """Lines that may carry passwords are kept out of the history file, as redis-cli does."""
    if not args:
        return False
    name = args[0].lower()
    sub = args[1].lower() if len(args) > 1 else b""
    if name == b"auth":
        return True
    if name == b"hello" and any(a.lower() == b"auth" for a in args[2:]):
        return True
    if name == b"acl" and sub == b"setuser":
        return True
    if name == b"migrate" and any(a.lower() in (b"auth", b"auth2") for a in args[6:]):
        return True
    if name == b"config" and sub == b"set":
        return any(
            a.lower() in (b"masterauth", b"masteruser", b"requirepass", b"tls-key-file-pass")
            for a in args[2:]
        )
    return False


def _wants_raw_strings(args: Sequence[bytes]) -> bool:
    name = args[0].lower()
    sub = args[1].lower() if len(args) > 1 else None
    return (name, None) in _RAW_STRING_COMMANDS or (name, sub) in _RAW_STRING_COMMANDS


class Cli:
    """Connection state plus the redis-cli behaviours that depend on it (db, MULTI, ...)."""

    def __init__(self, config: Config, *, stdout_tty: bool) -> None:
        self.config = config
        self.stdout_tty = stdout_tty
        self.raw = (not stdout_tty) if config.raw is None else config.raw
        self.conn: Connection | None = None
        self.db = 0
        self.in_multi = False
        self.out = sys.stdout.buffer

    # -- output ----------------------------------------------------------------

    def write(self, data: bytes) -> None:
        self.out.write(data)
        self.out.flush()

    def print_reply(self, reply: Reply, args: Sequence[bytes] = ()) -> None:
        raw_strings = bool(args) and _wants_raw_strings(args)
        self.write(format_reply(reply, raw=self.raw, raw_strings=raw_strings))

    def _on_push(self, push: Push) -> None:
        # redis-cli only shows out-of-band messages to a human at a terminal.
        if not self.stdout_tty:
            return
        text = None if self.raw else format_invalidate_tty(push)
        self.write(text if text is not None else format_reply(push, raw=self.raw))

    # -- connection ------------------------------------------------------------

    def target(self) -> str:
        c = self.config
        return describe_target(c.host, c.port, c.unix_socket)

    def _start_tls(self, conn: Connection) -> bool:
        """Wrap the new connection in TLS (--tls, --cacert, --cert, --key, --insecure)."""
        import ssl

        from kaa.security.tls import client_context_for

        c = self.config
        try:
            ctx = client_context_for(c.cacert, c.cert, c.key, c.insecure, c.cacertdir)
            conn._sock = ctx.wrap_socket(conn._sock, server_hostname=c.sni)
        except (OSError, ssl.SSLError) as exc:
            conn.close()
            sys.stderr.write(f"Could not negotiate a TLS connection: {exc}\n")
            return False
        return True

    def connect(self) -> bool:
        """Connect, authenticate, select the db and switch protocol, like cliConnect."""
        self.disconnect()
        c = self.config
        try:
            conn = Connection(c.host, c.port, c.unix_socket)
        except OSError as exc:
            reason = exc.strerror or str(exc)
            if isinstance(exc, TimeoutError):
                reason = "Connection timed out"
            sys.stderr.write(f"Could not connect to Redis at {self.target()}: {reason}\n")
            return False
        if c.tls and not c.unix_socket and not self._start_tls(conn):
            return False
        conn.push_handler = self._on_push
        self.conn = conn
        self.db = 0
        self.in_multi = False
        try:
            if c.password is not None:
                auth = [b"AUTH", c.password.encode()]
                if c.user:
                    auth.insert(1, c.user.encode())
                reply = conn.call(auth)
                if isinstance(reply, Error):
                    sys.stderr.write(f"AUTH failed: {reply.value.decode(errors='replace')}\n")
            if c.db:
                reply = conn.call([b"SELECT", str(c.db).encode()])
                if isinstance(reply, Error):
                    sys.stderr.write(
                        f"SELECT {c.db} failed: {reply.value.decode(errors='replace')}\n"
                    )
                else:
                    self.db = c.db
            if c.resp3:
                reply = conn.call([b"HELLO", b"3"])
                if isinstance(reply, Error):
                    sys.stderr.write(f"HELLO 3 failed: {reply.value.decode(errors='replace')}\n")
        except (OSError, ConnectionClosed) as exc:
            self._connection_error(exc)
            return False
        return True

    def disconnect(self) -> None:
        if self.conn is not None:
            self.conn.close()
            self.conn = None

    def _connection_error(self, exc: BaseException) -> None:
        if isinstance(exc, OSError) and exc.strerror:
            message = exc.strerror
        else:
            message = str(exc) or "Server closed the connection"
        sys.stderr.write(f"Error: {message}\n")
        self.disconnect()

    # -- commands --------------------------------------------------------------

    def run(self, args: list[bytes], repeat: int = 1, *, interactive: bool = False) -> bool:
        """Send ``args`` ``repeat`` times (forever if negative); False on connection loss."""
        while repeat < 0 or repeat > 0:
            if repeat > 0:
                repeat -= 1
            if self.conn is None and not self.connect():
                return False
            started = time.monotonic()
            if not self._send_one(args):
                return False
            elapsed = time.monotonic() - started
            if interactive and not self.raw and elapsed >= 0.5:
                self.write(b"(%.2fs)\n" % elapsed)
            if self.config.interval and (repeat != 0):
                time.sleep(self.config.interval)
        return True

    def _send_one(self, args: list[bytes]) -> bool:
        assert self.conn is not None
        conn = self.conn
        name = args[0].lower()
        try:
            conn.send(args)
            if name in _PUBSUB_COMMANDS:
                self._pubsub_loop()
            if name == b"monitor":
                self._monitor_loop()
            reply = conn.read_reply()
        except ConnectionClosed as exc:
            if name == b"shutdown":
                self.disconnect()
                return True
            self._connection_error(exc)
            return False
        except OSError as exc:
            self._connection_error(exc)
            return False
        self.print_reply(reply, args)
        self._track_state(args, reply)
        return True

    def _pubsub_loop(self) -> NoReturn:
        """After SUBSCRIBE the connection only carries messages; print them until Ctrl-C."""
        assert self.conn is not None
        if not self.raw:
            self.write(b"Reading messages... (press Ctrl-C to quit)\n")
        while True:
            self.print_reply(self.conn.read_reply(deliver_pushes=False))

    def _monitor_loop(self) -> NoReturn:
        assert self.conn is not None
        while True:
            self.print_reply(self.conn.read_reply())

    def _track_state(self, args: Sequence[bytes], reply: Reply) -> None:
        """Keep the prompt's [db] and (TX) markers in sync with what the server accepted."""
        name = args[0].lower()
        if isinstance(reply, Error):
            if name == b"exec":
                self.in_multi = False
            return
        if name == b"select" and len(args) == 2:
            try:
                self.db = int(args[1])
            except ValueError:
                pass
        elif name == b"multi" and isinstance(reply, SimpleString):
            self.in_multi = True
        elif name in (b"exec", b"discard"):
            self.in_multi = False

    # -- interactive -----------------------------------------------------------

    def prompt(self) -> str:
        if self.conn is None:
            return "not connected> "
        c = self.config
        if c.unix_socket:
            where = f"redis {c.unix_socket}"
        elif ":" in c.host:
            where = f"[{c.host}]:{c.port}"
        else:
            where = f"{c.host}:{c.port}"
        if self.db:
            where += f"[{self.db}]"
        if self.in_multi:
            where += "(TX)"
        return where + "> "

    def repl(self) -> int:
        """Read-eval-print loop; with a non-tty stdin it reads commands without prompting."""
        stdin_tty = sys.stdin.isatty()
        history = _History() if stdin_tty else None
        self.connect()
        while True:
            try:
                if stdin_tty:
                    line = input(self.prompt())
                else:
                    line = sys.stdin.readline()
                    if not line:
                        return 0
            except (EOFError, KeyboardInterrupt):
                if stdin_tty:
                    self.write(b"\n")
                return 0
            data = line.rstrip("\r\n").encode("utf-8", "surrogateescape")
            try:
                args = split_args(data)
            except SplitError:
                self.write(b"Invalid argument(s)\n")
                continue
            if history is not None:
                history.add(line, sensitive=_is_sensitive(args))
            if not args:
                continue
            try:
                if self._repl_command(args):
                    return 0
            except KeyboardInterrupt:
                # Abandon a blocking command; the next command reconnects.
                self.write(b"\n")
                self.disconnect()

    def _repl_command(self, args: list[bytes]) -> bool:
        """Run one interactive line; True means the user asked to quit."""
        name = args[0].lower()
        if name in (b"quit", b"exit"):
            return True
        if name in (b"help", b"?"):
            self.write(f"kaa-cli {version()}\n{REPL_HELP}".encode())
            return False
        if name == b"clear" and len(args) == 1:
            self.write(b"\x1b[H\x1b[2J")
            return False
        if name == b"connect" and len(args) in (2, 3):
            self.config.host = args[1].decode()
            self.config.unix_socket = None
            if len(args) == 3:
                try:
                    self.config.port = int(args[2])
                except ValueError:
                    self.write(b"Invalid port\n")
                    return False
            self.connect()
            return False
        repeat = 1
        if len(args) > 1 and args[0].isdigit():
            repeat = int(args[0])
            args = args[1:]
        if self.conn is None and not self.connect():
            return False
        if not self.run(args, repeat, interactive=True):
            self.connect()
        return False


class _History:
    """readline history persisted to ~/.kaacli_history (or $KAACLI_HISTFILE)."""

    def __init__(self) -> None:
        self.path: str | None = None
        try:
            import readline
        except ImportError:  # pragma: no cover - readline is missing on some builds
            self.readline = None
            return
        self.readline = readline
        path = os.environ.get("KAACLI_HISTFILE", os.path.join("~", ".kaacli_history"))
        path = os.path.expanduser(path)
        if path in ("", "/dev/null"):
            return
        self.path = path
        try:
            readline.read_history_file(path)
        except OSError:
            pass

    def add(self, line: str, *, sensitive: bool) -> None:
        rl = self.readline
        if rl is None:
            return
        count = rl.get_current_history_length()
        # input() already recorded the line; drop it again when it must stay secret.
        if sensitive and count and rl.get_history_item(count) == line:
            rl.remove_history_item(count - 1)
        if self.path is None:
            return
        try:
            rl.write_history_file(self.path)
            os.chmod(self.path, 0o600)
        except OSError:
            pass


def main(argv: Sequence[str] | None = None) -> int:
    """Console-script entry point; returns the process exit code."""
    args_in = list(sys.argv[1:] if argv is None else argv)
    try:
        config, command = parse_options(args_in)
    except UsageError as exc:
        sys.stderr.write(f"{exc}\n")
        return 1
    if config.show_version:
        sys.stdout.write(f"kaa-cli {version()}\n")
        return 0
    if config.show_help:
        sys.stdout.write(f"kaa-cli {version()}\n\n{USAGE}")
        return 0
    cli = Cli(config, stdout_tty=sys.stdout.isatty())
    try:
        if not command:
            return cli.repl()
        args = [a.encode("utf-8", "surrogateescape") for a in command]
        if config.stdin_last_arg:
            args.append(sys.stdin.buffer.read())
        if not cli.connect():
            return 1
        return 0 if cli.run(args, config.repeat) else 1
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # Reader went away (e.g. `| head`); silence the flush error at exit.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 1
    finally:
        cli.disconnect()


if __name__ == "__main__":
    sys.exit(main())
