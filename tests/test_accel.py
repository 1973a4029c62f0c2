"""The optional compiled accelerators (kaa.accel): they load where the install built
them, and KAA_NO_ACCEL=1 runs the pure-Python sources instead (the other test files
run servers both ways: tests.support.servers.BUILDS)."""

from __future__ import annotations

import glob
import os
import subprocess
import sys
from pathlib import Path

import pytest

import kaa

PKG = Path(kaa.__file__).parent
PROBE = (
    "import sys, kaa.server.client as c, kaa.accel as a;"
    "from kaa.protocol.fast_request import FastRequestParser as F;"
    "import kaa.types.hyperloglog as h, kaa.protocol.reply as r;"
    "print(a.is_compiled(sys.modules['kaa.server.conn_core']), F.splitter is not None,"
    " h._compiled is not None, r.bulk_array is not r._bulk_array)"
)


def _probe(**env: str) -> str:
    out = subprocess.run([sys.executable, "-c", PROBE], env={**os.environ, **env},
                         capture_output=True, text=True, check=True)
    return out.stdout.strip()


def test_no_accel_runs_the_python_sources() -> None:
    assert _probe(KAA_NO_ACCEL="1") == "False False False False"


@pytest.mark.skipif(not glob.glob(str(PKG / "server" / "conn_core.*.so")),
                    reason="the install did not build the accelerators")
def test_built_accelerators_are_used() -> None:
    assert _probe(KAA_NO_ACCEL="0") == "True True True True"
