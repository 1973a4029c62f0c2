"""Optional compiled accelerators (see docs/ARCHITECTURE.md, "Compiled parts").

Everything else about the package is declared in pyproject.toml. The extensions
are optional: where Cython or a C compiler is missing, the install still succeeds
and Kaa runs on its pure-Python (and hiredis) paths, which pass the same tests.
"""

from setuptools import Extension, setup

ACCELERATORS = [
    Extension("kaa.protocol._multibulk", ["src/kaa/protocol/_multibulk.pyx"], optional=True),
    Extension("kaa.types._hllhash", ["src/kaa/types/_hllhash.pyx"], optional=True),
    # The same source as the pure-Python module; conn_core.pxd gives its C types.
    Extension("kaa.server.conn_core", ["src/kaa/server/conn_core.py"], optional=True),
]

ext_modules: list[Extension] = []
try:
    from Cython.Build import cythonize

    # Type annotations stay Python's: the .pxd files give the C types.
    ext_modules = cythonize(ACCELERATORS, quiet=True,
                            compiler_directives={"annotation_typing": False})
except Exception as e:  # no Cython, or it failed: no accelerators
    print(f"kaa: building without compiled accelerators ({e!r})")
for ext in ext_modules:
    ext.optional = True  # a failed C compile must not fail the install

setup(ext_modules=ext_modules)
