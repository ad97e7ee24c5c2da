"""Shared harness of the end-to-end tests: free ports, an nsd upstream, an
`embargo serve` process, DNS helpers and raw packet builders.

Every server here listens on 127.0.0.0/8 or ::1 only; no test reaches the
internet.
"""

import os
import shutil
import signal
import socket
import struct
import subprocess
import time
from pathlib import Path

import dns.edns
import dns.flags
import dns.message
import dns.name
import dns.opcode
import dns.query
import dns.rcode
import dns.rdatatype

HERE = Path(__file__).resolve().parent

# Readiness and shutdown budgets are generous: the suite also runs under
# AddressSanitizer, which is 2-3 times slower.
READY_TIMEOUT = float(os.environ.get("EMBARGO_READY_TIMEOUT", "10"))  # longer under valgrind
STOP_TIMEOUT = 5.0

# --------------------------------------------------------------------------
# paths


def embargo_bin():
    env = os.environ.get("EMBARGO_BIN")
    if env:
        return Path(env)
    return (HERE / ".." / ".." / "build" / "resolver" / "embargo").resolve()


def embargo_src():
    env = os.environ.get("EMBARGO_SRC")
    if env:
        return Path(env)
    return (HERE / ".." / "..").resolve()


def kaspersky_policy():
    return embargo_src() / "config" / "policies" / "kaspersky.yaml"


# --------------------------------------------------------------------------
# ports


def free_port(host="127.0.0.1"):
    """A port free for both UDP and TCP on host (racy, but good enough on
    loopback)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    for _ in range(50):
        u = socket.socket(family, socket.SOCK_DGRAM)
        try:
            u.bind((host, 0))
            port = u.getsockname()[1]
            t = socket.socket(family, socket.SOCK_STREAM)
            try:
                t.bind((host, port))
            except OSError:
                continue
            finally:
                t.close()
            return port
        finally:
            u.close()
    raise RuntimeError("no free port")


def ipv6_available():
    try:
        s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
        s.bind(("::1", 0))
        s.close()
        return True
    except OSError:
        return False


# --------------------------------------------------------------------------
# the test zones served by nsd

ZONE = "e2e.test."
NSD_TTL = 3600

BIG_A = [f"10.0.{i // 250}.{i % 250 + 1}" for i in range(100)]        # ~1.6 KB answer
BIG_TXT = [f"record {i:02d} of sixty, padding padding padding" for i in range(60)]
MEDIUM_A = [f"10.1.0.{i + 1}" for i in range(48)]                      # ~800 B answer


def e2e_zone_text():
    lines = [
        f"$ORIGIN {ZONE}",
        f"$TTL {NSD_TTL}",
        "@ SOA ns.e2e.test. hostmaster.e2e.test. 2024092901 3600 600 86400 60",
        "@ NS ns",
        "ns A 127.0.0.1",
        "www A 192.0.2.1",
        "www AAAA 2001:db8::1",
        "www MX 10 mail.e2e.test.",
        "www MX 20 mail2.e2e.test.",
        'www TXT "hello world" "second string"',
        'www TXT "v=spf1 -all"',
        "mail A 192.0.2.25",
        "mail2 A 192.0.2.26",
        "multi A 192.0.2.31",
        "multi A 192.0.2.32",
        "multi A 192.0.2.33",
        "spoof A 192.0.2.99",
        "ready A 192.0.2.2",
        # CNAME / DNAME chains into the Kaspersky zone (cloaking)
        "cloak CNAME s01.upd.kaspersky.com.",
        "cloak2 CNAME alias.e2e.test.",
        "alias CNAME dnl-07.geo.kaspersky.com.",
        "cloak-store CNAME store.kaspersky.com.",
        "cloak-ksc CNAME x.ksc.kaspersky.com.",
        "dname DNAME upd.kaspersky.com.",
        "cname-allowed CNAME opentip.kaspersky.com.",
        "cname-audited CNAME www.kaspersky.com.",
        "cname-local CNAME www.e2e.test.",
        # label boundaries: a banned name as a prefix of an allowed one
        "upd.kaspersky.com A 192.0.2.16",
    ]
    lines += [f"big A {a}" for a in BIG_A]
    lines += [f'bigtxt TXT "{t}"' for t in BIG_TXT]
    lines += [f"medium A {a}" for a in MEDIUM_A]
    return "\n".join(lines) + "\n"


def kaspersky_zone_text():
    lines = [
        "$ORIGIN kaspersky.com.",
        f"$TTL {NSD_TTL}",
        "@ SOA ns.e2e.test. hostmaster.e2e.test. 2024092901 3600 600 86400 60",
        "@ NS ns.e2e.test.",
        "dnl-07.geo A 192.0.2.7",
        "dnl-07.geo AAAA 2001:db8::7",
        "dnl-07.geo MX 10 mx.kaspersky.com.",
        "s01.upd A 192.0.2.8",
        "s01.upd AAAA 2001:db8::8",
        "store A 192.0.2.9",
        "ksc A 192.0.2.10",
        "x.ksc A 192.0.2.11",
        "opentip A 192.0.2.12",
        "www A 192.0.2.13",
        "mx A 192.0.2.14",
        "xupd A 192.0.2.15",          # not under upd.kaspersky.com
        "s01.xupd A 192.0.2.17",
    ]
    return "\n".join(lines) + "\n"


class Nsd:
    """nsd in the foreground on 127.0.0.1:port, authoritative for e2e.test.
    and kaspersky.com."""

    def __init__(self, workdir):
        self.dir = Path(workdir)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.host = "127.0.0.1"
        self.port = free_port()
        self.proc = None
        self.log = self.dir / "nsd.log"

    def write(self):
        (self.dir / "e2e.test.zone").write_text(e2e_zone_text())
        (self.dir / "kaspersky.com.zone").write_text(kaspersky_zone_text())
        d = self.dir
        conf = f"""server:
  ip-address: {self.host}@{self.port}
  port: {self.port}
  username: ""
  chroot: ""
  zonesdir: "{d}"
  pidfile: "{d}/nsd.pid"
  xfrdfile: "{d}/xfrd.state"
  zonelistfile: "{d}/zone.list"
  database: ""
  logfile: "{d}/nsd.log"
  verbosity: 0
  server-count: 1
  hide-version: yes
  tcp-count: 100
remote-control:
  control-enable: no
zone:
  name: e2e.test
  zonefile: "{d}/e2e.test.zone"
zone:
  name: kaspersky.com
  zonefile: "{d}/kaspersky.com.zone"
"""
        (self.dir / "nsd.conf").write_text(conf)

    def start(self):
        self.write()
        nsd = shutil.which("nsd") or "/usr/sbin/nsd"
        self.stderr = open(self.dir / "nsd.stderr", "wb")
        self.proc = subprocess.Popen([nsd, "-d", "-c", str(self.dir / "nsd.conf")],
                                     stdout=self.stderr, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + READY_TIMEOUT
        q = dns.message.make_query("ready.e2e.test.", "A")
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"nsd exited with {self.proc.returncode}: {self.diagnostics()}")
            try:
                r = dns.query.udp(q, self.host, port=self.port, timeout=0.2)
                if r.rcode() == dns.rcode.NOERROR and r.answer:
                    return self
            except (dns.exception.Timeout, OSError):
                pass
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"nsd did not answer within {READY_TIMEOUT}s: {self.diagnostics()}")

    def diagnostics(self):
        out = []
        for f in ("nsd.stderr", "nsd.log"):
            p = self.dir / f
            if p.exists():
                out.append(p.read_text(errors="replace"))
        return "\n".join(out)

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if getattr(self, "stderr", None):
            self.stderr.close()

    @property
    def addr(self):
        return f"{self.host}:{self.port}"

    def query(self, name, rdtype="A", tcp=False, **kw):
        """The reference answer, straight from nsd."""
        q = dns.message.make_query(name, rdtype, **kw)
        if tcp:
            return dns.query.tcp(q, self.host, port=self.port, timeout=2)
        return dns.query.udp(q, self.host, port=self.port, timeout=2)


# --------------------------------------------------------------------------
# policies and configs

TEST_POLICY = """\
# A policy of the tests: the nodata action and the default EDE code (15).
vendor: testvendor
name: Test Vendor
basis: e2e test basis
url: https://example.invalid/testvendor
rules:
  - id: nodata
    effective: 2020-01-01T00:00:00Z
    action: nodata
    domains:
      - nodata.testvendor.example
"""
TEST_EDE_TEXT = "testvendor/nodata: e2e test basis"
KASPERSKY_BASIS = "U.S. Commerce BIS Final Determination ICTS-2021-002 (89 FR 52434)"


def kaspersky_ede_text(rule):
    return f"kaspersky/{rule}: {KASPERSKY_BASIS}"


SINK_TTL = 300
AFTER = "2024-10-01T00:00:00Z"    # every Kaspersky rule in force
BEFORE = "2024-09-29T03:59:00Z"   # sales in force, updates/services audited
CUTOFF = "2024-09-29T04:00:00Z"   # updates in force from this instant

# Readiness probes: a name the test policy blocks (answered without any
# upstream, so it works with dead upstreams too), or one nsd serves.
READY_BLOCKED = "ready.nodata.testvendor.example."
READY_NAME = "ready.e2e.test."


def _yaml_str(s):
    return '"' + str(s).replace("\\", "\\\\").replace('"', '\\"') + '"'


def write_config(path, listen, upstreams, policies, timeout="500ms", extra=""):
    lines = ["listen:"]
    lines += [f"  - {_yaml_str(a)}" for a in listen]
    lines.append("upstreams:")
    lines += [f"  - {_yaml_str(a)}" for a in upstreams]
    lines.append(f"timeout: {timeout}")
    lines.append("policies:")
    lines += [f"  - {_yaml_str(p)}" for p in policies]
    lines += [
        "sinkhole:",
        "  ipv4: 0.0.0.0",
        '  ipv6: "::"',
        f"  ttl: {SINK_TTL}",
        "log:",
        "  queries: off",
    ]
    text = "\n".join(lines) + "\n" + extra
    Path(path).write_text(text)
    return path


class Embargo:
    """One `embargo serve` process. stderr and stdout go to files in workdir,
    shown by diagnostics() when a test fails."""

    def __init__(self, workdir, upstreams, at=None, policies=None, timeout="500ms",
                 listen6=False, extra_config="", ready_name=None, name="embargo"):
        self.dir = Path(workdir)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.name = name
        self.host = "127.0.0.1"
        self.port = free_port()
        self.listen = [f"127.0.0.1:{self.port}"]
        self.port6 = None
        if listen6:
            self.port6 = free_port("::1")
            self.listen.append(f"[::1]:{self.port6}")
        if policies is None:
            tp = self.dir / "testvendor.yaml"
            tp.write_text(TEST_POLICY)
            policies = [str(kaspersky_policy()), str(tp)]
            if ready_name is None:
                ready_name = READY_BLOCKED
        if ready_name is None:
            ready_name = READY_NAME
        self.config = write_config(self.dir / f"{name}.yaml", self.listen, upstreams,
                                   policies, timeout=timeout, extra=extra_config)
        self.at = at
        self.ready_name = ready_name
        self.proc = None
        self.stderr_path = self.dir / f"{name}.stderr"
        self.stdout_path = self.dir / f"{name}.stdout"
        self.started_at = None

    def argv(self):
        a = [str(embargo_bin()), "serve", "-c", str(self.config)]
        if self.at:
            a += ["--at", self.at]
        return a

    def spawn(self):
        binp = embargo_bin()
        if not binp.exists():
            raise AssertionError(f"embargo binary not found at {binp} (set EMBARGO_BIN)")
        self._err = open(self.stderr_path, "wb")
        self._out = open(self.stdout_path, "wb")
        self.started_at = time.monotonic()
        self.proc = subprocess.Popen(self.argv(), stdout=self._out, stderr=self._err,
                                     stdin=subprocess.DEVNULL)
        return self

    def start(self):
        self.spawn()
        wait_ready(self.proc, self.host, self.port, self.ready_name, self.diagnostics)
        return self

    def diagnostics(self):
        out = [f"$ {' '.join(self.argv())}", "--- config:", Path(self.config).read_text()]
        for label, p in (("stderr", self.stderr_path), ("stdout", self.stdout_path)):
            if p.exists():
                text = p.read_text(errors="replace")
                if len(text) > 20000:
                    text = "...\n" + text[-20000:]
                out.append(f"--- {self.name} {label}:\n{text}")
        return "\n".join(out)

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def stop(self, sig=signal.SIGTERM, timeout=STOP_TIMEOUT):
        """Signals the process and returns (exit code, seconds it took)."""
        if self.proc is None:
            return None, 0.0
        t0 = time.monotonic()
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                self._close()
                raise AssertionError(f"{self.name} did not exit within {timeout}s of "
                                     f"{signal.Signals(sig).name}\n{self.diagnostics()}")
        took = time.monotonic() - t0
        self._close()
        return self.proc.returncode, took

    def stop_and_check(self):
        rc, _ = self.stop()
        assert rc == 0, f"{self.name} exited with {rc} after SIGTERM\n{self.diagnostics()}"

    def _close(self):
        for f in ("_err", "_out"):
            h = getattr(self, f, None)
            if h:
                h.close()
                setattr(self, f, None)

    # queries ---------------------------------------------------------
    def udp(self, q, timeout=3.0, v6=False, **kw):
        host, port = ("::1", self.port6) if v6 else (self.host, self.port)
        return dns.query.udp(q, host, port=port, timeout=timeout, **kw)

    def tcp(self, q, timeout=3.0, v6=False, **kw):
        host, port = ("::1", self.port6) if v6 else (self.host, self.port)
        return dns.query.tcp(q, host, port=port, timeout=timeout, **kw)


def wait_ready(proc, host, port, name, diagnostics, timeout=READY_TIMEOUT):
    """Polls with a UDP query until any answer comes back."""
    deadline = time.monotonic() + timeout
    q = dns.message.make_query(name, "A")
    last = None
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"embargo exited with {proc.returncode} before answering\n"
                                 f"{diagnostics()}")
        try:
            dns.query.udp(q, host, port=port, timeout=0.3)
            return
        except Exception as e:  # noqa: BLE001 - any failure means: not yet
            last = e
            time.sleep(0.05)
    raise AssertionError(f"embargo did not answer within {timeout}s ({last!r})\n{diagnostics()}")


# --------------------------------------------------------------------------
# assertions on messages


def query(name, rdtype="A", edns=True, payload=1232, dnssec=False, rd=True, id=None):
    kw = {}
    if edns:
        kw.update(use_edns=0, payload=payload, want_dnssec=dnssec)
    else:
        kw.update(use_edns=False)
    q = dns.message.make_query(name, rdtype, **kw)
    if not rd:
        q.flags &= ~dns.flags.RD
    if id is not None:
        q.id = id
    return q


def ede_options(r):
    return [o for o in r.options if isinstance(o, dns.edns.EDEOption)]


def rrset_view(section):
    """{(owner lowercase, type, class): (set of rdata text, [ttls])}"""
    out = {}
    for rr in section:
        key = (rr.name.to_text().lower(), rr.rdtype, rr.rdclass)
        rd, ttls = out.setdefault(key, (set(), []))
        rd.update(r.to_text() for r in rr)
        ttls.append(rr.ttl)
    return out


def assert_same_answer(got, ref, what=""):
    """The answer section of `got` equals `ref`'s: same owners, types and
    rdata; TTLs no larger than the reference (a cache may have decremented
    them) and not zero."""
    g, e = rrset_view(got.answer), rrset_view(ref.answer)
    assert {k: v[0] for k, v in g.items()} == {k: v[0] for k, v in e.items()}, \
        f"{what}: answer differs from the upstream's\n--- got:\n{got}\n--- upstream:\n{ref}"
    for k, (_, ttls) in g.items():
        ref_ttl = max(e[k][1])
        for t in ttls:
            assert 0 < t <= ref_ttl, f"{what}: TTL {t} of {k} not in (0, {ref_ttl}]\n{got}"
    assert got.rcode() == ref.rcode(), f"{what}: rcode {dns.rcode.to_text(got.rcode())} " \
        f"!= upstream's {dns.rcode.to_text(ref.rcode())}"


def addresses(r, rdtype=dns.rdatatype.A):
    return sorted(rd.to_text() for rr in r.answer if rr.rdtype == rdtype for rd in rr)


def assert_header(r, q, what=""):
    """Header of any answer: ID echoed, QR and RA set, RD copied, AA clear,
    the question echoed exactly (case included)."""
    assert r.id == q.id, what
    assert r.flags & dns.flags.QR, what
    assert r.flags & dns.flags.RA, f"{what}: RA not set\n{r}"
    assert bool(r.flags & dns.flags.RD) == bool(q.flags & dns.flags.RD), f"{what}: RD not copied\n{r}"
    assert len(r.question) == 1, f"{what}: question not echoed\n{r}"
    assert r.question[0].name.labels == q.question[0].name.labels, \
        f"{what}: question name/case not echoed: {r.question[0].name} vs {q.question[0].name}"
    assert r.question[0].rdtype == q.question[0].rdtype, what
    assert r.question[0].rdclass == q.question[0].rdclass, what


def assert_edns_echo(r, q, ede_code, ede_text, what=""):
    """With EDNS in the query: OPT with the client's DO bit and one EDE.
    Without: no OPT."""
    if q.edns >= 0:
        assert r.edns >= 0, f"{what}: no OPT in the answer to an EDNS query\n{r}"
        assert bool(r.ednsflags & dns.flags.DO) == bool(q.ednsflags & dns.flags.DO), \
            f"{what}: DO bit not copied\n{r}"
        edes = ede_options(r)
        assert len(edes) == 1, f"{what}: expected one EDE option, got {edes}\n{r}"
        assert edes[0].code == ede_code, f"{what}: EDE code {edes[0].code} != {ede_code}"
        assert edes[0].text == ede_text, f"{what}: EDE text {edes[0].text!r} != {ede_text!r}"
    else:
        assert r.edns < 0, f"{what}: OPT in the answer to a query without EDNS\n{r}"
        assert r.additional == [] or all(rr.rdtype != dns.rdatatype.OPT for rr in r.additional)


def assert_synth_soa(r, q, what=""):
    """Negative synthesized answer: one SOA in AUTHORITY with TTL and MINIMUM
    equal to the sinkhole ttl."""
    soas = [rr for rr in r.authority if rr.rdtype == dns.rdatatype.SOA]
    assert len(soas) == 1 and len(soas[0]) == 1, f"{what}: expected one SOA in AUTHORITY\n{r}"
    soa = soas[0]
    assert soa.ttl == SINK_TTL, f"{what}: SOA TTL {soa.ttl} != {SINK_TTL}"
    assert soa[0].minimum == SINK_TTL, f"{what}: SOA MINIMUM {soa[0].minimum} != {SINK_TTL}"
    return soa


# --------------------------------------------------------------------------
# raw wire builders, for malformed packets and pipelining


def header(id=0x1234, qr=0, opcode=0, aa=0, tc=0, rd=1, ra=0, rcode=0,
           qd=1, an=0, ns=0, ar=0):
    flags = (qr << 15) | (opcode << 11) | (aa << 10) | (tc << 9) | (rd << 8) | (ra << 7) | rcode
    return struct.pack("!HHHHHH", id, flags, qd, an, ns, ar)


def wire_name(name):
    out = b""
    for label in name.rstrip(".").split("."):
        if label:
            b = label.encode()
            out += bytes([len(b)]) + b
    return out + b"\x00"


def question(name="www.e2e.test.", qtype=1, qclass=1):
    return wire_name(name) + struct.pack("!HH", qtype, qclass)


def parse_header(data):
    id_, flags, qd, an, ns, ar = struct.unpack("!HHHHHH", data[:12])
    return {
        "id": id_, "qr": flags >> 15, "opcode": (flags >> 11) & 0xF,
        "aa": (flags >> 10) & 1, "tc": (flags >> 9) & 1, "rd": (flags >> 8) & 1,
        "ra": (flags >> 7) & 1, "rcode": flags & 0xF,
        "qd": qd, "an": an, "ns": ns, "ar": ar,
    }


def udp_exchange(host, port, payload, timeout=1.0):
    """Sends one datagram; returns the reply or None when nothing comes within
    timeout."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    s = socket.socket(family, socket.SOCK_DGRAM)
    try:
        s.settimeout(timeout)
        s.connect((host, port))
        s.send(payload)
        try:
            return s.recv(65535)
        except (socket.timeout, ConnectionRefusedError):
            return None
    finally:
        s.close()


def tcp_frame(msg):
    return struct.pack("!H", len(msg)) + msg


def tcp_read_frame(sock):
    """One length-prefixed message, or None on EOF."""
    hdr = _recv_exact(sock, 2)
    if hdr is None:
        return None
    (n,) = struct.unpack("!H", hdr)
    return _recv_exact(sock, n)


def _recv_exact(sock, n):
    buf = b""
    while len(buf) < n:
        chunk = sock.recv(n - len(buf))
        if not chunk:
            return None
        buf += chunk
    return buf
