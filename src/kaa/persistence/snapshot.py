"""The server's side of RDB: SAVE, BGSAVE in a forked child, save points, loading at
start-up, and the counters INFO persistence reports.

The child writes ``temp-<pid>.rdb`` in ``dir``, fsyncs it and renames it over
``dbfilename`` itself, so a crash at any moment leaves the previous dump intact; the
parent learns the outcome from ``waitpid`` in the cron, as Valkey's serverCron does.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from kaa.engine.keyspace import now_ms
from kaa.persistence.rdb import RdbContents, Writer, default_aux, load_all
from kaa.persistence.rdb_format import RdbError
from kaa.persistence.values import from_neutral, to_neutral

if TYPE_CHECKING:
    from kaa.server.server import Server


class Persistence:
    def __init__(self, server: Server) -> None:
        self.server = server
        self.lastsave = int(time.time())
        self.last_bgsave_status = "ok"
        self.last_bgsave_time_sec = -1
        self.bgsave_start = 0.0
        self.child_pid = -1
        self.child_type = ""
        self.dirty_at_bgsave = 0
        self.bgsave_scheduled = False
        self.last_save_attempt = 0.0
        self.saves = 0
        self.loading = False
        self.loading_start = 0.0
        self.loading_total_bytes = 0
        self.loading_loaded_bytes = 0
        self.loading_loaded_perc = 0.0
        self.rdb_last_load_keys_expired = 0
        self.rdb_last_load_keys_loaded = 0
        self.last_cow_size = 0
        self.functions_provider: Any = None  # set by scripting: () -> list[bytes] of library code
        self.functions_loader: Any = None  # set by scripting: (list[bytes]) -> None
        server.cron_hooks.append(lambda s: self.cron())

    # ---- paths ----------------------------------------------------------------
    def path(self) -> str:
        cfg = self.server.config
        return os.path.join(os.getcwd(), cfg.dbfilename)

    # ---- writing ----------------------------------------------------------------
    def iter_image(self) -> Iterator[tuple[int, list[tuple[bytes, str, Any, int | None]]]]:
        now = now_ms()
        for db in self.server.keyspace.dbs:
            if not db.data:
                continue
            items = []
            exp = db.expires
            for k, v in db.data.items():
                when = exp.get(k) if exp else None
                if when is not None and when <= now:
                    continue  # already expired: Valkey skips those on a primary
                kind, neutral = to_neutral(v)
                items.append((k, kind, neutral, when))
            yield db.id, items

    def write_to(self, f: Any) -> None:
        cfg = self.server.config
        w = Writer(f, checksum=cfg.rdbchecksum, compress=cfg.rdbcompression)
        w.header(default_aux(self.server.used_memory()))
        if self.functions_provider is not None:
            for code in self.functions_provider():
                w.function(code)
        for dbid, items in self.iter_image():
            nexp = sum(1 for it in items if it[3] is not None)
            w.select_db(dbid, len(items), nexp)
            for key, kind, neutral, when in items:
                w.key(key, kind, neutral, when)
        w.finish()

    def save_file(self, path: str | None = None) -> None:
        """Write the dataset atomically; OSError on failure."""
        final = path or self.path()
        tmp = os.path.join(os.path.dirname(final) or ".", f"temp-{os.getpid()}.rdb")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            with os.fdopen(fd, "wb", buffering=1 << 16) as f:
                self.write_to(f)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, final)
            dfd = os.open(os.path.dirname(final) or ".", os.O_RDONLY)
            try:
                os.fsync(dfd)
            finally:
                os.close(dfd)
        except BaseException:
            try:
                os.unlink(tmp)
            except OSError:
                pass
            raise

    def save(self) -> bool:
        """SAVE: in the foreground. True on success."""
        srv = self.server
        try:
            self.save_file()
        except OSError as e:
            srv.log_warning(f"Failed opening the temp RDB file temp-{os.getpid()}.rdb (in server root dir {os.getcwd()}) for saving: {e.strerror}")
            self.last_bgsave_status = "err"
            return False
        srv.log_notice("DB saved on disk")
        srv.keyspace.dirty = 0
        self.lastsave = int(time.time())
        self.last_bgsave_status = "ok"
        self.saves += 1
        return True

    def bgsave(self) -> int:
        """Fork a child that writes the snapshot; returns its pid (-1 if fork failed)."""
        srv = self.server
        self.last_save_attempt = time.time()
        self.dirty_at_bgsave = srv.keyspace.dirty
        try:
            pid = os.fork()
        except OSError as e:
            self.last_bgsave_status = "err"
            srv.log_warning(f"Can't save in background: fork: {e.strerror}")
            return -1
        if pid == 0:  # child
            code = 0
            try:
                srv.role = "C"
                self.save_file()
                srv.log_notice("DB saved on disk")
            except BaseException as e:  # noqa: BLE001 - the child must always exit
                try:
                    srv.log_warning(f"Write error saving DB on disk: {e}")
                except BaseException:  # noqa: BLE001
                    pass
                code = 1
            os._exit(code)
        self.child_pid = pid
        self.child_type = "rdb"
        self.bgsave_start = time.time()
        srv.log_notice(f"Background saving started by pid {pid}")
        return pid

    def child_running(self) -> bool:
        return self.child_pid != -1

    def cron(self) -> None:
        srv = self.server
        if self.child_pid != -1:
            try:
                pid, status = os.waitpid(self.child_pid, os.WNOHANG)
            except ChildProcessError:
                pid, status = self.child_pid, 1 << 8
            if pid != 0:
                self._child_done(os.waitstatus_to_exitcode(status))
            return
        if self.bgsave_scheduled:
            self.bgsave_scheduled = False
            self.bgsave()
            return
        params = srv.config.save
        if not params:
            return
        now = time.time()
        dirty = srv.keyspace.dirty
        for secs, changes in params:
            if dirty >= changes and now - self.lastsave > secs and (
                self.last_bgsave_status == "ok" or now - self.last_save_attempt > 5
            ):
                srv.log_notice(f"{changes} changes in {secs} seconds. Saving...")
                self.bgsave()
                break

    def _child_done(self, code: int) -> None:
        srv = self.server
        self.child_pid = -1
        self.child_type = ""
        self.last_bgsave_time_sec = int(time.time() - self.bgsave_start)
        if code == 0:
            srv.log_notice("Background saving terminated with success")
            srv.keyspace.dirty -= self.dirty_at_bgsave
            if srv.keyspace.dirty < 0:
                srv.keyspace.dirty = 0
            self.lastsave = int(time.time())
            self.last_bgsave_status = "ok"
            self.saves += 1
        elif code < 0:
            srv.log_warning(f"Background saving terminated by signal {-code}")
            self.last_bgsave_status = "err"
        else:
            srv.log_warning("Background saving error")
            self.last_bgsave_status = "err"

    def kill_child(self) -> None:
        if self.child_pid != -1:
            try:
                os.kill(self.child_pid, 9)
                os.waitpid(self.child_pid, 0)
            except OSError:
                pass
            try:
                os.unlink(f"temp-{self.child_pid}.rdb")
            except OSError:
                pass
            self.child_pid = -1
            self.child_type = ""

    # ---- loading ----------------------------------------------------------------
    def load_file(self, path: str | None = None) -> bool:
        """Load the dump at start-up or DEBUG RELOAD. False if absent; RdbError if corrupt."""
        p = path or self.path()
        try:
            with open(p, "rb") as f:
                data = f.read()
        except FileNotFoundError:
            return False
        self.load_bytes(data)
        return True

    def load_bytes(self, data: bytes, replace: bool = True) -> RdbContents:
        srv = self.server
        t0 = time.time()
        self.loading = True
        self.loading_start = t0
        self.loading_total_bytes = len(data)
        try:
            contents, keys = load_all(data)
        finally:
            self.loading = False
        ver = contents.aux.get(b"valkey-ver") or contents.aux.get(b"redis-ver")
        if ver:
            srv.log_notice(f"Loading RDB produced by version {ver.decode('utf-8', 'replace')}")
        ctime = contents.aux.get(b"ctime")
        if ctime and ctime.isdigit():
            srv.log_notice(f"RDB age {max(0, int(time.time()) - int(ctime))} seconds")
        used = contents.aux.get(b"used-mem")
        if used and used.isdigit():
            srv.log_notice(f"RDB memory usage when created {int(used) / 1024 / 1024:.2f} Mb")
        ndbs = len(srv.keyspace.dbs)
        now = now_ms()
        loaded = expired = 0
        cfg = srv.config
        for lk in keys:
            if lk.db >= ndbs:
                raise RdbError(f"FATAL: Data file was created with a Valkey server configured to handle more than {ndbs} databases. Exiting")
        if contents.functions and self.functions_loader is not None:
            self.functions_loader(contents.functions)
        for lk in keys:
            if lk.expire_ms is not None and lk.expire_ms <= now and srv.role != "S":
                expired += 1
                continue
            db = srv.keyspace.dbs[lk.db]
            value = from_neutral(lk.kind, lk.value, cfg)
            if value is None:
                continue  # empty collections are skipped, as Valkey does
            db.data[lk.key] = value
            if lk.expire_ms is not None:
                db.set_expire(lk.key, lk.expire_ms)
            loaded += 1
        self.rdb_last_load_keys_loaded = loaded
        self.rdb_last_load_keys_expired = expired
        srv.log_notice(f"Done loading RDB, keys loaded: {loaded}, keys expired: {expired}.")
        srv.log_notice(f"DB loaded from disk: {time.time() - t0:.3f} seconds")
        return contents

    def info_fields(self) -> list[tuple[str, Any]]:
        srv = self.server
        now = time.time()
        return [
            ("loading", int(self.loading)),
            ("async_loading", 0),
            ("current_cow_peak", 0),
            ("current_cow_size", 0),
            ("current_cow_size_age", 0),
            ("current_fork_perc", "0.00"),
            ("current_save_keys_processed", 0),
            ("current_save_keys_total", 0),
            ("rdb_changes_since_last_save", srv.keyspace.dirty),
            ("rdb_bgsave_in_progress", int(self.child_type == "rdb")),
            ("rdb_last_save_time", self.lastsave),
            ("rdb_last_bgsave_status", self.last_bgsave_status),
            ("rdb_last_bgsave_time_sec", self.last_bgsave_time_sec),
            ("rdb_current_bgsave_time_sec", int(now - self.bgsave_start) if self.child_type == "rdb" else -1),
            ("rdb_saves", self.saves),
            ("rdb_last_cow_size", self.last_cow_size),
            ("rdb_last_load_keys_expired", self.rdb_last_load_keys_expired),
            ("rdb_last_load_keys_loaded", self.rdb_last_load_keys_loaded),
        ]


def _install_info_builder() -> None:
    """Overlay the live RDB fields on INFO persistence (the section's other fields stay)."""
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
        return [(k, live.get(k, v)) for k, v in fields]

    build._kaa_rdb = True  # type: ignore[attr-defined]
    info.BUILDERS["persistence"] = build


try:
    _install_info_builder()
except ImportError:  # pragma: no cover - INFO module absent
    pass
