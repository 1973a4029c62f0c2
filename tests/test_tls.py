"""TLS: the TLS port next to TCP or alone, mutual TLS (tls-auth-clients yes/optional/no),
refused certificates and plaintext clients, protocols, ciphers and TLS 1.3 ciphersuites,
encrypted keys, reloading certificates with CONFIG SET, moving the TLS port, kaa-cli --tls.

The tests make their own CA and certificates (EC keys, so it takes milliseconds).
"""

from __future__ import annotations

import datetime
import ipaddress
import os
import socket
import ssl
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import redis
from tests.support.servers import ServerProcess, free_port, kaa_server_cmd

pytest.importorskip("cryptography")
from cryptography import x509  # noqa: E402
from cryptography.hazmat.primitives import hashes, serialization  # noqa: E402
from cryptography.hazmat.primitives.asymmetric import ec  # noqa: E402
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID  # noqa: E402


@dataclass
class Pki:
    dir: Path
    ca: str
    server_cert: str
    server_key: str
    server2_cert: str
    server2_key: str
    client_cert: str
    client_key: str
    rogue_cert: str
    rogue_key: str
    encrypted_key: str


def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Kaa Test"),
                      x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def _write_key(path: Path, key: ec.EllipticCurvePrivateKey, password: bytes | None = None) -> str:
    enc: serialization.KeySerializationEncryption = (
        serialization.BestAvailableEncryption(password) if password else serialization.NoEncryption())
    path.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                       serialization.PrivateFormat.TraditionalOpenSSL, enc))
    return str(path)


def _issue(path: Path, cn: str, key: ec.EllipticCurvePrivateKey, issuer: x509.Name,
           issuer_key: ec.EllipticCurvePrivateKey, *, ca: bool = False, server: bool = False,
           client: bool = False) -> str:
    now = datetime.datetime.now(datetime.UTC)
    b = (x509.CertificateBuilder().subject_name(_name(cn)).issuer_name(issuer)
         .public_key(key.public_key()).serial_number(x509.random_serial_number())
         .not_valid_before(now - datetime.timedelta(minutes=5))
         .not_valid_after(now + datetime.timedelta(days=1))
         .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True))
    if server:
        b = b.add_extension(x509.SubjectAlternativeName([
            x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False)
    usages = ([ExtendedKeyUsageOID.SERVER_AUTH] if server else []) + (
        [ExtendedKeyUsageOID.CLIENT_AUTH] if client else [])
    if usages:
        b = b.add_extension(x509.ExtendedKeyUsage(usages), critical=False)
    cert = b.sign(issuer_key, hashes.SHA256())
    path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return str(path)


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    d = tmp_path_factory.mktemp("pki")
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = _issue(d / "ca.crt", "Kaa Test CA", ca_key, _name("Kaa Test CA"), ca_key, ca=True)
    rogue_ca_key = ec.generate_private_key(ec.SECP256R1())

    def leaf(name: str, cn: str, issuer_key: ec.EllipticCurvePrivateKey, issuer: str,
             **kw: bool) -> tuple[str, str, ec.EllipticCurvePrivateKey]:
        key = ec.generate_private_key(ec.SECP256R1())
        cert = _issue(d / f"{name}.crt", cn, key, _name(issuer), issuer_key, **kw)
        return cert, _write_key(d / f"{name}.key", key), key

    server_cert, server_key, skey = leaf("server", "Server-1", ca_key, "Kaa Test CA", server=True)
    server2_cert, server2_key, _ = leaf("server2", "Server-2", ca_key, "Kaa Test CA", server=True)
    client_cert, client_key, _ = leaf("client", "Client", ca_key, "Kaa Test CA", client=True)
    rogue_cert, rogue_key, _ = leaf("rogue", "Rogue", rogue_ca_key, "Rogue CA", client=True)
    encrypted = _write_key(d / "server.enc.key", skey, b"1234")
    return Pki(d, ca, server_cert, server_key, server2_cert, server2_key, client_cert,
               client_key, rogue_cert, rogue_key, encrypted)


def server_args(pki: Pki, *extra: str) -> list[str]:
    return ["--save", "", "--tls-cert-file", pki.server_cert, "--tls-key-file", pki.server_key,
            "--tls-ca-cert-file", pki.ca, *extra]


@pytest.fixture()
def tlssrv(pki: Pki) -> Iterator[tuple[ServerProcess, int]]:
    """TCP on the usual port (so the start-up probe works) and TLS on another."""
    tls_port = free_port()
    p = ServerProcess(kaa_server_cmd(), server_args(pki, "--tls-port", str(tls_port)))
    yield p, tls_port
    p.stop()


def client_ctx(pki: Pki, cert: str | None = "client", *, min_version: ssl.TLSVersion | None = None,
               max_version: ssl.TLSVersion | None = None, ciphers: str | None = None) -> ssl.SSLContext:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.load_verify_locations(pki.ca)
    if cert == "client":
        ctx.load_cert_chain(pki.client_cert, pki.client_key)
    elif cert == "rogue":
        ctx.load_cert_chain(pki.rogue_cert, pki.rogue_key)
    if min_version is not None:
        ctx.minimum_version = min_version
    if max_version is not None:
        ctx.maximum_version = max_version
    if ciphers is not None:
        ctx.set_ciphers(ciphers)
    return ctx


def tls_sock(port: int, ctx: ssl.SSLContext) -> ssl.SSLSocket:
    raw = socket.create_connection(("127.0.0.1", port), timeout=5)
    return ctx.wrap_socket(raw, server_hostname="127.0.0.1")


def peer_cn(s: ssl.SSLSocket) -> str:
    cert = s.getpeercert()
    assert cert is not None
    for rdn in cert["subject"]:
        for pair in rdn:
            if pair[0] == "commonName":
                return str(pair[1])
    raise AssertionError("no CN")


def cipher(s: ssl.SSLSocket) -> str:
    c = s.cipher()
    assert c is not None
    return c[0]


def ping(s: socket.socket) -> bytes:
    s.sendall(b"PING\r\n")
    return s.recv(100)


def refused(port: int, ctx: ssl.SSLContext) -> bool:
    """True if the server will not serve this client: the handshake fails, or (TLS 1.3,
    where the client finishes first) the connection dies before any reply."""
    try:
        s = tls_sock(port, ctx)
    except (ssl.SSLError, OSError):
        return True
    try:
        return ping(s) != b"+PONG\r\n"
    except (ssl.SSLError, OSError):
        return True
    finally:
        s.close()


def admin(p: ServerProcess) -> redis.Redis:
    return redis.Redis(host="127.0.0.1", port=p.port, protocol=2, socket_timeout=10)


def test_tls_next_to_tcp(pki: Pki, tlssrv: tuple[ServerProcess, int]) -> None:
    p, tport = tlssrv
    assert admin(p).ping() is True
    s = tls_sock(tport, client_ctx(pki))
    assert ping(s) == b"+PONG\r\n"
    assert peer_cn(s) == "Server-1"
    s.sendall(b"SET k v\r\nGET k\r\n")
    time.sleep(0.05)
    assert s.recv(100) == b"+OK\r\n$1\r\nv\r\n"
    s.close()
    assert b"Ready to accept connections tls" in p.output().encode()
    r = redis.Redis(host="127.0.0.1", port=tport, ssl=True, ssl_ca_certs=pki.ca,
                    ssl_certfile=pki.client_cert, ssl_keyfile=pki.client_key)
    assert r.get("k") == b"v"
    r.close()


def test_tls_only(pki: Pki) -> None:
    tport = free_port()
    cmd = kaa_server_cmd() + ["--port", "0", "--tls-port", str(tport), "--bind", "127.0.0.1",
                              *server_args(pki)]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, cwd=pki.dir)
    try:
        deadline = time.time() + 15
        while True:
            try:
                s = tls_sock(tport, client_ctx(pki))
                break
            except OSError:
                if time.time() > deadline or proc.poll() is not None:
                    raise
                time.sleep(0.05)
        assert ping(s) == b"+PONG\r\n"
        s.sendall(b"CONFIG GET port\r\n")
        assert s.recv(100) == b"*2\r\n$4\r\nport\r\n$1\r\n0\r\n"
        s.close()
    finally:
        proc.terminate()
        proc.wait(10)


def test_mutual_tls_modes(pki: Pki, tlssrv: tuple[ServerProcess, int]) -> None:
    p, tport = tlssrv
    a = admin(p)
    # yes (the default): a certificate from our CA is required.
    assert refused(tport, client_ctx(pki, cert=None))
    assert refused(tport, client_ctx(pki, cert="rogue"))
    assert not refused(tport, client_ctx(pki))
    a.config_set("tls-auth-clients", "optional")
    assert not refused(tport, client_ctx(pki, cert=None))
    assert refused(tport, client_ctx(pki, cert="rogue"))  # presented, so it must verify
    a.config_set("tls-auth-clients", "no")
    assert not refused(tport, client_ctx(pki, cert=None))
    assert not refused(tport, client_ctx(pki, cert="rogue"))
    a.config_set("tls-auth-clients", "yes")
    assert refused(tport, client_ctx(pki, cert=None))
    a.close()


def test_bad_clients_do_not_disturb_others(pki: Pki, tlssrv: tuple[ServerProcess, int]) -> None:
    p, tport = tlssrv
    good = tls_sock(tport, client_ctx(pki))
    assert ping(good) == b"+PONG\r\n"
    for _ in range(5):
        assert refused(tport, client_ctx(pki, cert="rogue"))
    # A plaintext client on the TLS port is disconnected without a reply.
    with socket.create_connection(("127.0.0.1", tport), timeout=5) as plain:
        plain.sendall(b"PING\r\n")
        try:
            data = plain.recv(100)
        except ConnectionResetError:
            data = b""
        assert not data.startswith(b"+PONG")
        try:
            assert plain.recv(100) == b""
        except ConnectionResetError:
            pass
    assert ping(good) == b"+PONG\r\n"
    good.close()
    assert admin(p).ping() is True


def test_reload_certificates(pki: Pki, tlssrv: tuple[ServerProcess, int]) -> None:
    p, tport = tlssrv
    a = admin(p)
    old = tls_sock(tport, client_ctx(pki))
    assert peer_cn(old) == "Server-1"
    with pytest.raises(redis.ResponseError) as e:  # the new cert doesn't match the old key
        a.config_set("tls-cert-file", pki.server2_cert)
    assert "Unable to update TLS configuration" in str(e.value)
    assert a.config_get("tls-cert-file") == {"tls-cert-file": pki.server_cert}  # rolled back
    a.execute_command("CONFIG", "SET", "tls-cert-file", pki.server2_cert,
                      "tls-key-file", pki.server2_key)
    new = tls_sock(tport, client_ctx(pki))
    assert peer_cn(new) == "Server-2"
    assert ping(new) == b"+PONG\r\n"
    assert ping(old) == b"+PONG\r\n"  # established connections keep their session
    with pytest.raises(redis.ResponseError) as e:
        a.config_set("tls-key-file", "/nonexistent/key.pem")
    assert str(e.value) == ("CONFIG SET failed (possibly related to argument 'tls-key-file') - "
                            "Unable to update TLS configuration. Check server logs.")
    assert a.config_get("tls-key-file") == {"tls-key-file": pki.server2_key}
    s = tls_sock(tport, client_ctx(pki))
    assert ping(s) == b"+PONG\r\n"
    for c in (old, new, s):
        c.close()
    a.close()


def test_encrypted_key(pki: Pki, tlssrv: tuple[ServerProcess, int]) -> None:
    p, tport = tlssrv
    a = admin(p)
    with pytest.raises(redis.ResponseError, match="Unable to update TLS"):
        a.config_set("tls-key-file", pki.encrypted_key)
    a.config_set("tls-key-file-pass", "1234")
    a.config_set("tls-key-file", pki.encrypted_key)
    assert not refused(tport, client_ctx(pki))
    a.close()


def test_protocols_and_ciphers(pki: Pki, tlssrv: tuple[ServerProcess, int]) -> None:
    p, tport = tlssrv
    a = admin(p)
    a.config_set("tls-protocols", "TLSv1.2")
    assert refused(tport, client_ctx(pki, min_version=ssl.TLSVersion.TLSv1_3))
    s = tls_sock(tport, client_ctx(pki))
    assert s.version() == "TLSv1.2"
    s.close()
    a.config_set("tls-ciphers", "DEFAULT:-ECDHE-ECDSA-AES128-GCM-SHA256")
    assert refused(tport, client_ctx(pki, ciphers="ECDHE-ECDSA-AES128-GCM-SHA256"))
    s = tls_sock(tport, client_ctx(pki, ciphers="ECDHE-ECDSA-AES256-GCM-SHA384"))
    assert cipher(s) == "ECDHE-ECDSA-AES256-GCM-SHA384"
    s.close()
    # Without server preference the client's order wins; with it, the server's.
    a.config_set("tls-ciphers", "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384")
    both = "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-ECDSA-AES128-GCM-SHA256"
    s = tls_sock(tport, client_ctx(pki, ciphers=both))
    assert cipher(s) == "ECDHE-ECDSA-AES256-GCM-SHA384"
    s.close()
    a.config_set("tls-prefer-server-ciphers", "yes")
    s = tls_sock(tport, client_ctx(pki, ciphers=both))
    assert cipher(s) == "ECDHE-ECDSA-AES128-GCM-SHA256"
    s.close()
    with pytest.raises(redis.ResponseError, match="Unable to update TLS"):
        a.config_set("tls-protocols", "TLSv9")
    with pytest.raises(redis.ResponseError, match="Unable to update TLS"):
        a.config_set("tls-ciphers", "NOT-A-CIPHER")
    a.close()


def test_tls13_ciphersuites(pki: Pki, tlssrv: tuple[ServerProcess, int]) -> None:
    p, tport = tlssrv
    a = admin(p)
    s = tls_sock(tport, client_ctx(pki))
    assert s.version() == "TLSv1.3" and cipher(s) == "TLS_AES_256_GCM_SHA384"
    s.close()
    a.config_set("tls-ciphersuites", "TLS_CHACHA20_POLY1305_SHA256")
    s = tls_sock(tport, client_ctx(pki))
    assert cipher(s) == "TLS_CHACHA20_POLY1305_SHA256"
    s.close()
    with pytest.raises(redis.ResponseError, match="Unable to update TLS"):
        a.config_set("tls-ciphersuites", "bogus")
    a.close()


def test_move_the_tls_port(pki: Pki, tlssrv: tuple[ServerProcess, int]) -> None:
    p, tport = tlssrv
    a = admin(p)
    new_port = free_port()
    a.config_set("tls-port", str(new_port))
    assert not refused(new_port, client_ctx(pki))
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", tport), timeout=2).close()
    a.config_set("tls-port", "0")
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", new_port), timeout=2).close()
    a.close()


def test_missing_ca_is_a_configuration_error(pki: Pki) -> None:
    tport = free_port()
    out = subprocess.run(
        kaa_server_cmd() + ["--port", "0", "--tls-port", str(tport), "--save", "",
                            "--tls-cert-file", pki.server_cert, "--tls-key-file", pki.server_key],
        capture_output=True, text=True, timeout=30, cwd=pki.dir)
    assert out.returncode == 1
    assert ("Either tls-ca-cert-file or tls-ca-cert-dir must be specified when tls-cluster, "
            "tls-replication or tls-auth-clients are enabled!") in out.stdout
    assert "Failed to configure TLS. Check logs for more info." in out.stdout


def test_cli_tls(pki: Pki, tlssrv: tuple[ServerProcess, int]) -> None:
    p, tport = tlssrv
    cli = [str(Path(sys.executable).with_name("kaa-cli")), "-p", str(tport), "--tls",
           "--cacert", pki.ca]
    out = subprocess.run(cli + ["--cert", pki.client_cert, "--key", pki.client_key, "PING"],
                         capture_output=True, text=True, timeout=30)
    assert out.stdout == "PONG\n", out.stderr
    out = subprocess.run(cli[:-2] + ["--insecure", "--cert", pki.client_cert, "--key",
                                     pki.client_key, "PING"],
                         capture_output=True, text=True, timeout=30)
    assert out.stdout == "PONG\n", out.stderr
    other = os.path.join(pki.dir, "server2.crt")  # not a CA: verification must fail
    out = subprocess.run(cli[:-1] + [other, "--cert", pki.client_cert, "--key", pki.client_key,
                                     "PING"], capture_output=True, text=True, timeout=30)
    assert "Could not negotiate a TLS connection" in out.stderr


def test_session_caching(pki: Pki, tlssrv: tuple[ServerProcess, int]) -> None:
    p, tport = tlssrv
    a = admin(p)
    a.config_set("tls-protocols", "TLSv1.2")  # ticketless resumption is easiest to see in 1.2

    def resumed(ctx: ssl.SSLContext) -> bool:
        first = tls_sock(tport, ctx)
        assert ping(first) == b"+PONG\r\n"
        session = first.session
        try:
            first.unwrap().close()  # a clean shutdown keeps the session resumable
        except (ssl.SSLError, OSError):
            first.close()
        raw = socket.create_connection(("127.0.0.1", tport), timeout=5)
        second = ctx.wrap_socket(raw, server_hostname="127.0.0.1", session=session)
        try:
            assert ping(second) == b"+PONG\r\n"
            return bool(second.session_reused)
        finally:
            second.close()

    ctx = client_ctx(pki)
    ctx.options |= ssl.OP_NO_TICKET
    assert resumed(ctx)
    a.config_set("tls-session-caching", "no")
    assert not resumed(ctx)
    a.config_set("tls-session-caching", "yes", "tls-session-cache-size", "0")
    assert resumed(ctx)  # 0 means no limit, as in OpenSSL
    a.close()
