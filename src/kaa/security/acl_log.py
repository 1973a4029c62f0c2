"""The ACL security log (ACL LOG): denied commands, keys, channels and failed AUTHs.

Like Valkey, a new event that looks like one of the 10 most recent entries (same
reason, context, object and user, within 60 seconds) bumps that entry's count and
moves it to the head instead of adding a line, so a brute-force attack costs one
entry, not one per attempt.
"""

from __future__ import annotations

REASON_CMD = "command"
REASON_KEY = "key"
REASON_AUTH = "auth"
REASON_CHANNEL = "channel"

CTX_TOPLEVEL = "toplevel"
CTX_MULTI = "multi"
CTX_LUA = "lua"
CTX_MODULE = "module"

_GROUPING_MAX_DELTA_MS = 60000
_SCAN_FOR_DUPLICATES = 10


class AclLogEntry:
    __slots__ = ("count", "reason", "context", "object", "username", "ctime", "cinfo",
                 "entry_id", "created")

    def __init__(self, reason: str, context: str, obj: bytes, username: str, ctime: int,
                 cinfo: str, entry_id: int) -> None:
        self.count = 1
        self.reason = reason
        self.context = context
        self.object = obj
        self.username = username
        self.ctime = ctime  # ms of the last update
        self.cinfo = cinfo
        self.entry_id = entry_id
        self.created = ctime

    def similar(self, other: AclLogEntry) -> bool:
        return (self.reason == other.reason and self.context == other.context
                and abs(self.ctime - other.ctime) <= _GROUPING_MAX_DELTA_MS
                and self.object == other.object and self.username == other.username)


class AclLog:
    """Entries newest first; ``entry_id`` counts distinct entries ever created."""

    def __init__(self) -> None:
        self.entries: list[AclLogEntry] = []
        self.next_id = 0

    def add(self, reason: str, context: str, obj: bytes, username: str, cinfo: str,
            now_ms: int, maxlen: int) -> None:
        if maxlen == 0:
            self.entries.clear()
            return
        new = AclLogEntry(reason, context, obj, username, now_ms, cinfo, self.next_id)
        entries = self.entries
        for i in range(min(_SCAN_FOR_DUPLICATES, len(entries))):
            old = entries[i]
            if old.similar(new):
                del entries[i]
                entries.insert(0, old)
                old.cinfo = cinfo
                old.ctime = now_ms
                old.count += 1
                return
        self.next_id += 1
        entries.insert(0, new)
        if len(entries) > maxlen:
            del entries[maxlen:]

    def reset(self) -> None:
        self.entries.clear()

    def reply(self, count: int, now_ms: int) -> list[dict[bytes, object]]:
        """ACL LOG [count]: the newest ``count`` entries as Valkey's 10-field maps."""
        out: list[dict[bytes, object]] = []
        for e in self.entries[:max(0, count)]:
            out.append({
                b"count": e.count,
                b"reason": e.reason.encode(),
                b"context": e.context.encode(),
                b"object": e.object,
                b"username": e.username.encode("utf-8", "surrogateescape"),
                b"age-seconds": (now_ms - e.ctime) / 1000,
                b"client-info": e.cinfo.encode("utf-8", "surrogateescape"),
                b"entry-id": e.entry_id,
                b"timestamp-created": e.created,
                b"timestamp-last-updated": e.ctime,
            })
        return out
