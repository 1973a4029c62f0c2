# C types for conn_core.py when Cython compiles it (an augmenting .pxd: the .py stays
# the one source). The classes become extension types with these fields as C members.
import cython

# conn_core.py's clock_ns and unix_time (time.perf_counter_ns and time.time) in C.
cdef extern from *:
    """
    #include <time.h>
    static long long kaa_clock_ns(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
    }
    static double kaa_unix_time(void) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
    }
    """
    long long clock_ns "kaa_clock_ns" () nogil
    double unix_time "kaa_unix_time" () nogil

cdef class ClientCore


cdef class LoopStats:
    cdef public long long cycles, el_sum, el_max, cron_sum, cmd_per_cycle_max, t0, cmds


cdef class CallStats:
    cdef public long long calls, usec


cdef class ServerCore:
    cdef public object loop, now, flush_cb, flush_context, current_client, monitors
    cdef public bint in_cycle, flush_scheduled, gate_in_batch, propagating
    cdef public LoopStats loop_stats
    cdef public list pending_flush, pending_push
    cdef public tuple plain_ctx

    cpdef begin_cycle(self)

    @cython.locals(c=ClientCore, st=LoopStats, dur="long long")
    cpdef flush_pending(self)


cdef class ClientCore:
    cdef public ServerCore server
    cdef public object parser, transport, transport_write, enc, pending, multi, tracking
    cdef public object obuf_limit, last_interaction, last_cmd
    cdef public list out
    cdef public bint blocked, paused, closing, close_after_reply, authenticated, pubsub_ctx
    cdef public int reply_mode
    cdef public long long tot_net_in, tot_net_out, tot_cmds

    @cython.locals(srv=ServerCore, n=Py_ssize_t, split_limit=Py_ssize_t, fed=bint, cmds=list,
                   end=Py_ssize_t, nc=Py_ssize_t, i=Py_ssize_t)
    cpdef data_received(self, data)

    @cython.locals(entries=dict, pending_push=list, ready_keys=dict, argv=list, entry=tuple,
                   n=Py_ssize_t, start=Py_ssize_t, na=Py_ssize_t, arity=Py_ssize_t,
                   calls=Py_ssize_t, usec="long long", t0="long long", t1="long long",
                   dur="long long", slow_watch="long long", latency_small=list,
                   stats=CallStats, last_stats=CallStats)
    cdef Py_ssize_t run_plain(self, ServerCore srv, list cmds, Py_ssize_t i) except -1

    cpdef flush(self)
