"""``kaa-check-rdb FILE``: validate an RDB file and say where and why it is corrupt,
in the manner of valkey-check-rdb."""

from __future__ import annotations

import sys
from typing import TextIO

from kaa.persistence.rdb import RdbContents, iter_load
from kaa.persistence.rdb_format import RdbError


def check(path: str, out: TextIO | None = None) -> int:
    stream = out if out is not None else sys.stdout

    def say(msg: str) -> None:
        print(msg, file=stream)

    say(f"[offset 0] Checking RDB file {path}")
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError as e:
        say(f"Cannot open file {path}: {e.strerror}")
        return 1
    contents = RdbContents()
    keys = expires = 0
    kinds: dict[str, int] = {}
    last_key = b""
    try:
        for lk in iter_load(data, contents):
            keys += 1
            last_key = lk.key
            kinds[lk.kind] = kinds.get(lk.kind, 0) + 1
            if lk.expire_ms is not None:
                expires += 1
    except RdbError as e:
        say("--- RDB ERROR DETECTED ---")
        say(f"[additional info] {e}")
        if last_key:
            say(f"[additional info] Last key read: '{last_key.decode('utf-8', 'replace')}'")
        say(f"[info] {keys} keys read")
        say(f"[info] {expires} expires")
        return 1
    for k, v in contents.aux.items():
        say(f"[info] AUX FIELD {k.decode('utf-8', 'replace')} = '{v.decode('utf-8', 'replace')}'")
    say("\\o/ RDB looks OK! \\o/")
    say(f"[info] {keys} keys read")
    say(f"[info] {expires} expires")
    for kind, n in sorted(kinds.items()):
        say(f"[info] {n} keys of type {kind}")
    return 0


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1 or args[0] in ("-h", "--help"):
        print("Usage: kaa-check-rdb <rdb-file-name>", file=sys.stderr)
        return 1
    return check(args[0])


if __name__ == "__main__":
    sys.exit(main())
