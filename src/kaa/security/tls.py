"""TLS: Valkey's tls-* parameters as Python ``ssl`` contexts, and the TLS listeners.

The server context is built the way Valkey's tlsConfigure builds its SSL_CTX
(protocols, ciphers, TLS 1.3 ciphersuites, server cipher preference, DH params,
session cache, CA for client certificates) and is replaced atomically on CONFIG
SET: a new context is built first, and only if that works do new connections
get it; established connections keep theirs. Listeners accept on a private dup
of each bound socket, so switching contexts never closes the listening socket.

``tls-auth-clients`` (no / optional / yes) is applied per new connection, as in
Valkey: it only changes the verify mode of the current context.

Two OpenSSL settings Python's ``ssl`` module does not expose (TLS 1.3
ciphersuites and the server session cache size/timeout) are set through the
SSL_CTX of the context with ctypes; where that is unavailable a TLS 1.3
ciphersuite restriction is refused rather than silently ignored.
"""

from __future__ import annotations

import asyncio
import ctypes
import socket
import ssl
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from kaa.server.config import Config
    from kaa.server.server import Server

PROTO_TLSv1 = 1
PROTO_TLSv1_1 = 2
PROTO_TLSv1_2 = 4
PROTO_TLSv1_3 = 8
PROTO_DEFAULT = PROTO_TLSv1_2 | PROTO_TLSv1_3

_VERSIONS = (
    (PROTO_TLSv1, ssl.TLSVersion.TLSv1),
    (PROTO_TLSv1_1, ssl.TLSVersion.TLSv1_1),
    (PROTO_TLSv1_2, ssl.TLSVersion.TLSv1_2),
    (PROTO_TLSv1_3, ssl.TLSVersion.TLSv1_3),
)
_VERIFY = {"no": ssl.CERT_NONE, "optional": ssl.CERT_OPTIONAL, "yes": ssl.CERT_REQUIRED}

# Settings whose change rebuilds the context (Valkey's applyTlsCfg).
CONTEXT_PARAMS = (
    "tls-session-cache-size", "tls-session-cache-timeout", "tls-cluster", "tls-replication",
    "tls-prefer-server-ciphers", "tls-session-caching", "tls-cert-file", "tls-key-file",
    "tls-key-file-pass", "tls-client-cert-file", "tls-client-key-file",
    "tls-client-key-file-pass", "tls-dh-params-file", "tls-ca-cert-file", "tls-ca-cert-dir",
    "tls-protocols", "tls-ciphers", "tls-ciphersuites",
)


class TlsConfigError(Exception):
    """The TLS settings don't make a usable context (the reason was logged)."""


# ---- OpenSSL calls Python's ssl module does not offer --------------------------------------

_SSL_CTRL_SET_SESS_CACHE_SIZE = 42
_SSL_CTRL_SET_SESS_CACHE_MODE = 44
_SSL_SESS_CACHE_OFF = 0
_SSL_SESS_CACHE_SERVER = 2


class _LibSSL:
    """The libssl that Python's _ssl module is linked with, for a few ctypes calls."""

    def __init__(self) -> None:
        self.ok = False
        try:
            import _ssl

            lib = ctypes.CDLL(_ssl.__file__)
            self.set_ciphersuites = lib.SSL_CTX_set_ciphersuites
            self.set_ciphersuites.argtypes = [ctypes.c_void_p, ctypes.c_char_p]
            self.set_ciphersuites.restype = ctypes.c_int
            self.ctrl = lib.SSL_CTX_ctrl
            self.ctrl.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_long, ctypes.c_void_p]
            self.ctrl.restype = ctypes.c_long
            self.set_timeout = lib.SSL_CTX_set_timeout
            self.set_timeout.argtypes = [ctypes.c_void_p, ctypes.c_long]
            self.set_timeout.restype = ctypes.c_long
            self.ok = True
        except (OSError, AttributeError, ImportError):
            pass

    @staticmethod
    def ctx_ptr(ctx: ssl.SSLContext) -> int | None:
        """The SSL_CTX* of a context: CPython's PySSLContext keeps it right after the
        object header."""
        try:
            return ctypes.c_void_p.from_address(id(ctx) + object.__basicsize__).value
        except (ValueError, OSError):
            return None


_LIB: _LibSSL | None = None


def _lib() -> _LibSSL:
    global _LIB
    if _LIB is None:
        _LIB = _LibSSL()
    return _LIB


# ---- building contexts --------------------------------------------------------------------

def parse_protocols(value: str | None, log: Callable[[str], None]) -> int:
    """parseProtocolsConfig; raises TlsConfigError."""
    if not value:
        return PROTO_DEFAULT
    protocols = 0
    for tok in value.split(" "):
        t = tok.lower()
        if t == "tlsv1":
            protocols |= PROTO_TLSv1
        elif t == "tlsv1.1":
            protocols |= PROTO_TLSv1_1
        elif t == "tlsv1.2":
            protocols |= PROTO_TLSv1_2
        elif t == "tlsv1.3":
            protocols |= PROTO_TLSv1_3
        else:
            log("Invalid tls-protocols specified. Use a combination of 'TLSv1', 'TLSv1.1', "
                "'TLSv1.2' and 'TLSv1.3'.")
            raise TlsConfigError()
    if not protocols:
        log("Failed to enable any TLS protocol")
        raise TlsConfigError()
    return protocols


def _apply_protocols(ctx: ssl.SSLContext, protocols: int) -> None:
    enabled = [v for bit, v in _VERSIONS if protocols & bit]
    ctx.minimum_version = enabled[0]
    ctx.maximum_version = enabled[-1]
    # Gaps (e.g. "TLSv1 TLSv1.2") can only be expressed with the OP_NO_* options.
    gaps = 0
    for bit, _ in _VERSIONS:
        if not protocols & bit and enabled[0] <= dict(_VERSIONS)[bit] <= enabled[-1]:
            gaps |= {PROTO_TLSv1: ssl.OP_NO_TLSv1, PROTO_TLSv1_1: ssl.OP_NO_TLSv1_1,
                     PROTO_TLSv1_2: ssl.OP_NO_TLSv1_2, PROTO_TLSv1_3: ssl.OP_NO_TLSv1_3}[bit]
    if gaps:
        ctx.options |= gaps
    if enabled[0] < ssl.TLSVersion.TLSv1_2:
        # OpenSSL 3's default security level refuses TLS < 1.2; allow what was asked for.
        try:
            ctx.set_ciphers("DEFAULT:@SECLEVEL=0")
        except ssl.SSLError:
            pass


def _password_cb(password: str | None) -> Callable[[], bytes]:
    """Never let OpenSSL prompt on a terminal for an encrypted key."""
    value = (password or "").encode()
    return lambda: value


def _load_cert_and_key(ctx: ssl.SSLContext, cert: str, key: str, password: str | None,
                       log: Callable[[str], None]) -> None:
    try:
        with open(cert, encoding="ascii", errors="replace") as f:
            ssl.PEM_cert_to_DER_cert(f.read().split("-----END CERTIFICATE-----")[0]
                                     + "-----END CERTIFICATE-----")
    except (OSError, ValueError) as e:
        log(f"Failed to load certificate: {cert}: {_reason(e)}")
        raise TlsConfigError() from None
    try:
        ctx.load_cert_chain(cert, key, password=_password_cb(password))
    except (OSError, ValueError, ssl.SSLError) as e:
        log(f"Failed to load private key: {key}: {_reason(e)}")
        raise TlsConfigError() from None


def _reason(e: BaseException) -> str:
    if isinstance(e, ssl.SSLError) and e.reason:
        return str(e.reason)
    return getattr(e, "strerror", None) or str(e)


def build_context(cfg: Config, log: Callable[[str], None], client: bool = False) -> ssl.SSLContext:
    """createSSLContext + the server-side settings of tlsConfigure; TlsConfigError (logged)
    if anything is missing or unusable. ``client`` builds the context for outgoing
    connections (replication, cluster bus), with tls-client-* when set."""
    cert = cfg.tls_cert_file
    key = cfg.tls_key_file
    if not cert:
        log("No tls-cert-file configured!")
        raise TlsConfigError()
    if not key:
        log("No tls-key-file configured!")
        raise TlsConfigError()
    ca_file = cfg.tls_ca_cert_file or None
    ca_dir = cfg.tls_ca_cert_dir or None
    if (cfg.tls_auth_clients != "no" or cfg.tls_cluster or cfg.tls_replication) and not (
            ca_file or ca_dir):
        log("Either tls-ca-cert-file or tls-ca-cert-dir must be specified when tls-cluster, "
            "tls-replication or tls-auth-clients are enabled!")
        raise TlsConfigError()
    protocols = parse_protocols(cfg.tls_protocols, log)
    if client:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.check_hostname = False  # Valkey verifies the chain, not the host name
        if cfg.tls_client_cert_file and cfg.tls_client_key_file:
            cert, key = cfg.tls_client_cert_file, cfg.tls_client_key_file
            password = cfg.tls_client_key_file_pass
        else:
            password = cfg.tls_key_file_pass
    else:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        password = cfg.tls_key_file_pass
    _apply_protocols(ctx, protocols)
    ctx.options |= ssl.OP_NO_COMPRESSION | ssl.OP_SINGLE_DH_USE
    if hasattr(ssl, "OP_NO_RENEGOTIATION"):
        ctx.options |= ssl.OP_NO_RENEGOTIATION
    _load_cert_and_key(ctx, cert, key, password, log)
    if ca_file or ca_dir:
        try:
            ctx.load_verify_locations(cafile=ca_file, capath=ca_dir)
        except (OSError, ssl.SSLError) as e:
            log(f"Failed to configure CA certificate(s) file/directory: {_reason(e)}")
            raise TlsConfigError() from None
    if cfg.tls_ciphers:
        try:
            ctx.set_ciphers(cfg.tls_ciphers)
        except ssl.SSLError:
            log(f"Failed to configure ciphers: {cfg.tls_ciphers}")
            raise TlsConfigError() from None
    if cfg.tls_ciphersuites and not _set_ciphersuites(ctx, cfg.tls_ciphersuites):
        log(f"Failed to configure ciphersuites: {cfg.tls_ciphersuites}")
        raise TlsConfigError()
    if client:
        ctx.verify_mode = ssl.CERT_REQUIRED
        return ctx
    # Python turns server cipher preference on by default; Valkey only on request.
    if cfg.tls_prefer_server_ciphers:
        ctx.options |= ssl.OP_CIPHER_SERVER_PREFERENCE
    else:
        ctx.options &= ~ssl.OP_CIPHER_SERVER_PREFERENCE
    if cfg.tls_dh_params_file:
        try:
            ctx.load_dh_params(cfg.tls_dh_params_file)
        except OSError as e:
            if isinstance(e, ssl.SSLError):
                log(f"{cfg.tls_dh_params_file}: failed to read DH params.")
            else:
                log(f"Failed to load {cfg.tls_dh_params_file}: {_reason(e)}")
            raise TlsConfigError() from None
    _session_cache(ctx, cfg)
    ctx.verify_mode = _VERIFY.get(cfg.tls_auth_clients, ssl.CERT_REQUIRED)
    return ctx


def _set_ciphersuites(ctx: ssl.SSLContext, suites: str) -> bool:
    lib = _lib()
    ptr = lib.ctx_ptr(ctx) if lib.ok else None
    if not ptr:
        return False
    return bool(lib.set_ciphersuites(ptr, suites.encode()))


def _session_cache(ctx: ssl.SSLContext, cfg: Config) -> None:
    lib = _lib()
    ptr = lib.ctx_ptr(ctx) if lib.ok else None
    if not ptr:
        return
    if cfg.tls_session_caching:
        lib.ctrl(ptr, _SSL_CTRL_SET_SESS_CACHE_MODE, _SSL_SESS_CACHE_SERVER, None)
        lib.ctrl(ptr, _SSL_CTRL_SET_SESS_CACHE_SIZE, cfg.tls_session_cache_size, None)
        lib.set_timeout(ptr, cfg.tls_session_cache_timeout)
    else:
        lib.ctrl(ptr, _SSL_CTRL_SET_SESS_CACHE_MODE, _SSL_SESS_CACHE_OFF, None)


def client_context_for(cafile: str | None = None, certfile: str | None = None,
                       keyfile: str | None = None, insecure: bool = False,
                       capath: str | None = None) -> ssl.SSLContext:
    """A client-side context (kaa-cli --tls, tests): verify the server unless insecure."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    if insecure:
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    else:
        ctx.check_hostname = False  # like redis-cli: the chain is verified, --sni is optional
        if cafile or capath:
            ctx.load_verify_locations(cafile=cafile, capath=capath)
        else:
            ctx.load_default_certs()
    if certfile:
        ctx.load_cert_chain(certfile, keyfile)
    return ctx


# ---- listeners ------------------------------------------------------------------------------

class TlsListeners:
    """The TLS port: bound sockets, the asyncio servers on them, the current context."""

    def __init__(self, server: Server) -> None:
        self.server = server
        self.ctx: ssl.SSLContext | None = None
        self.client_ctx: ssl.SSLContext | None = None
        self.socks: list[socket.socket] = []
        self.servers: list[asyncio.AbstractServer] = []
        self.port = 0

    def needed(self) -> bool:
        cfg = self.server.config
        return bool(cfg.tls_port or cfg.tls_replication or cfg.tls_cluster)

    def configure(self, reconfigure: bool = True) -> None:
        """tlsConfigure: (re)build the contexts; TlsConfigError leaves the old ones."""
        if not reconfigure and self.ctx is not None:
            return
        cfg = self.server.config
        log = self.server.log_warning
        ctx = build_context(cfg, log)
        client_ctx = None
        if cfg.tls_client_cert_file and cfg.tls_client_key_file:
            client_ctx = build_context(cfg, log, client=True)
        self.ctx = ctx
        self.client_ctx = client_ctx

    def client_context(self) -> ssl.SSLContext:
        """For outgoing TLS (replication, cluster bus): tls-client-* or else tls-cert-file."""
        if self.client_ctx is None:
            self.client_ctx = build_context(self.server.config, self.server.log_warning,
                                            client=True)
        return self.client_ctx

    def bind(self, port: int) -> list[socket.socket]:
        """Bind the TLS port on every bind address (``-addr`` optional); OSError if not."""
        cfg = self.server.config
        socks: list[socket.socket] = []
        if not port:
            return socks
        for addr in list(cfg.bind) or ["*", "-::*"]:
            optional = addr.startswith("-")
            host = addr[1:] if optional else addr
            host = {"*": "0.0.0.0", "::*": "::"}.get(host, host)
            fam = socket.AF_INET6 if ":" in host else socket.AF_INET
            s = socket.socket(fam, socket.SOCK_STREAM)
            try:
                s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                if fam == socket.AF_INET6:
                    s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
                s.bind((host, port))
                s.listen(cfg.tcp_backlog)
                s.setblocking(False)
            except OSError as e:
                s.close()
                if optional and e.errno in (97, 99, 22):  # EAFNOSUPPORT, EADDRNOTAVAIL, EINVAL
                    continue
                for o in socks:
                    o.close()
                self.server.log_warning(
                    f"Warning: Could not create server TCP listening socket {addr}:{port}: "
                    f"{e.strerror}")
                raise
            socks.append(s)
        return socks

    async def serve(self) -> None:
        """Accept on every bound socket with the current context (replacing the servers
        that used an older one)."""
        srv = self.server
        assert srv.loop is not None and self.ctx is not None
        from kaa.server.client import Client

        new: list[asyncio.AbstractServer] = []
        for s in self.socks:
            dup = s.dup()
            dup.setblocking(False)
            new.append(await srv.loop.create_server(
                lambda: Client(srv), sock=dup, ssl=self.ctx, backlog=srv.config.tcp_backlog))
        old = self.servers
        self.servers = new
        for o in old:
            o.close()

    async def start(self) -> None:
        cfg = self.server.config
        if not self.needed():
            return
        try:
            self.configure(reconfigure=False)
        except TlsConfigError:
            self.server.log_warning("Failed to configure TLS. Check logs for more info.")
            raise OSError("TLS configuration failed") from None
        if cfg.tls_port:
            try:
                self.socks = self.bind(cfg.tls_port)
            except OSError:
                self.server.log_warning(f"Failed listening on port {cfg.tls_port} (tls), aborting.")
                raise
            self.port = cfg.tls_port
            await self.serve()

    def close(self) -> None:
        for o in self.servers:
            o.close()
        self.servers = []
        for s in self.socks:
            s.close()
        self.socks = []
        self.port = 0

    def actual_port(self) -> int:
        for s in self.socks:
            return int(s.getsockname()[1])
        return 0

    # ---- CONFIG SET -----------------------------------------------------------------------
    def on_context_param(self, old: Any, new: Any) -> None:
        """applyTlsCfg: rebuild the context if TLS is in use; new connections get it."""
        from kaa.server.config import ConfigError

        if not self.needed():
            return
        try:
            self.configure(reconfigure=True)
        except TlsConfigError:
            raise ConfigError("Unable to update TLS configuration. Check server logs.") from None
        self._reserve()

    def on_auth_clients(self, old: Any, new: Any) -> None:
        if self.ctx is not None:
            self.ctx.verify_mode = _VERIFY.get(str(new), ssl.CERT_REQUIRED)

    def on_port(self, old: Any, new: Any) -> None:
        """applyTLSPort: configure TLS if needed, then move the listener."""
        from kaa.server.config import ConfigError

        try:
            self.configure(reconfigure=False)
        except TlsConfigError:
            raise ConfigError("Unable to update TLS configuration. Check server logs.") from None
        if self.server.loop is None:
            return
        try:
            socks = self.bind(int(new))
        except OSError:
            raise ConfigError("Unable to listen on this port. Check server logs.") from None
        for o in self.servers:
            o.close()
        self.servers = []
        for s in self.socks:
            s.close()
        self.socks = socks
        self.port = int(new)
        self._reserve()

    def _reserve(self) -> None:
        srv = self.server
        if srv.loop is None or not self.socks:
            return
        srv.loop.create_task(self.serve())


def install(server: Server) -> TlsListeners:
    tls = TlsListeners(server)
    cfg = server.config
    for name in CONTEXT_PARAMS:
        cfg.on_change(name, tls.on_context_param)
    cfg.on_change("tls-auth-clients", tls.on_auth_clients)
    cfg.on_change("tls-port", tls.on_port)
    return tls
