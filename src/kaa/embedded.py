"""Run a Kaa server inside this Python process, for tests and applications.

    with EmbeddedServer() as srv:
        r = redis.Redis(port=srv.port)

The server runs its own event loop in a background thread on a free port and
stops cleanly when the block exits.
"""

from __future__ import annotations

import asyncio
import socket
import threading
from types import TracebackType
from typing import Any

from kaa.server.config import Config


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class EmbeddedServer:
    def __init__(self, **options: Any) -> None:
        """Options are config parameters with '_' for '-', e.g. ``requirepass="x"``."""
        self.config = Config()
        # Valkey's port 0 means "no TCP", so pick a free port here.
        pairs = [("port", str(_free_port())), ("save", ""), ("bind", "127.0.0.1")]
        pairs += [(k.replace("_", "-"), str(v)) for k, v in options.items()]
        self.config.set_many(pairs, from_config_set=False)
        self.port = 0
        self.host = "127.0.0.1"
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self.server: Any = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def start(self) -> EmbeddedServer:
        self._thread = threading.Thread(target=self._run, name="kaa-embedded", daemon=True)
        self._thread.start()
        self._ready.wait(10)
        if self._error is not None:
            raise RuntimeError("embedded Kaa server failed to start") from self._error
        return self

    def _run(self) -> None:
        from kaa.server.server import Server

        async def main() -> None:
            self.server = srv = Server(self.config)
            self._loop = asyncio.get_running_loop()
            try:
                await srv.start()
            except BaseException as e:  # reported to start()
                self._error = e
                self._ready.set()
                return
            self.port = srv.actual_port()
            self._ready.set()
            assert srv.shutdown_event is not None
            await srv.shutdown_event.wait()
            srv.shutting_down = True
            await srv.close_listeners()
            for c in list(srv.clients.values()):
                c.close()
            await asyncio.sleep(0)

        asyncio.run(main())

    def stop(self) -> None:
        if self._loop is not None and self.server is not None:
            self._loop.call_soon_threadsafe(self.server.request_shutdown, 0)
        if self._thread is not None:
            self._thread.join(10)

    def __enter__(self) -> EmbeddedServer:
        return self.start()

    def __exit__(
        self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
