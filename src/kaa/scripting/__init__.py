"""Lua scripting and functions: EVAL, SCRIPT, FUNCTION, FCALL (Valkey 8 semantics on
lupa's Lua 5.1).

``install(server)`` attaches a :class:`~kaa.scripting.state.Scripting` as
``server.scripting`` and the RDB hooks for function libraries. Without lupa the
server still runs; the scripting commands answer that scripting is unavailable.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from kaa.scripting.engine import AVAILABLE

if TYPE_CHECKING:
    from kaa.scripting.state import Scripting
    from kaa.server.server import Server


def install(server: Server) -> None:
    from kaa.scripting.state import Scripting

    sc = Scripting(server)
    server.scripting = sc  # type: ignore[attr-defined]
    p = getattr(server, "persistence", None)
    if p is not None:
        p.functions_provider = sc.saved_libraries
        if AVAILABLE:
            p.functions_loader = sc.load_saved_libraries


def get(server: Any) -> Scripting:
    """The server's scripting state (installed on first use if the server did not)."""
    sc = getattr(server, "scripting", None)
    if sc is None:
        install(server)
        sc = server.scripting
    return sc  # type: ignore[no-any-return]


__all__ = ["AVAILABLE", "install", "get"]
