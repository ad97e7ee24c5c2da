"""DNS over TLS for clients (RFC 7858): the `tls.listen` listener.

The test makes its own CA and server certificates with the openssl CLI. It
checks that answers (forwarded and blocked) come over TLS to kdig, that fifty
pipelined queries on one connection all come back, ALPN "dot", that a
client that never finishes a handshake is closed after the handshake
deadline, that clear DNS sent to the TLS port is closed, and that SIGHUP
loads a new certificate for new connections while a broken one keeps the
old and says why.
"""
import shutil
import signal
import socket
import ssl
import struct
import subprocess
import time
import urllib.request
from pathlib import Path

import dns.message
import dns.rcode
import pytest

from e2e_util import AFTER, addresses, free_port, kaspersky_ede_text, query, tcp_frame

HANDSHAKE_S = 5.0   # TLS_HANDSHAKE_MS in resolver/listen_tls.h

pytestmark = pytest.mark.skipif(shutil.which("openssl") is None, reason="needs the openssl CLI")


def openssl(*args, cwd):
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


def make_server_cert(d, name, cn, sans):
    """name.key and name.pem in d, signed by d/ca.pem, for `sans`."""
    openssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
            "-keyout", f"{name}.key", "-out", f"{name}.csr", "-subj", f"/CN={cn}", cwd=d)
    (d / f"{name}.ext").write_text(f"subjectAltName={sans}\nbasicConstraints=CA:FALSE\n"
                                   "extendedKeyUsage=serverAuth\n")
    openssl("x509", "-req", "-in", f"{name}.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
            "-CAcreateserial", "-out", f"{name}.pem", "-days", "2", "-extfile", f"{name}.ext",
            cwd=d)
    return d / f"{name}.pem", d / f"{name}.key"


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    """A CA, a certificate for dot.test (and IP 127.0.0.1), and a second one
    (CN dot2.test, another serial) for the reload."""
    d = tmp_path_factory.mktemp("pki")
    openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
            "-keyout", "ca.key", "-out", "ca.pem", "-days", "2", "-subj", "/CN=embargo test CA",
            cwd=d)
    good = make_server_cert(d, "good", "dot.test", "DNS:dot.test,IP:127.0.0.1")
    second = make_server_cert(d, "second", "dot2.test", "DNS:dot.test,IP:127.0.0.1")
    return {"ca": d / "ca.pem", "good": good, "second": second}


def tls_config(port, cert, key):
    return (f'tls:\n  listen: ["127.0.0.1:{port}"]\n'
            f'  certificate: "{cert}"\n  key: "{key}"\n')


def start_dot(factory, cert, key, more="", **kw):
    port = free_port()
    e = factory(at=AFTER, extra_config=tls_config(port, cert, key) + more, **kw)
    e.tls_port = port
    return e


@pytest.fixture(scope="module")
def dot(module_embargo_factory, pki):
    """The module's daemon, with the HTTP endpoint for the metrics."""
    http = free_port()
    e = start_dot(module_embargo_factory, *pki["good"], more=f"http: 127.0.0.1:{http}\n")
    e.http = f"http://127.0.0.1:{http}"
    return e


def tls_connect(e, ca, alpn=None, timeout=5.0):
    ctx = ssl.create_default_context(cafile=str(ca))
    if alpn is not None:
        ctx.set_alpn_protocols(alpn)
    raw = socket.create_connection(("127.0.0.1", e.tls_port), timeout=timeout)
    return ctx.wrap_socket(raw, server_hostname="dot.test")


def read_frame(s):
    buf = b""
    while len(buf) < 2:
        chunk = s.recv(2 - len(buf))
        if not chunk:
            return None
        buf += chunk
    (n,) = struct.unpack("!H", buf)
    out = b""
    while len(out) < n:
        chunk = s.recv(n - len(out))
        if not chunk:
            return None
        out += chunk
    return out


def kdig(e, ca, *args):
    r = subprocess.run(["kdig", "@127.0.0.1", "-p", str(e.tls_port), "+tls", f"+tls-ca={ca}",
                        "+tls-hostname=dot.test", "+timeout=3", "+retry=0", *args],
                       capture_output=True, text=True, timeout=15)
    return r.stdout + r.stderr


def closed_within(s, limit):
    """Seconds until the server closes s (EOF or reset), or None by limit."""
    t0 = time.monotonic()
    s.settimeout(limit)
    try:
        while s.recv(4096):
            pass
    except (ConnectionResetError, BrokenPipeError):
        pass
    except socket.timeout:
        return None
    return time.monotonic() - t0


def test_kdig_forwarded_and_blocked(dot, pki):
    out = kdig(dot, pki["ca"], "www.e2e.test", "A")
    assert ";; TLS session" in out, out
    assert "status: NOERROR" in out and "192.0.2.1" in out, out
    out = kdig(dot, pki["ca"], "+edns", "s01.upd.kaspersky.com", "A")
    assert "0.0.0.0" in out, out
    assert "EDE: 16" in out and kaspersky_ede_text("updates") in out, out


def test_metrics_count_tls_queries(dot, pki):
    def tls_noerror():
        body = urllib.request.urlopen(dot.http + "/metrics", timeout=3).read().decode()
        line = 'embargo_queries_total{transport="tls",rcode="NOERROR"} '
        return int(next(ln for ln in body.splitlines() if ln.startswith(line)).split()[-1])
    before = tls_noerror()
    assert "192.0.2.1" in kdig(dot, pki["ca"], "www.e2e.test", "A")
    assert tls_noerror() == before + 1


def test_fifty_pipelined_queries_on_one_connection(dot, pki):
    names = ["www.e2e.test.", "multi.e2e.test.", "s01.upd.kaspersky.com.", "mail.e2e.test.",
             "ready.nodata.testvendor.example."]
    sent = {}
    for i in range(50):
        q = query(names[i % len(names)], "A", id=1000 + i)
        sent[q.id] = q
    with tls_connect(dot, pki["ca"]) as s:
        s.sendall(b"".join(tcp_frame(q.to_wire()) for q in sent.values()))
        got = {}
        for _ in range(50):
            wire = read_frame(s)
            assert wire is not None, f"closed after {len(got)} answers"
            r = dns.message.from_wire(wire)
            got[r.id] = r
    assert set(got) == set(sent)
    for id_, r in got.items():
        assert r.question[0].name == sent[id_].question[0].name
        assert r.rcode() == dns.rcode.NOERROR
    assert addresses(got[1000]) == ["192.0.2.1"]
    assert addresses(got[1002]) == ["0.0.0.0"]


class BioClient:
    """A TLS 1.3 client on memory BIOs: the test decides which records go
    into which send() on the socket."""

    def __init__(self, e, ca):
        ctx = ssl.create_default_context(cafile=str(ca))
        ctx.minimum_version = ssl.TLSVersion.TLSv1_3
        self.inc, self.out = ssl.MemoryBIO(), ssl.MemoryBIO()
        self.tls = ctx.wrap_bio(self.inc, self.out, server_hostname="dot.test")
        self.raw = socket.create_connection(("127.0.0.1", e.tls_port), timeout=10)
        self.raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = b""

    def handshake(self):
        """Up to the client's Finished, which stays unsent in self.out."""
        while True:
            try:
                self.tls.do_handshake()
                return
            except ssl.SSLWantReadError:
                if self.out.pending:
                    self.raw.sendall(self.out.read())
                self._recv()

    def _recv(self):
        data = self.raw.recv(65536)  # times out if the server left a query unread
        assert data, "closed by the server"
        self.inc.write(data)

    def frame(self):
        while True:
            try:
                self.buf += self.tls.read(65536)
            except ssl.SSLWantReadError:
                pass
            if len(self.buf) >= 2:
                n = 2 + struct.unpack("!H", self.buf[:2])[0]
                if len(self.buf) >= n:
                    wire, self.buf = self.buf[2:n], self.buf[n:]
                    return wire
            self._recv()

    def close(self):
        self.raw.close()


def test_query_sent_with_the_end_of_the_handshake(dot, pki):
    """The client's Finished and its first query in one send(): the server
    reads both at once and must answer without more from the socket."""
    c = BioClient(dot, pki["ca"])
    try:
        c.handshake()
        c.tls.write(tcp_frame(query("www.e2e.test.", "A", id=4242).to_wire()))
        c.raw.sendall(c.out.read())
        r = dns.message.from_wire(c.frame())
    finally:
        c.close()
    assert r.id == 4242 and addresses(r) == ["192.0.2.1"]


def test_hundreds_of_records_sent_at_once_all_answered(dot, pki):
    """Three hundred queries, each in its own TLS record, in one send(): the
    server reads records ahead into OpenSSL's buffer, where the socket no
    longer signals them, and stops reading at 128 queries in flight to the
    upstream (distinct names, none cached); every one must be answered."""
    sent = {}
    for i in range(300):
        q = query(f"ahead{i}-{time.monotonic_ns()}.e2e.test.", "A", id=i)
        sent[q.id] = q
    c = BioClient(dot, pki["ca"])
    try:
        c.handshake()
        c.raw.sendall(c.out.read())  # Finished alone
        for q in sent.values():
            c.tls.write(tcp_frame(q.to_wire()))  # one record each
        c.raw.sendall(c.out.read())
        got = {}
        for _ in sent:
            r = dns.message.from_wire(c.frame())
            got[r.id] = r
    finally:
        c.close()
    assert set(got) == set(sent)
    for id_, r in got.items():
        assert r.question[0].name == sent[id_].question[0].name


def test_alpn(dot, pki):
    with tls_connect(dot, pki["ca"], alpn=["dot"]) as s:
        assert s.selected_alpn_protocol() == "dot"
    with tls_connect(dot, pki["ca"], alpn=["h2", "dot"]) as s:
        assert s.selected_alpn_protocol() == "dot"
    with tls_connect(dot, pki["ca"]) as s:
        assert s.selected_alpn_protocol() is None
    with pytest.raises(ssl.SSLError, match="NO_APPLICATION_PROTOCOL|no application protocol"):
        tls_connect(dot, pki["ca"], alpn=["h2"])


def test_clear_dns_to_the_tls_port_is_closed(dot):
    with socket.create_connection(("127.0.0.1", dot.tls_port), timeout=5) as s:
        s.sendall(tcp_frame(query("www.e2e.test.", "A").to_wire()))
        took = closed_within(s, 2.0)
    assert took is not None, "a clear DNS query on the TLS port was not closed"


def test_silent_client_is_closed_after_the_handshake_deadline(dot):
    with socket.create_connection(("127.0.0.1", dot.tls_port), timeout=5) as s:
        took = closed_within(s, HANDSHAKE_S + 1.0)
    assert took is not None, f"not closed within {HANDSHAKE_S + 1.0}s"
    assert took >= HANDSHAKE_S - 0.5, f"closed after {took:.2f}s, before the deadline"
    assert dot.alive()


def peer_cn(e, ca):
    with tls_connect(e, ca) as s:
        subject = dict(x[0] for x in s.getpeercert()["subject"])
        return subject["commonName"]


def wait_log(e, text, timeout=5.0):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if text in Path(e.stderr_path).read_text(errors="replace"):
            return True
        time.sleep(0.05)
    return False


def test_sighup_reloads_the_certificate(embargo_factory, pki, tmp_path):
    cert, key = tmp_path / "server.pem", tmp_path / "server.key"
    shutil.copy(pki["good"][0], cert)
    shutil.copy(pki["good"][1], key)
    e = start_dot(embargo_factory, cert, key)
    assert peer_cn(e, pki["ca"]) == "dot.test"
    held = tls_connect(e, pki["ca"])  # stays open across the reloads

    shutil.copy(pki["second"][0], cert)
    shutil.copy(pki["second"][1], key)
    e.proc.send_signal(signal.SIGHUP)
    assert wait_log(e, "reloaded: /CN=dot2.test"), e.diagnostics()
    assert peer_cn(e, pki["ca"]) == "dot2.test"

    # a broken key: the certificate in use stays, and the log says why
    key.write_text("not a key\n")
    e.proc.send_signal(signal.SIGHUP)
    assert wait_log(e, f"cannot load the key {key}"), e.diagnostics()
    assert wait_log(e, "keeping the certificate loaded before"), e.diagnostics()
    assert peer_cn(e, pki["ca"]) == "dot2.test"

    # the connection made before the reloads still answers
    held.sendall(tcp_frame(query("www.e2e.test.", "A", id=77).to_wire()))
    r = dns.message.from_wire(read_frame(held))
    assert r.id == 77 and addresses(r) == ["192.0.2.1"]
    held.close()


def test_bad_key_at_startup_is_an_error(embargo_factory, pki, tmp_path):
    key = tmp_path / "broken.key"
    key.write_text("not a key\n")
    e = start_dot(embargo_factory, pki["good"][0], key, start="spawn")
    e.expect_exit = True
    rc = e.proc.wait(10)
    err = Path(e.stderr_path).read_text()
    assert rc != 0
    lines = [ln for ln in err.splitlines() if ln.startswith("embargo:")]
    assert len(lines) == 1 and lines[0].startswith(f"embargo: cannot load the key {key}: "), err


def test_renewed_files_are_reloaded_without_a_signal(embargo_factory, pki, tmp_path):
    cert, key = tmp_path / "server.pem", tmp_path / "server.key"
    shutil.copy(pki["good"][0], cert)
    shutil.copy(pki["good"][1], key)
    e = start_dot(embargo_factory, cert, key)
    assert peer_cn(e, pki["ca"]) == "dot.test"
    # as a renewal tool does it: new files renamed over the old ones
    shutil.copy(pki["second"][1], tmp_path / ".server.key.new")
    shutil.copy(pki["second"][0], tmp_path / ".server.pem.new")
    (tmp_path / ".server.key.new").rename(key)
    (tmp_path / ".server.pem.new").rename(cert)
    assert wait_log(e, "reloaded: /CN=dot2.test"), e.diagnostics()
    assert peer_cn(e, pki["ca"]) == "dot2.test"
