"""Optional compiled modules (built by Cython when the package is installed with it).

Two kinds exist: Python modules that Cython also compiles (``compiled``: the same
source either way) and Cython-only helpers (``optional``: None without a build).
``KAA_NO_ACCEL=1`` in the environment turns all of them off, so the tests can run
the pure-Python code on a machine that built them.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import sys
from importlib.machinery import EXTENSION_SUFFIXES
from types import ModuleType

DISABLED = os.environ.get("KAA_NO_ACCEL", "") not in ("", "0")


def compiled(name: str) -> ModuleType:
    """Import the module ``name``: its compiled build where one was made (the import
    system prefers it), its Python source when the accelerators are off."""
    if not DISABLED or name in sys.modules:
        return importlib.import_module(name)
    package, _, leaf = name.rpartition(".")
    path = os.path.join(os.path.dirname(importlib.import_module(package).__file__ or ""), leaf + ".py")
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def optional(name: str) -> ModuleType | None:
    """Import a Cython-only module, or None where it was not built or is turned off."""
    if DISABLED:
        return None
    try:
        return importlib.import_module(name)
    except ImportError:
        return None


def is_compiled(module: ModuleType) -> bool:
    """Whether ``module`` was loaded from a compiled build."""
    return (module.__file__ or "").endswith(tuple(EXTENSION_SUFFIXES))
