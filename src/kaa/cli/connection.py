"""Blocking client connection for kaa-cli: encode commands, read typed replies.

A CLI sends one command and waits for its answer, so a plain blocking socket is the
simplest correct choice; RESP3 push messages that arrive in between are handed to a
callback instead of being mistaken for the command's reply.
"""

from __future__ import annotations

import socket
from collections.abc import Callable, Sequence

from kaa.protocol.reply_reader import Push, Reply, ReplyReader

PushHandler = Callable[[Push], None]


class ConnectionClosed(Exception):
    """The server closed the socket while we were waiting for a reply."""


def encode_command(args: Sequence[bytes]) -> bytes:
    """RESP multi-bulk request, the only form every server accepts for binary args."""
    parts = [b"*%d\r\n" % len(args)]
    for arg in args:
        parts.append(b"$%d\r\n%s\r\n" % (len(arg), arg))
    return b"".join(parts)


def describe_target(host: str, port: int, unix_socket: str | None) -> str:
    """Address as redis-cli names it in error messages."""
    return unix_socket if unix_socket else f"{host}:{port}"


class Connection:
    """One TCP or unix-socket connection to the server."""

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 6379,
        unix_socket: str | None = None,
        timeout: float | None = None,
    ) -> None:
        self.host = host
        self.port = port
        self.unix_socket = unix_socket
        self._reader = ReplyReader()
        self.push_handler: PushHandler | None = None
        sock: socket.socket
        if unix_socket:
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                sock.settimeout(timeout)
                sock.connect(unix_socket)
            except OSError:
                sock.close()
                raise
        else:
            sock = socket.create_connection((host, port), timeout=timeout)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.settimeout(None)
        self._sock = sock

    def close(self) -> None:
        self._sock.close()

    def send(self, args: Sequence[bytes]) -> None:
        self._sock.sendall(encode_command(args))

    def read_reply(self, *, deliver_pushes: bool = True) -> Reply:
        """Next reply; pushes go to ``push_handler`` unless ``deliver_pushes`` is false."""
        while True:
            reply = self._reader.get_reply()
            if reply is None:
                data = self._sock.recv(65536)
                if not data:
                    raise ConnectionClosed("Server closed the connection")
                self._reader.feed(data)
                continue
            if deliver_pushes and isinstance(reply, Push):
                if self.push_handler is not None:
                    self.push_handler(reply)
                continue
            return reply

    def call(self, args: Sequence[bytes]) -> Reply:
        self.send(args)
        return self.read_reply()
