# C types for plain_loop.py's hot locals when Cython compiles it (an augmenting .pxd:
# the .py stays the one source of the loop).
import cython

@cython.locals(entries=dict, pending_push=list, ready_keys=dict, argv=list, entry=tuple, n=Py_ssize_t,
               na=Py_ssize_t, arity=Py_ssize_t, calls=Py_ssize_t, usec="long long", t0="long long",
               t1="long long", dur="long long", slow_watch="long long", latency_small=list)
cpdef tuple run_plain(object c, object srv, tuple ctx, list out, list cmds, Py_ssize_t i)
