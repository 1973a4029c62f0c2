"""CLIENT TRACKING / CACHING / GETREDIR / TRACKINGINFO (networking.c's clientCommand).

The tracking state and the invalidation machinery live in ``kaa.server.tracking``.
"""

from __future__ import annotations

from typing import Any

from kaa.commands.args import ERR_SYNTAX, parse_int
from kaa.commands.registry import subcommand
from kaa.protocol.reply import OK, Raw, ReplyError

_FLAGS = "noscript loading stale sentinel"


@subcommand("client", "tracking", -3, _FLAGS, "connection", group="connection", since="6.0.0",
            summary="Controls server-assisted client-side caching for the connection.",
            complexity="O(1). Some options may introduce additional complexity.")
def client_tracking(c: Any, argv: list[bytes]) -> Any:
    srv = c.server
    redirect = 0
    bcast = optin = optout = noloop = False
    prefixes: list[bytes] = []
    n = len(argv)
    j = 3
    while j < n:
        opt = argv[j].lower()
        more = n - 1 - j
        if opt == b"redirect" and more:
            j += 1
            if redirect:
                raise ReplyError("ERR A client can only redirect to a single other client")
            redirect = parse_int(argv[j])
            if redirect not in srv.clients:
                raise ReplyError("ERR The client ID you want redirect to does not exist")
        elif opt == b"bcast":
            bcast = True
        elif opt == b"optin":
            optin = True
        elif opt == b"optout":
            optout = True
        elif opt == b"noloop":
            noloop = True
        elif opt == b"prefix" and more:
            j += 1
            prefixes.append(argv[j])
        else:
            raise ERR_SYNTAX
        j += 1
    onoff = argv[2].lower()
    tr = srv.tracking
    if onoff == b"on":
        st = c.tracking
        if not bcast and prefixes:
            raise ReplyError("ERR PREFIX option requires BCAST mode to be enabled")
        if st is not None and st.bcast != bcast:
            raise ReplyError(
                "ERR You can't switch BCAST mode on/off before disabling tracking for this "
                "client, and then re-enabling it with a different mode.")
        if bcast and (optin or optout):
            raise ReplyError("ERR OPTIN and OPTOUT are not compatible with BCAST")
        if optin and optout:
            raise ReplyError("ERR You can't specify both OPTIN mode and OPTOUT mode")
        if st is not None and ((optin and st.optout) or (optout and st.optin)):
            raise ReplyError(
                "ERR You can't switch OPTIN/OPTOUT mode before disabling tracking for this "
                "client, and then re-enabling it with a different mode.")
        if bcast:
            err = tr.prefix_collision(c, prefixes)
            if err is not None:
                raise err
        tr.enable(c, redirect, bcast, optin, optout, noloop, prefixes)
    elif onoff == b"off":
        tr.disable(c)
    else:
        raise ERR_SYNTAX
    return OK


@subcommand("client", "caching", 3, _FLAGS, "connection", group="connection", since="6.0.0",
            summary="Instructs the server whether to track the keys in the next request.",
            complexity="O(1)")
def client_caching(c: Any, argv: list[bytes]) -> Any:
    st = c.tracking
    if st is None:
        raise ReplyError("ERR CLIENT CACHING can be called only when the client is in tracking "
                         "mode with OPTIN or OPTOUT mode enabled")
    opt = argv[2].lower()
    if opt == b"yes":
        if not st.optin:
            raise ReplyError(
                "ERR CLIENT CACHING YES is only valid when tracking is enabled in OPTIN mode.")
    elif opt == b"no":
        if not st.optout:
            raise ReplyError(
                "ERR CLIENT CACHING NO is only valid when tracking is enabled in OPTOUT mode.")
    else:
        raise ERR_SYNTAX
    st.caching = True
    return OK


@subcommand("client", "getredir", 2, _FLAGS, "connection", group="connection", since="6.0.0",
            summary="Returns the client ID to which the connection's tracking notifications "
                    "are redirected.", complexity="O(1)")
def client_getredir(c: Any, argv: list[bytes]) -> Any:
    st = c.tracking
    return st.redirect if st is not None else -1


def _ordered_set(resp: int, items: list[bytes]) -> Raw:
    """A RESP3 set (RESP2 array) that keeps the given order."""
    head = b"~%d\r\n" if resp == 3 else b"*%d\r\n"
    return Raw(head % len(items) + b"".join(b"$%d\r\n%s\r\n" % (len(i), i) for i in items))


@subcommand("client", "trackinginfo", 2, _FLAGS, "connection", group="connection",
            since="6.2.0",
            summary="Returns information about server-assisted client-side caching for the "
                    "connection.", complexity="O(1)")
def client_trackinginfo(c: Any, argv: list[bytes]) -> Any:
    st = c.tracking
    if st is None:
        return {b"flags": _ordered_set(c.resp, [b"off"]), b"redirect": -1, b"prefixes": []}
    return {
        b"flags": _ordered_set(c.resp, st.flag_names()),
        b"redirect": st.redirect,
        b"prefixes": sorted(st.prefixes),
    }
