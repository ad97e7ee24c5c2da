"""DNS over TLS to upstreams (RFC 7858, RFC 8310 strict profile).

The module makes its own CAs and server certificates with the `openssl` CLI
(good: dot.test and IP 127.0.0.1; wrong name: other.test; expired: signed
under faketime in 2020; unknown CA: signed by a second CA) and starts one
Debian unbound per certificate as a DoT server on 127.0.0.1, forwarding to
the session's nsd. It checks that answers come over DoT on one pipelined
connection (a small pool of them only when busy), and that every certificate
failure (and a wrong pin) is an upstream failure: SERVFAIL with EDE 22 and a
log line naming the reason when alone, failover to the next upstream
otherwise. Never a downgrade.
"""

import asyncio
import base64
import concurrent.futures
import hashlib
import re
import shutil
import socket
import ssl
import struct
import subprocess
import threading
import time
from pathlib import Path

import dns.message
import dns.query
import dns.rcode
import pytest

from e2e_util import (AFTER, READY_TIMEOUT, addresses, ede_options, free_port, ipv6_available,
                      query)

UNBOUND = shutil.which("unbound") or "/usr/sbin/unbound"
FAKETIME = shutil.which("faketime")

pytestmark = pytest.mark.skipif(not Path(UNBOUND).exists(), reason="unbound not installed")


def run(*argv, cwd):
    subprocess.run(argv, cwd=cwd, check=True, stdout=subprocess.DEVNULL,
                   stderr=subprocess.PIPE)


def make_ca(d, name):
    run("openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
        "-nodes", "-keyout", f"{name}.key", "-out", f"{name}.pem", "-days", "30",
        "-subj", f"/CN=embargo test {name}",
        "-addext", "basicConstraints=critical,CA:TRUE",
        "-addext", "keyUsage=critical,keyCertSign,cRLSign", cwd=d)


def make_cert(d, name, ca, dns_name, faketime=None):
    """A server certificate for dns_name and IP 127.0.0.1 signed by ca;
    under faketime (a date) it was valid for one day then."""
    (d / f"{name}.ext").write_text(
        f"subjectAltName=DNS:{dns_name},IP:127.0.0.1\n"
        "basicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n")
    run("openssl", "req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
        "-nodes", "-keyout", f"{name}.key", "-out", f"{name}.csr", "-subj", f"/CN={dns_name}",
        cwd=d)
    sign = ["openssl", "x509", "-req", "-in", f"{name}.csr", "-CA", f"{ca}.pem",
            "-CAkey", f"{ca}.key", "-set_serial", str(abs(hash(name)) % 10**9 + 1),
            "-days", "1" if faketime else "30", "-extfile", f"{name}.ext", "-out", f"{name}.pem"]
    if faketime:
        sign = [FAKETIME, faketime] + sign
    run(*sign, cwd=d)


def spki_pin(pem):
    """base64 SHA-256 of the certificate's DER SubjectPublicKeyInfo."""
    pub = subprocess.run(["openssl", "x509", "-in", str(pem), "-pubkey", "-noout"],
                         check=True, capture_output=True).stdout
    der = subprocess.run(["openssl", "pkey", "-pubin", "-outform", "der"], input=pub,
                         check=True, capture_output=True).stdout
    return base64.b64encode(hashlib.sha256(der).digest()).decode()


class Unbound:
    """unbound in the foreground: DoT on 127.0.0.1:port with cert/key,
    forwarding everything to nsd, logging every query it gets."""

    def __init__(self, d, cert, key, nsd, host="127.0.0.1", extra=""):
        self.dir = Path(d)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.host = host
        self.port = free_port(host)
        self.log = self.dir / "unbound.log"
        conf = f"""server:
  interface: {host}@{self.port}
  tls-port: {self.port}
  tls-service-key: "{key}"
  tls-service-pem: "{cert}"
  do-daemonize: no
  chroot: ""
  username: ""
  directory: "{self.dir}"
  pidfile: "{self.dir}/unbound.pid"
  logfile: "{self.log}"
  use-syslog: no
  verbosity: 1
  log-queries: yes
  num-threads: 1
  do-ip6: {"yes" if ":" in host else "no"}
  access-control: 127.0.0.0/8 allow
  access-control: ::1/128 allow
{extra}
  do-not-query-localhost: no
  module-config: "iterator"
  qname-minimisation: no
  harden-referral-path: no
  cache-max-ttl: 0
  local-zone: "test." nodefault
forward-zone:
  name: "."
  forward-addr: 127.0.0.1@{nsd.port}
remote-control:
  control-enable: no
"""
        (self.dir / "unbound.conf").write_text(conf)
        self.stderr = open(self.dir / "unbound.stderr", "wb")
        self.proc = subprocess.Popen([UNBOUND, "-d", "-c", str(self.dir / "unbound.conf")],
                                     stdout=self.stderr, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL)

    def wait_listening(self):
        deadline = time.monotonic() + READY_TIMEOUT
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"unbound exited: {self.diagnostics()}")
            out = subprocess.run(["ss", "-Htln", f"sport = :{self.port}"],
                                 capture_output=True, text=True).stdout
            if out.strip():
                return
            time.sleep(0.05)
        raise RuntimeError(f"unbound did not listen: {self.diagnostics()}")

    def diagnostics(self):
        return "\n".join(p.read_text(errors="replace")
                         for p in (self.dir / "unbound.stderr", self.log) if p.exists())

    def queries_seen(self):
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.stderr.close()


class PyDot:
    """A small DoT server in the test process, for what unbound does not
    show: whether a connection resumed a TLS session (server side), and a
    server that closes connections under its client's feet. Each connection
    answers (from nsd) at most `answer` queries, then closes after reading
    the next one; it closes when idle for `idle` seconds."""

    def __init__(self, pki, nsd, answer=1000, idle=0.3, port=None, mute=False):
        self.ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.ctx.load_cert_chain(pki / "good.pem", pki / "good.key")
        self.nsd, self.answer, self.idle, self.mute = nsd, answer, idle, mute
        self.port = port or free_port()
        self.resumed = []  # per connection, in order
        self.conns = []
        self.ls = socket.socket()
        self.ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.ls.bind(("127.0.0.1", self.port))
        self.ls.listen()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                c, _ = self.ls.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(c,), daemon=True).start()

    def _serve(self, c):
        try:
            s = self.ctx.wrap_socket(c, server_side=True)
        except (OSError, ssl.SSLError):
            c.close()
            return
        self.resumed.append(s.session_reused)
        self.conns.append(s)
        s.settimeout(self.idle)
        try:
            for _ in range(self.answer + 1):
                h = s.recv(2)
                if len(h) < 2:
                    break
                (n,) = struct.unpack("!H", h)
                m = b""
                while len(m) < n:
                    m += s.recv(n - len(m))
                if _ == self.answer:
                    break  # read, never answered: the connection closes
                if self.mute:
                    continue
                r = dns.query.udp(dns.message.from_wire(m), "127.0.0.1", port=self.nsd.port,
                                  timeout=2)
                w = r.to_wire()
                s.sendall(struct.pack("!H", len(w)) + w)
        except (OSError, ssl.SSLError):
            pass
        s.close()

    def close(self):
        """Stops listening and closes every connection."""
        try:
            self.ls.shutdown(socket.SHUT_RDWR)  # wakes accept(), stops listening
        except OSError:
            pass
        self.ls.close()
        for c in self.conns:
            try:
                c.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


class SlowDot:
    """A DoT server that answers every query (NXDOMAIN, made up) `delay`
    seconds after it arrived, many at once per connection (asyncio, one
    thread), and counts the connections it accepted and the most queries
    it had waiting at once on any one of them, and which resumed a session."""

    def __init__(self, pki, delay=0.2):
        self.ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.ctx.load_cert_chain(pki / "good.pem", pki / "good.key")
        self.delay = delay
        self.port = free_port()
        self.conns = 0
        self.resumed = []  # per connection, in order
        self.answered = 0
        self.most_waiting = 0
        self.loop = asyncio.new_event_loop()
        started = threading.Event()
        threading.Thread(target=self._run, args=(started,), daemon=True).start()
        if not started.wait(READY_TIMEOUT):
            raise RuntimeError("SlowDot did not start")

    def _run(self, started):
        asyncio.set_event_loop(self.loop)
        self.server = self.loop.run_until_complete(
            asyncio.start_server(self._serve, "127.0.0.1", self.port, ssl=self.ctx))
        started.set()
        self.loop.run_forever()

    async def _serve(self, reader, writer):
        self.conns += 1
        self.resumed.append(writer.get_extra_info("ssl_object").session_reused)
        waiting = 0

        async def answer(m):
            nonlocal waiting
            await asyncio.sleep(self.delay)
            r = dns.message.make_response(dns.message.from_wire(m))
            r.set_rcode(dns.rcode.NXDOMAIN)
            w = r.to_wire()
            writer.write(struct.pack("!H", len(w)) + w)
            waiting -= 1
            self.answered += 1

        tasks = set()
        try:
            while True:
                (n,) = struct.unpack("!H", await reader.readexactly(2))
                m = await reader.readexactly(n)
                waiting += 1
                self.most_waiting = max(self.most_waiting, waiting)
                t = asyncio.ensure_future(answer(m))
                tasks.add(t)
                t.add_done_callback(tasks.discard)
        except (OSError, ssl.SSLError, asyncio.IncompleteReadError):
            pass
        if tasks:
            await asyncio.wait(tasks)
        writer.close()

    def close(self):
        """Stops listening, drops every connection, and ends the loop."""
        async def stop():
            self.server.close()
            tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            for t in tasks:
                t.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            self.loop.stop()
        asyncio.run_coroutine_threadsafe(stop(), self.loop)


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    d = tmp_path_factory.mktemp("pki")
    make_ca(d, "ca")
    make_ca(d, "otherca")
    make_cert(d, "good", "ca", "dot.test")
    make_cert(d, "wrongname", "ca", "other.test")
    make_cert(d, "unknownca", "otherca", "dot.test")
    if FAKETIME:
        make_cert(d, "expired", "ca", "dot.test", faketime="2020-01-01 00:00:00")
    return d


@pytest.fixture(scope="module")
def unbounds(tmp_path_factory, pki, nsd):
    """One DoT unbound per server certificate, by name."""
    kinds = ["good", "wrongname", "unknownca"] + (["expired"] if FAKETIME else [])
    out = {}
    try:
        for k in kinds:
            out[k] = Unbound(tmp_path_factory.mktemp(f"unbound-{k}"), pki / f"{k}.pem",
                             pki / f"{k}.key", nsd)
        for u in out.values():
            u.wait_listening()
        yield out
    finally:
        for u in out.values():
            u.stop()


def dot(u, name="dot.test"):
    return f"tls://127.0.0.1:{u.port}#{name}"


def ca_config(pki):
    return f'tls-ca: "{pki / "ca.pem"}"\n'


def stderr_of(e):
    return e.stderr_path.read_text(errors="replace")


def wait_log(e, pattern, timeout=3.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if re.search(pattern, stderr_of(e)):
            return
        time.sleep(0.05)
    raise AssertionError(f"no log line matching {pattern!r}\n{e.diagnostics()}")


def dot_connections(port):
    """Established TCP connections to port (from embargo's side)."""
    out = subprocess.run(["ss", "-Htn", "state", "established", f"dport = :{port}"],
                         capture_output=True, text=True).stdout
    return [line for line in out.splitlines() if line.strip()]


def assert_servfail_ede22(r, what):
    assert r.rcode() == dns.rcode.SERVFAIL, f"{what}\n{r}"
    assert [o.code for o in ede_options(r)] == [22], f"{what}: expected EDE 22\n{r}"


def test_answers_over_dot(embargo_factory, unbounds, pki, nsd):
    u = unbounds["good"]
    e = embargo_factory(upstreams=[dot(u)], at=AFTER, extra_config=ca_config(pki))
    r = e.udp(query("www.e2e.test.", "A"))
    assert r.rcode() == dns.rcode.NOERROR, f"{r}\n{e.diagnostics()}\n{u.diagnostics()}"
    assert addresses(r) == ["192.0.2.1"]
    r = e.tcp(query("www.e2e.test.", "AAAA"))
    assert r.rcode() == dns.rcode.NOERROR and r.answer, r
    assert "www.e2e.test. A IN" in u.queries_seen(), "unbound did not see the query"
    assert "tls://127.0.0.1" in stderr_of(e)  # the startup log names the DoT upstream


def test_pipelined_on_one_connection(embargo_factory, unbounds, pki):
    u = unbounds["good"]
    e = embargo_factory(upstreams=[dot(u)], at=AFTER, extra_config=ca_config(pki))
    names = [f"n{i}.e2e.test." for i in range(20)]  # NXDOMAIN each: distinct questions
    names[0] = "www.e2e.test."
    with concurrent.futures.ThreadPoolExecutor(20) as pool:
        rs = list(pool.map(lambda n: e.udp(query(n, "A"), timeout=5), names))
    for n, r in zip(names, rs):
        assert r.rcode() in (dns.rcode.NOERROR, dns.rcode.NXDOMAIN), f"{n}: {r}"
    assert addresses(rs[0]) == ["192.0.2.1"]
    # twenty in flight at most, fewer than UPDOT_BUSY (32): the pool never grows
    conns = dot_connections(u.port)
    assert len(conns) == 1, f"expected one DoT connection, found {conns}"


def test_blocked_names_never_reach_dot(embargo_factory, unbounds, pki):
    u = unbounds["good"]
    e = embargo_factory(upstreams=[dot(u)], at=AFTER, extra_config=ca_config(pki))
    r = e.udp(query("s01.upd.kaspersky.com.", "A"))
    assert r.rcode() == dns.rcode.NOERROR and addresses(r) == ["0.0.0.0"], r  # sinkholed
    r = e.udp(query("mail.e2e.test.", "A"))  # a passed one does, after it
    assert addresses(r) == ["192.0.2.25"]
    deadline = time.monotonic() + 2
    while "mail.e2e.test. A IN" not in u.queries_seen() and time.monotonic() < deadline:
        time.sleep(0.05)
    seen = u.queries_seen()
    assert "mail.e2e.test. A IN" in seen
    assert "kaspersky" not in seen, "a blocked name reached the DoT upstream"


BAD = [
    ("wrongname", "dot.test", r"certificate verification failed: hostname mismatch"),
    ("unknownca", "dot.test", r"certificate verification failed: unable to get local issuer"),
    ("expired", "dot.test", r"certificate verification failed: certificate has expired"),
]


@pytest.mark.parametrize("kind,name,reason", BAD, ids=[b[0] for b in BAD])
def test_bad_certificate_fails(embargo_factory, unbounds, pki, kind, name, reason):
    if kind not in unbounds:
        pytest.skip("faketime not installed")
    u = unbounds[kind]
    e = embargo_factory(upstreams=[dot(u, name)], at=AFTER, extra_config=ca_config(pki))
    r = e.udp(query("www.e2e.test.", "A"), timeout=5)
    assert_servfail_ede22(r, kind)
    wait_log(e, re.escape(f"tls://127.0.0.1:{u.port}#{name}: ") + reason)
    # again (backoff or a new attempt): still a failure, and logged once
    time.sleep(0.15)
    r = e.udp(query("mail.e2e.test.", "A"), timeout=5)
    assert_servfail_ede22(r, f"{kind}, second query")
    assert len(re.findall(reason, stderr_of(e))) == 1, stderr_of(e)
    assert "www.e2e.test" not in u.queries_seen(), "a query was sent despite the failure"


def test_system_store_does_not_know_the_test_ca(embargo_factory, unbounds):
    u = unbounds["good"]
    e = embargo_factory(upstreams=[dot(u)], at=AFTER)  # no tls-ca: the system store
    r = e.udp(query("www.e2e.test.", "A"), timeout=5)
    assert_servfail_ede22(r, "system store")
    wait_log(e, r"unable to get local issuer certificate")


def pinned(e, u, pin):
    """Rewrites e's config: the DoT upstream in the mapping form with a pin."""
    text = Path(e.config).read_text()
    item = f'"{dot(u)}"'
    assert item in text
    Path(e.config).write_text(text.replace(item, f'{{address: {item}, pin-sha256: "{pin}"}}'))


def test_pin(embargo_factory, unbounds, pki):
    u = unbounds["good"]
    good = spki_pin(pki / "good.pem")
    wrong = spki_pin(pki / "wrongname.pem")
    e = embargo_factory(upstreams=[dot(u)], at=AFTER, extra_config=ca_config(pki), start=False)
    pinned(e, u, good)
    e.start()
    r = e.udp(query("www.e2e.test.", "A"))
    assert addresses(r) == ["192.0.2.1"], f"{r}\n{e.diagnostics()}"
    assert "(pinned)" in stderr_of(e)

    e2 = embargo_factory(upstreams=[dot(u)], at=AFTER, extra_config=ca_config(pki), start=False)
    pinned(e2, u, wrong)
    e2.start()
    r = e2.udp(query("www.e2e.test.", "A"), timeout=5)
    assert_servfail_ede22(r, "wrong pin")
    wait_log(e2, re.escape(f"pin-sha256 mismatch: the server's key is {good}"))


def test_failover_to_next_upstream(embargo_factory, unbounds, pki, nsd):
    """Every bad DoT upstream first, nsd last: the answer comes from nsd, and
    each failure is logged with its reason."""
    e = embargo_factory(upstreams=[dot(unbounds[k]) for k, _, _ in BAD if k in unbounds]
                        + [nsd.addr], at=AFTER, extra_config=ca_config(pki))
    r = e.udp(query("www.e2e.test.", "A"), timeout=5)
    assert addresses(r) == ["192.0.2.1"], f"{r}\n{e.diagnostics()}"
    for k, _, reason in BAD:
        if k in unbounds:
            wait_log(e, reason)


def test_dead_dot_upstream(embargo_factory):
    port = free_port()
    e = embargo_factory(upstreams=[f"tls://127.0.0.1:{port}#dot.test"], at=AFTER)
    t0 = time.monotonic()
    r = e.udp(query("www.e2e.test.", "A"), timeout=5)
    assert_servfail_ede22(r, "nothing listens")
    assert time.monotonic() - t0 < 1.5
    wait_log(e, re.escape(f"tls://127.0.0.1:{port}#dot.test: connection failed"))


def test_bad_tls_ca_file_fails_at_startup(embargo_factory, tmp_path, unbounds):
    bad = tmp_path / "nothing.pem"
    bad.write_text("not a certificate\n")
    e = embargo_factory(upstreams=[dot(unbounds["good"])], at=AFTER,
                        extra_config=f'tls-ca: "{bad}"\n', start="spawn")
    e.expect_exit = True
    rc = e.proc.wait(10)
    assert rc != 0
    assert "tls-ca" in stderr_of(e), stderr_of(e)


def test_session_resumed_after_idle_close(embargo_factory, pki, nsd):
    """The server closes idle connections; the next query opens a new one
    that resumes the last TLS session."""
    srv = PyDot(pki, nsd, idle=0.3)
    try:
        e = embargo_factory(upstreams=[f"tls://127.0.0.1:{srv.port}#dot.test"], at=AFTER,
                            extra_config=ca_config(pki))
        for name in ("www.e2e.test.", "mail.e2e.test.", "mail2.e2e.test."):
            r = e.udp(query(name, "A"))
            assert r.rcode() == dns.rcode.NOERROR and r.answer, f"{name}: {r}"
            time.sleep(0.6)
        assert srv.resumed == [False, True, True], srv.resumed
        assert "warning" not in stderr_of(e), stderr_of(e)  # an idle close is no failure
    finally:
        srv.close()


def test_queries_resent_when_server_closes(embargo_factory, pki, nsd):
    """A connection that was answering closes with a query on it (the
    server's idle timeout crossed it): the query goes again on a new
    connection instead of failing."""
    srv = PyDot(pki, nsd, answer=1, idle=5)
    try:
        e = embargo_factory(upstreams=[f"tls://127.0.0.1:{srv.port}#dot.test"], at=AFTER,
                            extra_config=ca_config(pki))
        r = e.udp(query("www.e2e.test.", "A"))
        assert addresses(r) == ["192.0.2.1"], r
        r = e.udp(query("mail.e2e.test.", "A"))  # read by conn 1, which closes
        assert addresses(r) == ["192.0.2.25"], f"{r}\n{e.diagnostics()}"
        assert len(srv.resumed) == 2, srv.resumed
    finally:
        srv.close()


def test_reconnect_after_backoff(embargo_factory, pki, nsd):
    """The upstream goes away (SERVFAIL, logged), comes back on the same
    port, and is used again once the backoff has passed."""
    srv = PyDot(pki, nsd, idle=5)
    port = srv.port
    e = embargo_factory(upstreams=[f"tls://127.0.0.1:{port}#dot.test"], at=AFTER,
                        extra_config=ca_config(pki))
    assert addresses(e.udp(query("www.e2e.test.", "A"))) == ["192.0.2.1"]
    srv.close()
    time.sleep(0.2)
    r = e.udp(query("mail.e2e.test.", "A"), timeout=5)
    assert_servfail_ede22(r, "upstream gone")
    srv = PyDot(pki, nsd, idle=5, port=port)
    try:
        deadline = time.monotonic() + 3
        while True:
            r = e.udp(query("mail2.e2e.test.", "A"), timeout=5)
            if r.rcode() == dns.rcode.NOERROR or time.monotonic() > deadline:
                break
            time.sleep(0.1)
        assert addresses(r) == ["192.0.2.26"], f"{r}\n{e.diagnostics()}"
    finally:
        srv.close()


def test_silent_connection_is_replaced(embargo_factory, pki, nsd):
    """A server that takes queries and never answers: each one times out
    (SERVFAIL), and after UPDOT_STALL_MS of silence the connection is
    dropped as failed, logged, and the next query opens a new one."""
    srv = PyDot(pki, nsd, idle=30, mute=True)
    try:
        e = embargo_factory(upstreams=[f"tls://127.0.0.1:{srv.port}#dot.test"], at=AFTER,
                            extra_config=ca_config(pki))
        assert_servfail_ede22(e.udp(query("www.e2e.test.", "A"), timeout=5), "mute server")
        wait_log(e, r"dot\.test: nothing received for 5000 ms after a query", timeout=8)
        time.sleep(0.2)  # the backoff after a connection that never answered
        assert_servfail_ede22(e.udp(query("mail.e2e.test.", "A"), timeout=5), "mute server")
        assert len(srv.resumed) == 2, srv.resumed
    finally:
        srv.close()


def test_pool_grows_when_busy(embargo_factory, pki):
    """Twenty queries at once (fewer than UPDOT_BUSY in flight) share one
    connection; a hundred at once to a server that answers after 200 ms
    spread over a few connections (more than one, at most UPDOT_CONNS_MAX = 4
    with one worker) that resume the first one's TLS session, and every one
    is answered."""
    srv = SlowDot(pki, delay=0.2)
    try:
        e = embargo_factory(upstreams=[f"tls://127.0.0.1:{srv.port}#dot.test"], at=AFTER,
                            timeout="3s", extra_config=ca_config(pki) + "workers: 1\n")

        def ask(names):
            with concurrent.futures.ThreadPoolExecutor(len(names)) as pool:
                return list(pool.map(lambda n: e.udp(query(n, "A"), timeout=6), names))

        rs = ask([f"low{i}.e2e.test." for i in range(20)])
        assert all(r.rcode() == dns.rcode.NXDOMAIN for r in rs), f"{rs}\n{e.diagnostics()}"
        assert srv.conns == 1, f"low load: expected one connection, got {srv.conns}"

        t0 = time.monotonic()
        rs = ask([f"busy{i}.e2e.test." for i in range(100)])
        took = time.monotonic() - t0
        bad = [r for r in rs if r.rcode() != dns.rcode.NXDOMAIN]
        assert not bad, f"{len(bad)} not answered: {bad[:3]}\n{e.diagnostics()}"
        assert 1 < srv.conns <= 4, f"busy: expected 2 to 4 connections, got {srv.conns}"
        assert srv.answered == 120, srv.answered
        # the pool shares the first connection's session
        assert srv.resumed == [False] + [True] * (srv.conns - 1), srv.resumed
        assert srv.most_waiting <= 128, srv.most_waiting  # UPDOT_PENDING
        assert took < 2.5, f"a hundred queries took {took:.2f} s"
        assert "warning" not in stderr_of(e), stderr_of(e)
    finally:
        srv.close()


def test_dead_upstream_not_hammered_by_pool(embargo_factory, pki):
    """A server that accepts TCP and closes at once (every handshake fails):
    fifty queries at once fail over (SERVFAIL) after a handful of attempts,
    not one per connection of the pool or per query, since the backoff is
    the upstream's and only one handshake runs at a time."""
    ls = socket.socket()
    ls.bind(("127.0.0.1", 0))
    ls.listen(64)
    accepted = []

    def accept():
        while True:
            try:
                c, _ = ls.accept()
            except OSError:
                return
            accepted.append(time.monotonic())
            c.close()

    threading.Thread(target=accept, daemon=True).start()
    try:
        port = ls.getsockname()[1]
        e = embargo_factory(upstreams=[f"tls://127.0.0.1:{port}#dot.test"], at=AFTER,
                            extra_config=ca_config(pki) + "workers: 1\n")
        with concurrent.futures.ThreadPoolExecutor(50) as pool:
            rs = list(pool.map(lambda i: e.udp(query(f"d{i}.e2e.test.", "A"), timeout=5),
                               range(50)))
        for r in rs:
            assert_servfail_ede22(r, "closing server")
        # 100 ms, 200 ms, 400 ms ... between attempts: a few at most
        assert 1 <= len(accepted) <= 4, f"{len(accepted)} connection attempts"
        wait_log(e, r"dot\.test: connection (failed|closed)")
    finally:
        ls.close()


def tls_handshakes(http):
    """embargo_upstream_tls_handshakes_total by its resumed label."""
    import urllib.request
    text = urllib.request.urlopen(f"{http}/metrics", timeout=3).read().decode()
    out = {}
    for line in text.splitlines():
        m = re.match(r'embargo_upstream_tls_handshakes_total\{.*resumed="(yes|no)"\} (\d+)', line)
        if m:
            out[m.group(1)] = out.get(m.group(1), 0) + int(m.group(2))
    return out


def test_session_resumed_with_unbound(embargo_factory, pki, nsd, tmp_path):
    """Debian's unbound closes idle DoT connections (tcp-idle-timeout); each
    new connection resumes the TLS session of the last one, as the handshake
    counter shows."""
    u = Unbound(tmp_path / "unbound-idle", pki / "good.pem", pki / "good.key", nsd,
                extra="  tcp-idle-timeout: 200\n")
    try:
        u.wait_listening()
        http = free_port()
        e = embargo_factory(upstreams=[dot(u)], at=AFTER,
                            extra_config=ca_config(pki) + f"http: 127.0.0.1:{http}\n")
        for name in ("www.e2e.test.", "mail.e2e.test.", "mail2.e2e.test."):
            r = e.udp(query(name, "A"))
            assert r.rcode() == dns.rcode.NOERROR and r.answer, f"{name}: {r}\n{u.diagnostics()}"
            time.sleep(0.8)  # longer than unbound's idle timeout: a new connection
        h = tls_handshakes(f"http://127.0.0.1:{http}")
        assert h.get("yes", 0) + h.get("no", 0) >= 3, f"expected a new connection per query: {h}"
        assert h.get("no", 0) == 1 and h.get("yes", 0) >= 2, f"sessions not resumed: {h}"
    finally:
        u.stop()


@pytest.mark.skipif(not ipv6_available(), reason="no ::1 on this machine")
def test_dot_upstream_over_ipv6(embargo_factory, pki, nsd, tmp_path):
    """tls://[::1]:PORT#NAME: the certificate is checked against NAME, and
    answers come back over IPv6."""
    u = Unbound(tmp_path / "unbound-v6", pki / "good.pem", pki / "good.key", nsd, host="::1")
    try:
        u.wait_listening()
        e = embargo_factory(upstreams=[f"tls://[::1]:{u.port}#dot.test"], at=AFTER,
                            extra_config=ca_config(pki))
        r = e.udp(query("www.e2e.test.", "A"))
        assert addresses(r) == ["192.0.2.1"], f"{r}\n{u.diagnostics()}"
        assert "www.e2e.test. A IN" in u.queries_seen(), u.queries_seen()
        bad = embargo_factory(upstreams=[f"tls://[::1]:{u.port}#other.test"], at=AFTER,
                              extra_config=ca_config(pki))
        r = bad.udp(query("mail.e2e.test.", "A"))
        assert_servfail_ede22(r, "wrong name over IPv6")
    finally:
        u.stop()
