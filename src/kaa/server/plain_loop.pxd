# C types for plain_loop.py's hot locals when Cython compiles it (an augmenting .pxd:
# the .py stays the one source of the loop).
import cython

@cython.locals(commands=dict, out=list, argv=list, n=Py_ssize_t, start=Py_ssize_t, na=Py_ssize_t, arity=Py_ssize_t,
               calls=Py_ssize_t, usec="long long", t0="long long", t1="long long",
               dur="long long", slow_watch="long long")
cpdef Py_ssize_t run_plain(object c, list cmds, Py_ssize_t i) except -1
