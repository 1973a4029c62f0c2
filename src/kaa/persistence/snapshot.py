"""The server's side of RDB: SAVE, BGSAVE in a forked child, save points, loading at
start-up (while serving ``-LOADING`` to clients), DEBUG RELOAD, the MISCONF write gate
and the counters INFO persistence and stats report.

Files are written as ``temp-<pid>.rdb`` in ``dir`` (mode 0600), fsynced and renamed
over ``dbfilename``, then the directory is fsynced: a crash at any moment leaves the
previous dump intact. A BGSAVE child reports its progress and copy-on-write size
through a pipe once a second (Valkey's child info pipe); the parent reaps it in the
cron, as serverCron's checkChildrenDone does.
"""

from __future__ import annotations

import asyncio
import gc
import os
import random
import signal
import struct
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, BinaryIO

from kaa.engine.keyspace import now_ms
from kaa.persistence.rdb import RdbContents, RdbFatal, RdbParser, Writer, default_aux
from kaa.persistence.rdb_format import RdbError, enc_len, enc_string, write_value
from kaa.persistence.values import from_neutral, to_rdb
from kaa.protocol.reply import ReplyError

if TYPE_CHECKING:
    from kaa.server.server import Server

BGSAVE_RETRY_DELAY = 5  # CONFIG_BGSAVE_RETRY_DELAY
AUTOSYNC_BYTES = 4 * 1024 * 1024  # REDIS_AUTOSYNC_BYTES (rdb-save-incremental-fsync)
# Child info messages: type, keys processed, cow bytes, cow updated (monotonic us).
_INFO = struct.Struct("<iqqq")
INFO_CURRENT = 0
INFO_RDB_COW = 2

LOADING_ERR = ReplyError("LOADING Valkey is loading the dataset in memory")
MISCONF_ERR = ReplyError(
    "MISCONF Valkey is configured to save RDB snapshots, but it's currently unable to persist to "
    "disk. Commands that may modify the data set are disabled, because this instance is "
    "configured to report errors during writes if RDB snapshotting fails "
    "(stop-writes-on-bgsave-error option). Please check the Valkey logs for details about the "
    "RDB error.")


def debug_delay(usec: int) -> None:
    """debugDelay: sleep usec microseconds; a negative value sleeps 1 us once in -usec calls."""
    if usec < 0:
        usec = 1 if random.randrange(-usec) == 0 else 0
    if usec:
        time.sleep(usec / 1e6)


def private_dirty_bytes() -> int:
    """zmalloc_get_private_dirty(-1): this process's Private_Dirty memory (its CoW cost
    when it is a forked child), 0 where /proc is not there."""
    try:
        with open("/proc/self/smaps_rollup", "rb") as f:
            for line in f:
                if line.startswith(b"Private_Dirty:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return 0


class _SyncFile:
    """A write-through file that fdatasyncs every 4 MB (rdb-save-incremental-fsync), so
    that the final fsync does not stall on a huge dirty page cache."""

    def __init__(self, f: BinaryIO, incremental: bool) -> None:
        self.f = f
        self.incremental = incremental
        self.pending = 0

    def write(self, data: bytes) -> int:
        n = self.f.write(data)
        if self.incremental:
            self.pending += len(data)
            if self.pending >= AUTOSYNC_BYTES:
                self.f.flush()
                os.fdatasync(self.f.fileno())
                self.pending = 0
        return n


class Persistence:
    def __init__(self, server: Server) -> None:
        self.server = server
        self.lastsave = int(time.time())
        self.last_bgsave_status = "ok"
        self.last_bgsave_time_sec = -1
        self.bgsave_start = -1
        self.last_save_attempt = 0
        self.child_pid = -1
        self.child_type = ""
        self.dirty_at_bgsave = 0
        self.bgsave_scheduled = False
        self.saves = 0
        # fork statistics (INFO stats)
        self.latest_fork_usec = 0
        self.total_forks = 0
        # child info (INFO persistence)
        self._info_fd = -1
        self._info_buf = b""
        self.cow_peak = 0
        self.cow_bytes = 0
        self.cow_updated = 0.0
        self.save_keys_processed = 0
        self.save_keys_total = 0
        self.last_cow_size = 0
        # loading
        self.loading = False
        self.loading_start = 0
        self.loading_total_bytes = 0
        self.loading_loaded_bytes = 0
        self.loading_rdb_used_mem = 0
        self.rdb_last_load_keys_expired = 0
        self.rdb_last_load_keys_loaded = 0
        self._misconf_gate_on = False
        # Another subsystem's child (AOF rewrite): () -> True while it runs.
        self.other_child_active: Callable[[], bool] | None = None
        self.functions_provider: Any = None  # set by scripting: () -> list[bytes] of library code
        self.functions_loader: Any = None  # set by scripting: (list[bytes]) -> None
        server.cron_hooks.append(lambda s: self.cron())

    # ---- paths ----------------------------------------------------------------
    def path(self) -> str:
        """dbfilename in dir (the server's working directory, as in Valkey)."""
        return os.path.join(os.getcwd(), self.server.config.dbfilename)

    # ---- writing ----------------------------------------------------------------
    def write_image(self, f: BinaryIO, report: Callable[[int], None] | None = None, *,
                    aof_base: bool = False, extra_aux: dict[bytes, bytes] | None = None) -> int:
        """The whole dataset as an RDB image (rdbSaveRio); returns the keys written.
        ``aof_base`` marks an AOF base file; ``extra_aux`` adds AUX fields (replication's
        repl-stream-db, repl-id, repl-offset). ``report(keys)`` is called every 1024 keys.

        Keys already expired are written too (the loader skips them), as Valkey does."""
        srv = self.server
        cfg = srv.config
        ks = srv.keyspace
        w = Writer(f, checksum=cfg.rdbchecksum, compress=cfg.rdbcompression)
        compress = w.compress
        w.header(default_aux(srv.used_memory(), aof_base, extra_aux))
        if self.functions_provider is not None:
            for code in self.functions_provider():
                w.function(code)
        policy = str(cfg.maxmemory_policy)
        save_lru = policy.endswith("-lru")
        save_lfu = policy.endswith("-lfu")
        depth = int(getattr(cfg, "list_compress_depth", 0))
        delay = int(getattr(cfg, "rdb_key_save_delay", 0))
        counter = 0
        put = w.w
        packq = struct.Struct("<q").pack
        for db in ks.dbs:
            data = db.data
            if not data:
                continue
            exp = db.expires
            w.select_db(db.id, len(data), len(exp) if exp else 0)
            for k, v in data.items():
                when = exp.get(k) if exp else None
                head = b"" if when is None else b"\xfc" + packq(when)
                if save_lru or save_lfu:
                    if save_lru:
                        head += b"\xf8" + enc_len(db.idle_seconds(k))
                    else:
                        head += bytes((249, db.lfu_freq(k)))
                tv = type(v)
                if tv is bytes or tv is bytearray:
                    put(head + b"\x00" + enc_string(k, compress) + enc_string(v, compress))
                else:
                    kind, neutral, enc = to_rdb(v)
                    if kind != "stream" and not neutral:
                        continue  # a hash whose fields all expired: nothing to save
                    t, payload = write_value(kind, neutral, compress, enc, depth)
                    put(head + bytes((t,)) + enc_string(k, compress) + payload)
                if delay:
                    debug_delay(delay)
                if report is not None and counter & 1023 == 0:
                    report(counter + 1)
                counter += 1
        w.finish()
        return counter

    def save_file(self, path: str | None = None, report: Callable[[int], None] | None = None) -> None:
        """Write the dataset atomically (temp file, fsync, rename, fsync dir); OSError
        (after logging Valkey's message) on failure, the temp file removed."""
        srv = self.server
        final = path or self.path()
        tmpname = f"temp-{os.getpid()}.rdb"
        tmp = os.path.join(os.path.dirname(final) or ".", tmpname)
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        except OSError as e:
            srv.log_warning(f"Failed opening the temp RDB file {tmpname} (in server root dir {_cwd()}) "
                            f"for saving: {e.strerror}")
            raise
        op = "rdbSaveRio"
        try:
            with os.fdopen(fd, "wb", buffering=1 << 16) as f:
                self.write_image(_SyncFile(f, srv.config.rdb_save_incremental_fsync), report)  # type: ignore[arg-type]
                op = "fflush"
                f.flush()
                op = "fsync"
                os.fsync(f.fileno())
                op = "fclose"
        except OSError as e:
            srv.log_warning(f"Write error while saving DB to the disk({op}): {e.strerror}")
            _unlink(tmp)
            raise
        except BaseException:
            _unlink(tmp)
            raise
        try:
            os.replace(tmp, final)
        except OSError as e:
            srv.log_warning(f"Error moving temp DB file {tmpname} on the final destination "
                            f"{os.path.basename(final)} (in server root dir {_cwd()}): {e.strerror}")
            _unlink(tmp)
            raise
        try:
            dfd = os.open(os.path.dirname(final) or ".", os.O_RDONLY)
            try:
                os.fsync(dfd)
            finally:
                os.close(dfd)
        except OSError as e:
            srv.log_warning(f"Failed to fsync directory while saving DB: {e.strerror}")
            raise

    def rdb_save(self) -> bool:
        """rdbSave in the foreground (SAVE, SHUTDOWN, FLUSHALL, DEBUG RELOAD). True on success."""
        srv = self.server
        try:
            self.save_file()
        except OSError:
            return False
        srv.log_notice("DB saved on disk")
        srv.keyspace.dirty = 0
        self.lastsave = int(time.time())
        self._set_status(True)
        return True

    def save(self) -> bool:
        """The foreground save that SHUTDOWN and others use (kept for callers)."""
        return self.rdb_save()

    def save_command(self) -> None:
        """SAVE: ReplyError if refused or failed."""
        if self.child_type == "rdb":
            raise ReplyError("ERR Background save already in progress")
        self.saves += 1
        if not self.rdb_save():
            raise ReplyError("ERR")

    # ---- background save ----------------------------------------------------------------
    def has_active_child(self) -> bool:
        if self.child_pid != -1:
            return True
        other = self.other_child_active
        return bool(other is not None and other())

    def child_running(self) -> bool:
        return self.has_active_child()

    def bgsave(self) -> int:
        """rdbSaveBackground: fork a child that writes the snapshot; its pid, or -1 if
        a child is already active or fork failed."""
        srv = self.server
        if self.has_active_child():
            return -1
        self.saves += 1
        self.dirty_at_bgsave = srv.keyspace.dirty
        self.last_save_attempt = int(time.time())
        try:
            rfd, wfd = os.pipe()
        except OSError:
            rfd = wfd = -1
        total = sum(len(db.data) for db in srv.keyspace.dbs)
        t0 = time.perf_counter()
        try:
            pid = os.fork()
        except OSError as e:
            for fd in (rfd, wfd):
                if fd != -1:
                    os.close(fd)
            self._set_status(False)
            srv.log_warning(f"Can't save in background: fork: {e.strerror}")
            return -1
        if pid == 0:
            if rfd != -1:
                os.close(rfd)
            self._child_main(wfd)  # never returns
        self.latest_fork_usec = int((time.perf_counter() - t0) * 1e6)
        self.total_forks += 1
        if wfd != -1:
            os.close(wfd)
            os.set_blocking(rfd, False)
        self._info_fd = rfd
        self._info_buf = b""
        self.child_pid = pid
        self.child_type = "rdb"
        self.bgsave_start = int(time.time())
        self.save_keys_total = total
        self.save_keys_processed = 0
        self.cow_bytes = self.cow_peak = 0
        self.cow_updated = 0.0
        mon = getattr(srv, "latency_monitor", None)
        if mon is not None:
            mon.add_if_needed("fork", self.latest_fork_usec // 1000)
        srv.log_notice(f"Background saving started by pid {pid}")
        return pid

    def _child_main(self, info_fd: int) -> None:
        """The forked child: write the file, report, exit (never returns)."""
        code = 1
        try:
            gc.disable()  # a collection would touch (and copy) every object
            for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGUSR1, signal.SIGHUP):
                try:
                    signal.signal(sig, signal.SIG_DFL)
                except (OSError, ValueError):
                    pass
            try:
                signal.set_wakeup_fd(-1)
            except (OSError, ValueError):
                pass
            srv = self.server
            srv.role = "C"
            self._close_listeners_in_child()
            if getattr(getattr(srv, "debug", None), "pause_after_fork", False):
                os.kill(os.getpid(), signal.SIGSTOP)  # DEBUG PAUSE-AFTER-FORK: wait for SIGCONT
            last = [0.0]
            peak = [0]

            def report(keys: int) -> None:
                now = time.monotonic()
                if now - last[0] < 1.0:
                    return
                last[0] = now
                cow = private_dirty_bytes()
                peak[0] = max(peak[0], cow)
                _send_info(info_fd, INFO_CURRENT, keys, cow)

            self.save_file(report=report)
            srv.log_notice("DB saved on disk")
            cow = private_dirty_bytes()
            peak[0] = max(peak[0], cow)
            srv.log_notice(f"Fork CoW for RDB: current {cow >> 20} MB, peak {peak[0] >> 20} MB, "
                           f"average {cow >> 20} MB")
            _send_info(info_fd, INFO_RDB_COW, 0, cow)
            code = 0
        except BaseException as e:  # noqa: BLE001 - the child must always exit
            try:
                if not isinstance(e, OSError):
                    self.server.log_warning(f"Write error saving DB on disk: {e}")
            except BaseException:  # noqa: BLE001
                pass
        finally:
            os._exit(code)

    def _close_listeners_in_child(self) -> None:
        """closeChildUnusedResourceAfterFork: the child must not keep the port bound."""
        for s in getattr(self.server, "servers", ()):
            for sock in getattr(s, "sockets", ()) or ():
                try:
                    os.close(sock.fileno())
                except OSError:
                    pass

    def _receive_child_info(self) -> None:
        fd = self._info_fd
        if fd == -1:
            return
        try:
            while True:
                chunk = os.read(fd, 4096)
                if not chunk:
                    break
                self._info_buf += chunk
        except BlockingIOError:
            pass
        except OSError:
            return
        buf = self._info_buf
        size = _INFO.size
        while len(buf) >= size:
            kind, keys, cow, _upd = _INFO.unpack_from(buf, 0)
            buf = buf[size:]
            self.cow_peak = max(self.cow_peak, cow)
            if kind == INFO_CURRENT:
                self.cow_bytes = cow
                self.cow_updated = time.monotonic()
                self.save_keys_processed = keys
            elif kind == INFO_RDB_COW:
                self.last_cow_size = self.cow_peak
        self._info_buf = buf

    def _close_info_pipe(self) -> None:
        if self._info_fd != -1:
            try:
                os.close(self._info_fd)
            except OSError:
                pass
        self._info_fd = -1
        self._info_buf = b""

    def cron(self) -> None:
        srv = self.server
        if self.loading:
            return
        if self.child_pid != -1:
            self._receive_child_info()
            try:
                pid, status = os.waitpid(self.child_pid, os.WNOHANG)
            except ChildProcessError:
                pid, status = self.child_pid, 1 << 8
            if pid != 0:
                self._receive_child_info()
                if os.WIFSIGNALED(status):
                    self._child_done(0, os.WTERMSIG(status))
                else:
                    self._child_done(os.WEXITSTATUS(status), 0)
            return
        if self.has_active_child():
            return
        now = int(time.time())
        if self.bgsave_scheduled and (now - self.last_save_attempt > BGSAVE_RETRY_DELAY
                                      or self.last_bgsave_status == "ok"):
            if self.bgsave() != -1:
                self.bgsave_scheduled = False
            return
        params = srv.config.save
        if not params:
            return
        dirty = srv.keyspace.dirty
        for secs, changes in params:
            if dirty >= changes and now - self.lastsave > secs and (
                now - self.last_save_attempt > BGSAVE_RETRY_DELAY or self.last_bgsave_status == "ok"
            ):
                srv.log_notice(f"{changes} changes in {secs} seconds. Saving...")
                self.bgsave()
                break

    def _child_done(self, exitcode: int, bysignal: int) -> None:
        """backgroundSaveDoneHandlerDisk and resetChildState."""
        srv = self.server
        pid = self.child_pid
        end = int(time.time())
        if not bysignal and exitcode == 0:
            srv.log_notice("Background saving terminated with success")
            srv.keyspace.dirty = max(0, srv.keyspace.dirty - self.dirty_at_bgsave)
            self.lastsave = end
            self._set_status(True)
        elif not bysignal:
            srv.log_warning("Background saving error")
            self._set_status(False)
        else:
            srv.log_warning(f"Background saving terminated by signal {bysignal}")
            _unlink(f"temp-{pid}.rdb")
            # SIGUSR1 is how the server itself stops a child: not an error.
            if bysignal != signal.SIGUSR1:
                self._set_status(False)
        self.last_bgsave_time_sec = end - self.bgsave_start
        self.bgsave_start = -1
        self.child_pid = -1
        self.child_type = ""
        self._close_info_pipe()
        self.cow_peak = self.cow_bytes = 0
        self.cow_updated = 0.0
        self.save_keys_processed = self.save_keys_total = 0

    def kill_child(self, wait: bool = True) -> None:
        """killRDBChild: SIGUSR1, which does not count as a failed save. With wait (SHUTDOWN,
        FLUSHALL) the child is reaped and its temp file removed at once, else the cron
        does it when the child is gone."""
        pid = self.child_pid
        if pid == -1 or self.child_type != "rdb":
            return
        try:
            os.kill(pid, signal.SIGUSR1)
        except OSError:
            pass
        if not wait:
            return
        try:
            _, status = os.waitpid(pid, 0)
        except OSError:
            status = signal.SIGUSR1
        self._receive_child_info()
        if os.WIFEXITED(status):
            self._child_done(os.WEXITSTATUS(status), 0)
        else:
            self._child_done(0, os.WTERMSIG(status) if os.WIFSIGNALED(status) else signal.SIGUSR1)

    def cancel_bgsave(self) -> str:
        """BGSAVE CANCEL (Valkey 8.1): the status reply, ReplyError if nothing to cancel."""
        srv = self.server
        if self.child_type == "rdb":
            srv.log_notice("Background saving will be aborted due to user request")
            self.kill_child(wait=False)
            return "Background saving cancelled"
        if self.bgsave_scheduled:
            srv.log_notice("Scheduled background saving will be cancelled due to user request")
            self.bgsave_scheduled = False
            return "Scheduled background saving cancelled"
        raise ReplyError("ERR Background saving is currently not in progress or scheduled")

    def bgsave_command(self, schedule: bool, in_exec: bool) -> str:
        """BGSAVE [SCHEDULE]: the status reply, ReplyError when refused."""
        srv = self.server
        if self.child_type == "rdb":
            raise ReplyError("ERR Background save already in progress")
        if self.has_active_child() or in_exec:
            if schedule or in_exec:
                self.bgsave_scheduled = True
                srv.log_notice("Background saving scheduled due to user request" if schedule else
                               "Background saving scheduled to run after transaction execution")
                return "Background saving scheduled"
            raise ReplyError(
                "ERR Another child process is active (AOF?): can't BGSAVE right now. Use BGSAVE "
                "SCHEDULE in order to schedule a BGSAVE whenever possible.")
        if self.bgsave() == -1:
            raise ReplyError("ERR")
        return "Background saving started"

    def flushall_reset(self) -> None:
        """flushAllDataAndResetRDB's RDB part, after FLUSHALL emptied the keyspace: stop a
        running BGSAVE and, when save points are set, save the empty dataset."""
        if self.child_type == "rdb":
            self.kill_child(wait=False)
        if self.server.config.save:
            self.rdb_save()

    # ---- the MISCONF gate ------------------------------------------------------------------
    def _set_status(self, ok: bool) -> None:
        self.last_bgsave_status = "ok" if ok else "err"
        srv = self.server
        if ok == (not self._misconf_gate_on):
            return
        if ok:
            if self._misconf_gate in srv.gates:
                srv.gates.remove(self._misconf_gate)
            self._misconf_gate_on = False
        else:
            srv.gates.append(self._misconf_gate)
            self._misconf_gate_on = True
        srv.refresh_gate()

    def disk_error(self) -> bool:
        """writeCommandsDeniedByDiskError for the RDB: a failed bgsave with save points set
        and stop-writes-on-bgsave-error on."""
        cfg = self.server.config
        return self.last_bgsave_status == "err" and bool(cfg.stop_writes_on_bgsave_error) and bool(cfg.save)

    def _misconf_gate(self, c: Any, cmd: Any, argv: list[bytes]) -> ReplyError | None:
        if not self.disk_error() or getattr(c, "is_master", False):
            return None
        if cmd.is_write or (cmd.name == "ping" and cmd.parent is None):
            return MISCONF_ERR
        if cmd.name == "exec" and cmd.parent is None and c.multi and any(q.is_write for q, _ in c.multi):
            return MISCONF_ERR
        return None

    # ---- loading ----------------------------------------------------------------
    def _loading_gate(self, c: Any, cmd: Any, argv: list[bytes]) -> ReplyError | None:
        if "loading" in cmd.flags:
            if cmd.name == "exec" and cmd.parent is None and c.multi and any("loading" not in q.flags for q, _ in c.multi):
                return LOADING_ERR
            return None
        return LOADING_ERR

    def _start_loading(self, size: int, gate: bool) -> None:
        srv = self.server
        self.loading = True
        srv.loading = True
        self.loading_start = int(time.time())
        self.loading_total_bytes = size
        self.loading_loaded_bytes = 0
        self.loading_rdb_used_mem = 0
        self.rdb_last_load_keys_expired = 0
        self.rdb_last_load_keys_loaded = 0
        if gate:
            srv.gates.append(self._loading_gate)
            srv.refresh_gate()

    def _stop_loading(self) -> None:
        srv = self.server
        self.loading = False
        srv.loading = False
        if self._loading_gate in srv.gates:
            srv.gates.remove(self._loading_gate)
            srv.refresh_gate()

    def _aux_logger(self, k: bytes, v: bytes) -> None:
        """rdbLoadRio's handling of the AUX fields it knows."""
        srv = self.server
        key = k.lower()
        text = v.decode("utf-8", "replace")
        if k[:1] == b"%":
            srv.log_notice(f"RDB '{k.decode('utf-8', 'replace')}': {text}")
        elif key == b"redis-ver":
            srv.log_notice(f"Loading RDB produced by Redis version {text}")
        elif key == b"valkey-ver":
            srv.log_notice(f"Loading RDB produced by Valkey version {text}")
        elif key == b"ctime":
            srv.log_notice(f"RDB age {max(0, int(time.time()) - _strtol(v))} seconds")
        elif key == b"used-mem":
            used = _strtol(v)
            srv.log_notice(f"RDB memory usage when created {used / (1024 * 1024):.2f} Mb")
            self.loading_rdb_used_mem = used
        elif key == b"aof-preamble" and _strtol(v):
            srv.log_notice("RDB has an AOF tail")
        elif key == b"aof-base" and _strtol(v):
            srv.log_notice("RDB is base AOF")

    def _parser(self, data: bytes) -> RdbParser:
        srv = self.server
        skip = getattr(getattr(srv, "debug", None), "skip_checksum_validation", False)
        return RdbParser(data, ndbs=len(srv.keyspace.dbs), verify_crc=bool(srv.config.rdbchecksum) and not skip,
                         aux_hook=self._aux_logger)

    class _Applier:
        """Adds loaded keys to the keyspace as rdbLoadRio does: expired keys skipped on a
        primary, empty collections skipped, IDLE/FREQ applied to the access clocks."""

        def __init__(self, p: Persistence, allow_dup: bool) -> None:
            srv = p.server
            self.p = p
            self.ks = srv.keyspace
            self.dbs = srv.keyspace.dbs
            self.cfg = srv.config
            self.now = now_ms()
            self.primary = srv.role != "S"
            self.allow_dup = allow_dup
            self.lfu = self.ks.lfu_policy
            self.minutes = self.ks.lfu_minutes()
            self.empty_skipped = 0

        def add(self, lk: Any) -> None:
            p = self.p
            when = lk.expire_ms
            if when is not None and when < self.now and self.primary:
                p.rdb_last_load_keys_expired += 1
                return
            value = lk.value if lk.kind == "string" else from_neutral(lk.kind, lk.value, self.cfg, lk.enc)
            if value is None:
                self.empty_skipped += 1
                if self.empty_skipped <= 10:
                    p.server.log_notice(
                        f"rdbLoadObject skipping empty key: {lk.key.decode('utf-8', 'replace')}")
                return
            db = self.dbs[lk.db]
            key = lk.key
            data = db.data
            if key in data:
                if not self.allow_dup:
                    p.server.log_warning(
                        f"RDB has duplicated key '{key.decode('utf-8', 'replace')}' in DB {lk.db}")
                    raise RdbFatal("Duplicated key found in RDB file")
                db.delete(key)
            data[key] = value
            p.rdb_last_load_keys_loaded += 1
            if when is not None:
                db.set_expire(key, when)
            # objectSetLRUOrLFU
            if self.lfu:
                if lk.freq is not None:
                    db.lfu[key] = (self.minutes << 8) | lk.freq
            elif lk.idle is not None:
                db.atime[key] = self.ks.clock - lk.idle * 1000

    def _done_log(self, empty: int) -> None:
        srv = self.server
        if empty:
            srv.log_notice(f"Done loading RDB, keys loaded: {self.rdb_last_load_keys_loaded}, keys expired: "
                           f"{self.rdb_last_load_keys_expired}, empty keys skipped: {empty}.")
        else:
            srv.log_notice(f"Done loading RDB, keys loaded: {self.rdb_last_load_keys_loaded}, keys expired: "
                           f"{self.rdb_last_load_keys_expired}.")

    def _load_functions(self, contents: RdbContents) -> None:
        if contents.functions and self.functions_loader is not None:
            self.functions_loader(contents.functions)

    async def load_startup(self) -> bool:
        """loadDataFromDisk for the RDB: load dbfilename while the event loop keeps
        serving (clients get -LOADING), yielding every loading-process-events-interval-bytes.
        False (after logging Valkey's messages) if the server must exit."""
        srv = self.server
        path = self.path()
        t0 = time.time()
        try:
            with open(path, "rb") as f:
                data = f.read()
        except FileNotFoundError:
            return True
        except OSError as e:
            srv.log_warning(f"Fatal error: can't open the RDB file {srv.config.dbfilename} for reading: "
                            f"{e.strerror}")
            srv.log_warning("Fatal error loading the DB, check server logs. Exiting.")
            return False
        self._start_loading(len(data), gate=True)
        gc_was = gc.isenabled()
        gc.disable()  # loaded values hold no cycles: collections would only rescan them
        cfg = srv.config
        parser = self._parser(data)
        r = parser.reader
        applier = self._Applier(self, allow_dup=False)
        add = applier.add
        funcs_seen = 0
        next_log = time.monotonic() + 5.0
        try:
            interval = max(1024, int(getattr(cfg, "loading_process_events_interval_bytes", 2 << 20)))
            next_yield = interval
            for lk in parser.keys():
                if len(parser.contents.functions) != funcs_seen:
                    self._load_functions_new(parser.contents, funcs_seen)
                    funcs_seen = len(parser.contents.functions)
                add(lk)
                delay = cfg.key_load_delay
                if delay:
                    debug_delay(delay)
                if r.pos >= next_yield:
                    self.loading_loaded_bytes = r.pos
                    next_yield = r.pos + interval
                    if time.monotonic() >= next_log:
                        next_log = time.monotonic() + 5.0
                        srv.log_notice(f"Loading RDB: {100.0 * r.pos / max(1, len(data)):.2f}% "
                                       f"({r.pos} of {len(data)} bytes, "
                                       f"{self.rdb_last_load_keys_loaded} keys)")
                    await asyncio.sleep(0)
            if len(parser.contents.functions) != funcs_seen:
                self._load_functions_new(parser.contents, funcs_seen)
            self.loading_loaded_bytes = len(data)
        except RdbFatal as e:
            srv.log_warning(str(e).rstrip("\n"))
            srv.log_warning("Fatal error loading the DB, check server logs. Exiting.")
            return False
        except RdbError as e:
            self._report_corruption(e, r.pos, path)
            return False
        finally:
            self._stop_loading()
            if gc_was:
                gc.enable()
        if parser.contents.checksum_disabled and cfg.rdbchecksum:
            srv.log_notice("RDB file was saved with checksum disabled: no check performed.")
        self._done_log(applier.empty_skipped)
        srv.log_notice(f"DB loaded from disk: {time.time() - t0:.3f} seconds")
        return True

    def _load_functions_new(self, contents: RdbContents, start: int) -> None:
        if self.functions_loader is not None:
            self.functions_loader(contents.functions[start:])

    def _report_corruption(self, e: RdbError, offset: int, path: str) -> None:
        """rdbReportError for a file: the reason, valkey-check-rdb's report, exit."""
        srv = self.server
        msg = str(e)
        if msg.startswith("Wrong RDB checksum"):
            srv.log_warning(msg)
            msg = "RDB CRC error"
        elif e.short:
            srv.log_warning("Short read or OOM loading DB. Unrecoverable error, aborting now.")
        srv.log_warning(f"Internal error in RDB reading offset {offset}, function at rdb.c:0 -> {msg}")
        try:
            import io

            from kaa.cli.check_rdb import check

            out = io.StringIO()
            check(path, out, ndbs=len(srv.keyspace.dbs))
            srv.log_raw(out.getvalue())
        except Exception:  # noqa: BLE001 - the report is best effort
            pass
        srv.log_warning("Terminating server after rdb file reading failure.")

    def load_file(self, path: str | None = None, flush: bool = False, allow_dup: bool = False) -> bool:
        """Load a dump synchronously (DEBUG RELOAD, tools). The whole image is parsed and
        verified before anything changes, so a corrupt file leaves the dataset as it was.
        False if the file does not exist; RdbError if it is corrupt."""
        p = path or self.path()
        try:
            with open(p, "rb") as f:
                data = f.read()
        except FileNotFoundError:
            return False
        self.load_bytes(data, allow_dup=allow_dup, flush=flush)
        return True

    def load_bytes(self, data: bytes, replace: bool = True, *, allow_dup: bool | None = None,
                   flush: bool = False, aof_preamble: bool = False) -> RdbContents:
        """Load an RDB image held in memory (a file, an AOF's RDB preamble, a replica's
        transfer) after parsing and verifying all of it. ``allow_dup`` (default: replace)
        lets loaded keys replace existing ones, else a duplicate fails the load before
        anything changed; ``flush`` empties the dataset (and the function libraries) first;
        ``aof_preamble`` keeps keys that are already expired, as Valkey does for an AOF
        base. RdbError if the image is corrupt."""
        srv = self.server
        dup_ok = replace if allow_dup is None else allow_dup
        self._start_loading(len(data), gate=False)
        gc_was = gc.isenabled()
        gc.disable()
        try:
            parser = self._parser(data)
            keys = list(parser.keys())
            if flush:
                srv.keyspace.flush_all(False)
                # emptyData(-1, EMPTYDB_NO_FLAGS): the function libraries go too.
                registry = getattr(getattr(srv, "scripting", None), "registry", None)
                if registry is not None and self.functions_loader is not None:
                    registry.clear()
            elif not dup_ok:
                for lk in keys:
                    if lk.key in srv.keyspace.dbs[lk.db].data:
                        raise RdbFatal("Duplicated key found in RDB file")
            self._load_functions(parser.contents)
            applier = self._Applier(self, allow_dup=dup_ok)
            if aof_preamble:
                applier.primary = False  # expired keys are loaded; the AOF tail decides
            for lk in keys:
                applier.add(lk)
            self.loading_loaded_bytes = len(data)
        finally:
            self._stop_loading()
            if gc_was:
                gc.enable()
        self._done_log(applier.empty_skipped)
        return parser.contents

    def debug_reload(self, save: bool, flush: bool, merge: bool) -> None:
        """DEBUG RELOAD [MERGE] [NOFLUSH] [NOSAVE]: ReplyError on failure."""
        srv = self.server
        if save and not self.rdb_save():
            raise ReplyError("ERR")
        try:
            found = self.load_file(flush=flush, allow_dup=merge)
        except (RdbError, OSError) as e:
            srv.log_warning(f"{e}")
            found = False
        if not found:
            raise ReplyError("ERR Error trying to load the RDB dump, check server logs.")
        srv.log_notice("DB reloaded by DEBUG RELOAD")

    # ---- INFO ----------------------------------------------------------------
    def info_fields(self) -> list[tuple[str, Any]]:
        srv = self.server
        now = int(time.time())
        in_rdb = self.child_type == "rdb"
        perc = 0.0
        if self.save_keys_total:
            perc = self.save_keys_processed / self.save_keys_total * 100
        age = int(time.monotonic() - self.cow_updated) if self.cow_updated else 0
        return [
            ("loading", int(self.loading)),
            ("async_loading", 0),
            ("current_cow_peak", self.cow_peak),
            ("current_cow_size", self.cow_bytes),
            ("current_cow_size_age", age),
            ("current_fork_perc", f"{perc:.2f}"),
            ("current_save_keys_processed", self.save_keys_processed),
            ("current_save_keys_total", self.save_keys_total),
            ("rdb_changes_since_last_save", srv.keyspace.dirty),
            ("rdb_bgsave_in_progress", int(in_rdb)),
            ("rdb_last_save_time", self.lastsave),
            ("rdb_last_bgsave_status", self.last_bgsave_status),
            ("rdb_last_bgsave_time_sec", self.last_bgsave_time_sec),
            ("rdb_current_bgsave_time_sec", now - self.bgsave_start if in_rdb else -1),
            ("rdb_saves", self.saves),
            ("rdb_last_cow_size", self.last_cow_size),
            ("rdb_last_load_keys_expired", self.rdb_last_load_keys_expired),
            ("rdb_last_load_keys_loaded", self.rdb_last_load_keys_loaded),
        ]

    def loading_fields(self) -> list[tuple[str, Any]]:
        """The fields INFO persistence adds while a load runs."""
        loaded = self.loading_loaded_bytes
        perc = 0.0
        remaining = 1
        if self.loading_total_bytes:
            perc = loaded / self.loading_total_bytes * 100
            remaining = self.loading_total_bytes - loaded
        elif self.loading_rdb_used_mem:
            perc = min(99.99, loaded / self.loading_rdb_used_mem * 100)
            remaining = max(1, self.loading_rdb_used_mem - loaded)
        elapsed = int(time.time()) - self.loading_start
        eta = 1 if elapsed == 0 else elapsed * remaining // (loaded + 1)
        return [
            ("loading_start_time", self.loading_start),
            ("loading_total_bytes", self.loading_total_bytes),
            ("loading_rdb_used_mem", self.loading_rdb_used_mem),
            ("loading_loaded_bytes", loaded),
            ("loading_loaded_perc", f"{perc:.2f}"),
            ("loading_eta_seconds", eta),
        ]


def _send_info(fd: int, kind: int, keys: int, cow: int) -> None:
    if fd == -1:
        return
    try:
        os.write(fd, _INFO.pack(kind, keys, cow, int(time.monotonic() * 1e6)))
    except OSError:
        pass


def _strtol(v: bytes) -> int:
    """strtol/strtoll: the leading integer of v, 0 if none."""
    s = v.strip()
    end = 0
    if s[:1] in (b"-", b"+"):
        end = 1
    while end < len(s) and 48 <= s[end] <= 57:
        end += 1
    try:
        return int(s[:end])
    except ValueError:
        return 0


def _unlink(path: str) -> None:
    try:
        os.unlink(path)
    except OSError:
        pass


def _cwd() -> str:
    try:
        return os.getcwd()
    except OSError:
        return "unknown"


def _install_info_builder() -> None:
    """Overlay the live RDB fields on INFO persistence (the section's other fields stay),
    with the loading_* fields while a load runs."""
    from kaa.server import info

    base = info.BUILDERS.get("persistence")
    if base is None or getattr(base, "_kaa_rdb", False):
        return

    def build(srv: Any) -> Any:
        fields = base(srv)
        p = getattr(srv, "persistence", None)
        if p is None:
            return fields
        live = dict(p.info_fields())
        out = [(k, live.get(k, v)) for k, v in fields]
        if p.loading:
            out += p.loading_fields()
        return out

    build._kaa_rdb = True  # type: ignore[attr-defined]
    info.BUILDERS["persistence"] = build


try:
    _install_info_builder()
except ImportError:  # pragma: no cover - INFO module absent
    pass

