"""Coverage-guided fuzzing of the request parsers with atheris (libFuzzer).

Not run by pytest. Checks, on every input, what tests/test_protocol_fuzz.py checks
with hypothesis: the hiredis-based parser and the pure one agree on commands, error
and unparsed bytes, fed at once or in the chunks the input's first bytes choose.

    .venv/bin/pip install atheris
    .venv/bin/python fuzz/fuzz_request_parsers.py -dict=fuzz/request.dict -max_total_time=60 [corpus_dir]
"""

from __future__ import annotations

import sys

import atheris

with atheris.instrument_imports():
    from kaa.protocol.fast_request import FastRequestParser
    from kaa.protocol.request import RequestParser


def _run(cls: type, chunks: list[bytes], auth: bool) -> tuple:
    p = cls(1 << 20)
    p.authenticated = auth
    cmds: list[list[bytes]] = []
    for c in chunks:
        cmds += p.feed(c)
        while p.held and p.error is None:
            cmds += p.feed(b"")
        if p.error is not None:
            break
    return cmds, p.error, None if p.error else p.pending_bytes()


def test_one_input(data: bytes) -> None:
    fdp = atheris.FuzzedDataProvider(data)
    auth = fdp.ConsumeBool()
    ncuts = fdp.ConsumeIntInRange(0, 4)
    cuts = sorted(fdp.ConsumeIntInRange(0, 255) for _ in range(ncuts))
    body = fdp.ConsumeBytes(fdp.remaining_bytes())
    chunks, prev = [], 0
    for c in cuts:
        c = min(c, len(body))
        chunks.append(body[prev:c])
        prev = max(prev, c)
    chunks.append(body[prev:])
    whole_pure = _run(RequestParser, [body], auth)
    whole_fast = _run(FastRequestParser, [body], auth)
    if whole_pure != whole_fast:
        raise AssertionError(("one-shot", body, whole_pure, whole_fast))
    split_pure = _run(RequestParser, chunks, auth)
    split_fast = _run(FastRequestParser, chunks, auth)
    if split_pure != split_fast:
        raise AssertionError(("split", chunks, split_pure, split_fast))
    if split_pure[:2] != whole_pure[:2] and whole_pure[1] is None and split_pure[1] is None:
        raise AssertionError(("split changed commands", chunks, whole_pure, split_pure))


def main() -> None:
    atheris.Setup(sys.argv, test_one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
