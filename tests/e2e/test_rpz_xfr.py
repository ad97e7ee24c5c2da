"""The RPZ zone served over AXFR/IXFR with TSIG and an ACL, and NOTIFY of
every new serial, cutoff instants included (DESIGN.md section 7;
resolver/xfr*.c). Transfers are made with kdig (knot-dnsutils) and checked
again with dnspython where a second reader helps (multi-message TSIG)."""

import re
import socket
import subprocess
import threading
import time

import dns.flags
import dns.message
import dns.name
import dns.opcode
import dns.query
import dns.rcode
import dns.rdatatype
import dns.rrset
import dns.tsigkeyring
import dns.zone
import pytest

from e2e_util import AFTER, TEST_POLICY, embargo_bin, free_port, kaspersky_policy

ZONE = "rpz.embargo."
KEY_NAME = "xfr-key"
SECRET = "c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0IQ=="
WRONG = "d3JvbmctZ3Jvbmctd3Jvbmctd3JvbmchIQ=="
CUTOFF_TS = 1727582400            # 2024-09-29T04:00:00Z: kaspersky/updates

XFRTEST = """\
vendor: xfrtest
rules:
  - id: block
    effective: 2020-01-01T00:00:00Z
    action: nxdomain
    domains:
{domains}
"""


def rpz_yaml(port, tsig=False, acl="[127.0.0.0/8]", notify=()):
    text = (f"rpz:\n  zone: {ZONE}\n  listen: [\"127.0.0.1:{port}\"]\n"
            f"  allow-transfer: {acl}\n")
    if tsig:
        text += f"  tsig:\n    - name: {KEY_NAME}\n      secret: \"{SECRET}\"\n"
    if notify:
        text += "  notify: [" + ", ".join(f'"{a}"' for a in notify) + "]\n"
    return text


def start(factory, tmp_path, domains=("a.xfrtest.example",), at=AFTER, ready=True, **kw):
    pol = tmp_path / "xfrtest.yaml"
    pol.write_text(XFRTEST.format(domains="".join(f"      - {d}\n" for d in domains)))
    tp = tmp_path / "testvendor.yaml"
    tp.write_text(TEST_POLICY)
    port = free_port()
    e = factory(at=at, policies=[str(kaspersky_policy()), str(tp), str(pol)],
                ready_name="ready.nodata.testvendor.example.", extra_config=rpz_yaml(port, **kw),
                start=ready)
    e.rpz_port = port
    e.xfrtest = pol
    return e


def kdig(e, *args, timeout=30):
    r = subprocess.run(["kdig", "@127.0.0.1", "-p", str(e.rpz_port), *args],
                       capture_output=True, text=True, timeout=timeout)
    return r.stdout + r.stderr


def records(out):
    """The records of a kdig transfer output, as (name, type, rdata) in order."""
    rrs = []
    for line in out.splitlines():
        if not line or line.startswith(";"):
            continue
        f = line.split(None, 4)
        if len(f) == 5 and f[3] != "TSIG":
            rrs.append((f[0].lower(), f[3], " ".join(f[4].split())))
    return rrs


def soa_serial(e, keyring=None):
    q = dns.message.make_query(ZONE, "SOA")
    if keyring:
        q.use_tsig(keyring, keyname=KEY_NAME)
    r = dns.query.udp(q, "127.0.0.1", port=e.rpz_port, timeout=2)
    assert r.rcode() == dns.rcode.NOERROR, r
    return r.answer[0][0].serial


def stderr(e):
    return e.stderr_path.read_text(errors="replace")


def wait_for(pred, timeout, what, e):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        v = pred()
        if v:
            return v
        time.sleep(0.1)
    raise AssertionError(f"timed out: {what}\n{e.diagnostics()}")


def test_axfr_is_embargo_rpz(embargo_factory, tmp_path):
    e = start(embargo_factory, tmp_path)
    serial = soa_serial(e)
    assert serial == 1727740800        # rpz_next_serial(0, --at)
    out = kdig(e, ZONE, "AXFR")
    got = records(out)
    assert got[0][1] == "SOA" and got[-1][1] == "SOA", out
    r = subprocess.run([str(embargo_bin()), "rpz", "-c", str(e.config), "--at", AFTER,
                        "--serial", str(serial)], capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r.stderr
    want = dns.zone.from_text(r.stdout, origin=ZONE, relativize=False)
    have = dns.zone.from_text("\n".join(l for l in out.splitlines() if l and not l.startswith(";")),
                              origin=ZONE, relativize=False, check_origin=False)
    assert want == have
    assert ("a.xfrtest.example.rpz.embargo.", "CNAME", ".") in got
    assert ("*.a.xfrtest.example.rpz.embargo.", "CNAME", ".") in got
    assert ("upd.kaspersky.com.rpz.embargo.", "A", "0.0.0.0") in got
    assert "AXFR rpz.embargo. 1727740800 to 127.0.0.1:" in stderr(e)
    assert f"{len(got)} records, 1 message" in stderr(e)


def test_ixfr_after_reload_sends_the_difference(embargo_factory, tmp_path):
    e = start(embargo_factory, tmp_path)
    old = soa_serial(e)
    # IXFR from the current serial: the SOA alone
    cur = records(kdig(e, ZONE, f"IXFR={old}"))
    assert [r[1] for r in cur] == ["SOA"]
    _replace(e.xfrtest, XFRTEST.format(domains="      - a.xfrtest.example\n"
                                       "      - b.xfrtest.example\n"))
    e.proc.send_signal(1)  # SIGHUP
    new = wait_for(lambda: (s := soa_serial(e)) != old and s, 15, "a new serial after reload", e)
    assert (new - old) % 2**32 < 2**31, (old, new)     # greater in RFC 1982 terms
    out = kdig(e, ZONE, f"IXFR={old}")
    got = records(out)
    # new SOA, old SOA, (nothing deleted), new SOA, the two added, new SOA
    assert [r[1] for r in got] == ["SOA", "SOA", "SOA", "CNAME", "CNAME", "SOA"], out
    assert got[1][2].split()[2] == str(old) and got[0][2].split()[2] == str(new)
    assert {r[0] for r in got[3:5]} == {"b.xfrtest.example.rpz.embargo.",
                                        "*.b.xfrtest.example.rpz.embargo."}
    assert f"IXFR rpz.embargo. {old} -> {new} to 127.0.0.1:" in stderr(e)
    # an unknown serial gets the whole zone; the current one the SOA
    full = records(kdig(e, ZONE, "IXFR=12345"))
    assert len(full) == len(records(kdig(e, ZONE, "AXFR"))) > 6
    assert [r[1] for r in records(kdig(e, ZONE, f"IXFR={new}"))] == ["SOA"]
    # the same content again: no new serial
    e.proc.send_signal(1)
    wait_for(lambda: stderr(e).count("policy 3 in force"), 15, "the second reload", e)
    assert soa_serial(e) == new
    # a broken policy keeps the zone
    _replace(e.xfrtest, "vendor: [broken\n")
    e.proc.send_signal(1)
    wait_for(lambda: "still running the policy loaded before" in stderr(e), 15, "a failed reload", e)
    assert soa_serial(e) == new
    assert len(records(kdig(e, ZONE, "AXFR"))) == len(full)


TICKS_AT = 1893456000             # 2030-01-01T00:00:00Z
TICKS_FIRST, TICKS_N = 4, 6        # rules t1..t6 start at TICKS_AT + 4 .. + 9


def iso(ts):
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ts))


def test_every_cutoff_in_a_row_switches_the_zone(embargo_factory, tmp_path):
    """Six rules that start one second apart, on a pinned clock: each is
    logged as taking effect once, and the zone ends up with all of them.
    libevent's coarse clock can fire the policy timer a millisecond before
    the instant; the 20,000-name zone makes each rebuild take long enough
    that re-reading the clock afterwards would land past the cutoff the
    rebuild did not see, and skip it for good."""
    bulk = "".join(f"      - b{i}.bulk.example\n" for i in range(20000))
    ticks = "".join(f"  - id: t{k}\n    effective: {iso(TICKS_AT + TICKS_FIRST - 1 + k)}\n"
                    f"    action: nxdomain\n    domains: [t{k}.ticks.example]\n"
                    for k in range(1, TICKS_N + 1))
    pol = tmp_path / "ticks.yaml"
    # the xfrtest policy's one rule, its names the bulk, then the ticks
    pol.write_text(XFRTEST.replace("vendor: xfrtest", "vendor: ticks").format(domains=bulk)
                   + ticks)
    tp = tmp_path / "testvendor.yaml"
    tp.write_text(TEST_POLICY)
    port = free_port()
    e = embargo_factory(at=iso(TICKS_AT), policies=[str(tp), str(pol)],
                        ready_name="ready.nodata.testvendor.example.",
                        extra_config=rpz_yaml(port))
    e.rpz_port = port
    if time.monotonic() - e.started_at > TICKS_FIRST - 1.0:
        pytest.skip("startup too slow to be ready before the first cutoff")
    names = [f"t{k}.ticks.example.rpz.embargo." for k in range(1, TICKS_N + 1)]
    last = e.started_at + TICKS_FIRST + TICKS_N - 1

    def all_in_zone():
        got = {r[0] for r in records(kdig(e, "AXFR", ZONE))}
        return all(n in got for n in names)
    wait_for(all_in_zone, last + 5.0 - time.monotonic(), "every rule in the zone", e)
    log = stderr(e)
    for k in range(1, TICKS_N + 1):
        n = len(re.findall(rf"ticks/t{k} takes effect", log))
        assert n == 1, f"ticks/t{k} logged as taking effect {n} times\n{log[-3000:]}"


def test_ixfr_over_udp_is_the_soa(embargo_factory, tmp_path):
    e = start(embargo_factory, tmp_path)
    serial = soa_serial(e)
    out = kdig(e, ZONE, f"IXFR={serial - 10}", "+notcp")
    assert [r[1] for r in records(out)] == ["SOA"], out


def test_tsig(embargo_factory, tmp_path):
    e = start(embargo_factory, tmp_path, tsig=True)
    out = kdig(e, ZONE, "AXFR")
    assert "REFUSED" in out and not records(out), out
    out = kdig(e, ZONE, "AXFR", "-y", f"hmac-sha256:{KEY_NAME}:{WRONG}")
    assert "BADSIG" in out and not records(out), out
    out = kdig(e, ZONE, "AXFR", "-y", f"hmac-sha256:other-key:{SECRET}")
    assert "BADKEY" in out and not records(out), out
    out = kdig(e, ZONE, "AXFR", "-y", f"hmac-sha256:{KEY_NAME}:{SECRET}")
    got = records(out)
    assert got and got[0][1] == "SOA" and got[-1][1] == "SOA", out
    assert "TSIG" in out and ";; ERROR" not in out, out
    ring = dns.tsigkeyring.from_text({KEY_NAME: SECRET})
    assert soa_serial(e, ring) == int(got[0][2].split()[2])
    log = stderr(e)
    assert "refused AXFR rpz.embargo. from 127.0.0.1:" in log
    assert "not signed (TSIG required)" in log and "TSIG BADSIG" in log and "TSIG BADKEY" in log
    assert f"key {KEY_NAME}.: " in log


def test_multi_message_axfr_signed(embargo_factory, tmp_path):
    """Several thousand triggers: the transfer spans messages of at most
    64 KiB, each signed (RFC 8945 5.3.1), checked by kdig and dnspython."""
    names = [f"host{i:05d}.bulk{i % 7}.xfrtest.example" for i in range(4000)]
    e = start(embargo_factory, tmp_path, domains=names, tsig=True)
    out = kdig(e, ZONE, "AXFR", "-y", f"hmac-sha256:{KEY_NAME}:{SECRET}")
    assert ";; ERROR" not in out, out[-2000:]
    got = records(out)
    assert len(got) > 8000
    msgs = int(re.search(r"\((\d+) messages", out).group(1))
    assert msgs >= 3, out[-500:]
    ring = dns.tsigkeyring.from_text({KEY_NAME: SECRET})
    z = dns.zone.Zone(ZONE, relativize=False)
    sizes = []
    q = dns.message.make_query(ZONE, "AXFR")
    q.use_tsig(ring, keyname=KEY_NAME)
    with socket.create_connection(("127.0.0.1", e.rpz_port), timeout=10) as s:
        wire = q.to_wire()
        s.sendall(len(wire).to_bytes(2, "big") + wire)
        n = 0
        tsig_ctx = None
        first = True
        soas = 0
        while soas < 2:
            ln = int.from_bytes(_recv(s, 2), "big")
            data = _recv(s, ln)
            sizes.append(ln)
            m = dns.message.from_wire(data, keyring=ring, request_mac=q.mac, xfr=True,
                                      origin=None, tsig_ctx=tsig_ctx, multi=True,
                                      one_rr_per_rrset=True)
            tsig_ctx = m.tsig_ctx
            assert m.had_tsig
            first = False
            for rrset in m.answer:
                n += len(rrset)
                if rrset.rdtype == dns.rdatatype.SOA:
                    soas += 1
        assert not first
    assert n == len(got)
    assert max(sizes) <= 65535 and len(sizes) == msgs


def _recv(s, n):
    b = b""
    while len(b) < n:
        c = s.recv(n - len(b))
        assert c, "connection closed mid-message"
        b += c
    return b


def test_acl(embargo_factory, tmp_path):
    e = start(embargo_factory, tmp_path, acl="[10.0.0.0/8]")
    out = kdig(e, ZONE, "AXFR")
    assert "REFUSED" in out and not records(out), out
    r = dns.query.udp(dns.message.make_query(ZONE, "SOA"), "127.0.0.1", port=e.rpz_port, timeout=2)
    assert r.rcode() == dns.rcode.REFUSED and not r.answer
    assert "not in allow-transfer" in stderr(e)


class NotifyReceiver:
    """A UDP secondary that logs each NOTIFY (arrival time, serial) and
    answers for a serial only from its `answer_from`th NOTIFY on."""

    def __init__(self, answer_from, keyring=None):
        self.keyring = keyring
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.answer_from = answer_from
        self.got = []          # (monotonic time, serial, id, signed)
        self.stop = False
        self.t = threading.Thread(target=self.run, daemon=True)
        self.t.start()

    def run(self):
        while not self.stop:
            try:
                data, peer = self.sock.recvfrom(4096)
            except socket.timeout:
                continue
            # with the key, dnspython checks each NOTIFY's signature
            m = dns.message.from_wire(data, keyring=self.keyring)
            if m.opcode() != dns.opcode.NOTIFY:
                continue
            serial = m.answer[0][0].serial if m.answer else None
            self.got.append((time.monotonic(), serial, m.id, m.had_tsig))
            seen = sum(1 for g in self.got if g[1] == serial)
            if seen >= self.answer_from(serial):
                r = dns.message.make_response(m)
                r.flags |= dns.flags.AA
                self.sock.sendto(r.to_wire(), peer)

    def close(self):
        self.stop = True
        self.t.join()
        self.sock.close()


def test_notify_at_cutoff(embargo_factory, tmp_path):
    """Four seconds before the updates cutoff: NOTIFY of the start serial,
    then of the cutoff's, retried until acknowledged, then quiet."""
    start_serial = CUTOFF_TS - 4
    rx = NotifyReceiver(lambda serial: 1 if serial == start_serial else 2,
                        keyring=dns.tsigkeyring.from_text({KEY_NAME: SECRET}))
    try:
        e = start(embargo_factory, tmp_path, at="2024-09-29T03:59:56Z", ready=False, tsig=True,
                  notify=[f"127.0.0.1:{rx.port}"])
        e.spawn()
        t0 = time.monotonic()
        cutoff = t0 + 4
        wait_for(lambda: any(g[1] == CUTOFF_TS for g in rx.got), 12, "NOTIFY at the cutoff", e)
        first = next(g for g in rx.got if g[1] == CUTOFF_TS)
        assert cutoff - 1 <= first[0] <= cutoff + 5, (first[0] - t0, rx.got)
        # the start serial came first and was acknowledged at once
        assert rx.got[0][1] == start_serial
        assert [g[1] for g in rx.got].count(start_serial) == 1
        assert all(g[3] for g in rx.got), "NOTIFY not signed with the key"
        # ignored once, so sent again (after about a second), then acknowledged
        wait_for(lambda: [g[1] for g in rx.got].count(CUTOFF_TS) >= 2, 6, "a NOTIFY retry", e)
        again = [g for g in rx.got if g[1] == CUTOFF_TS]
        assert 0.5 <= again[1][0] - again[0][0] <= 4, again
        assert again[0][2] == again[1][2]   # the same message, the same ID
        wait_for(lambda: "acknowledged after 2 tries" in stderr(e), 5, "the ack in the log", e)
        time.sleep(5)   # the next retry would have come 2 s after the second
        assert [g[1] for g in rx.got].count(CUTOFF_TS) == 2, rx.got
        # the zone now holds the update hosts
        out = kdig(e, ZONE, "AXFR", "-y", f"hmac-sha256:{KEY_NAME}:{SECRET}")
        got = records(out)
        assert got[0][2].split()[2] == str(CUTOFF_TS)
        assert ("upd.kaspersky.com.rpz.embargo.", "A", "0.0.0.0") in got
        assert ("*.upd.kaspersky.com.rpz.embargo.", "AAAA", "::") in got
        assert f"serial {start_serial} -> {CUTOFF_TS}" in stderr(e)
    finally:
        rx.close()


def test_notify_gives_up(embargo_factory, tmp_path):
    rx = NotifyReceiver(lambda serial: 99)   # never answers
    try:
        e = start(embargo_factory, tmp_path, notify=[f"127.0.0.1:{rx.port}"])
        # 1 + 2 + 4 + 8 + 16 s of waiting for the five tries
        wait_for(lambda: "no answer after 5 tries, giving up" in stderr(e), 40, "the give-up", e)
        assert len(rx.got) == 5
        gaps = [b[0] - a[0] for a, b in zip(rx.got, rx.got[1:])]
        assert all(g1 > g0 for g0, g1 in zip(gaps, gaps[1:])), gaps   # backing off
    finally:
        rx.close()


def _tcp(e, payload):
    with socket.create_connection(("127.0.0.1", e.rpz_port), timeout=3) as s:
        s.sendall(len(payload).to_bytes(2, "big") + payload)
        try:
            ln = int.from_bytes(_recv(s, 2), "big")
            return _recv(s, ln)
        except (AssertionError, OSError):
            return None


def _udp(e, payload, timeout=1):
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(timeout)
        s.sendto(payload, ("127.0.0.1", e.rpz_port))
        try:
            return s.recv(4096)
        except socket.timeout:
            return None


def test_malformed_and_other_queries(embargo_factory, tmp_path):
    e = start(embargo_factory, tmp_path)
    hdr = bytes.fromhex("abcd0000")
    # header only, no question: FORMERR
    for send in (_tcp, _udp):
        r = send(e, hdr + bytes(8))
        assert r and r[:2] == b"\xab\xcd" and r[3] & 0xF == 1, r
    # a question cut short: FORMERR
    q = dns.message.make_query(ZONE, "AXFR").to_wire()
    r = _tcp(e, q[:-3])
    assert r and r[3] & 0xF == 1
    # UPDATE (opcode 5): NOTIMP
    upd = bytearray(q)
    upd[2] = 5 << 3
    r = _tcp(e, bytes(upd))
    assert r and r[3] & 0xF == 4
    # a response (QR set) and runt datagrams: no answer
    assert _udp(e, bytes([0xab, 0xcd, 0x80, 0]) + bytes(8)) is None
    assert _udp(e, b"\x00\x01") is None
    # an A query, another zone, AXFR over UDP
    for qq, send, rc in ((dns.message.make_query("www.example.com.", "A"), _udp, 5),
                         (dns.message.make_query("example.com.", "AXFR"), _tcp, 5),
                         (dns.message.make_query(ZONE, "AXFR"), _udp, 1),
                         (dns.message.make_query(ZONE, "NS"), _tcp, 5)):
        r = send(e, qq.to_wire())
        assert r and r[3] & 0xF == rc, (qq, r)
    # a frame shorter than a header closes the connection
    with socket.create_connection(("127.0.0.1", e.rpz_port), timeout=3) as s:
        s.sendall(b"\x00\x03abc")
        assert s.recv(10) == b""
    # random bytes: whatever comes back, the server lives on
    import random
    rnd = random.Random(7)
    for _ in range(200):
        b = bytes(rnd.randrange(256) for _ in range(rnd.randrange(12, 80)))
        _udp(e, b[:2] + bytes([b[2] & 0x7F]) + b[3:], timeout=0.2)
    for _ in range(30):
        b = bytes(rnd.randrange(256) for _ in range(rnd.randrange(12, 80)))
        _tcp(e, b[:2] + bytes([b[2] & 0x7F]) + b[3:])
    assert e.alive()
    assert soa_serial(e) == 1727740800


def test_reload_takes_rpz_settings(embargo_factory, tmp_path):
    """allow-transfer and tsig change at a reload; listen needs a restart."""
    e = start(embargo_factory, tmp_path)
    assert records(kdig(e, ZONE, "AXFR"))
    text = open(e.config).read()
    text = text.replace("allow-transfer: [127.0.0.0/8]", "allow-transfer: [10.0.0.0/8]")
    text = text.replace(f'listen: ["127.0.0.1:{e.rpz_port}"]', 'listen: ["127.0.0.1:1"]')
    _replace(e.config, text)
    e.proc.send_signal(1)
    out = wait_for(lambda: (o := kdig(e, ZONE, "AXFR")) and "REFUSED" in o and o, 15,
                   "REFUSED after the reload", e)
    assert not records(out), out
    assert "rpz.listen changed: it takes effect at the next restart" in stderr(e)
    # keys added: unsigned refused, signed served
    text = text.replace("allow-transfer: [10.0.0.0/8]", "allow-transfer: [127.0.0.1]")
    text += f"  tsig:\n    - name: {KEY_NAME}\n      secret: \"{SECRET}\"\n"
    _replace(e.config, text)
    e.proc.send_signal(1)
    key = ("-y", f"hmac-sha256:{KEY_NAME}:{SECRET}")
    wait_for(lambda: records(kdig(e, ZONE, "AXFR", *key)), 15, "signed transfers after the reload", e)
    out = kdig(e, ZONE, "AXFR")
    assert "REFUSED" in out and not records(out), out


def _replace(path, text):
    """Writes a file the way an editor saves it: whole, in one rename."""
    tmp = f"{path}.tmp"
    with open(tmp, "w") as f:
        f.write(text)
    import os
    os.replace(tmp, path)


def test_pipelined_and_half_closed(embargo_factory, tmp_path):
    """Three requests in one write, then FIN (RFC 7766 6.2.4): all three are
    answered in order, the transfer whole, and then the server closes."""
    e = start(embargo_factory, tmp_path, domains=[f"p{i}.xfrtest.example" for i in range(2000)])
    serial = soa_serial(e)
    reqs = [dns.message.make_query(ZONE, "AXFR"), dns.message.make_query(ZONE, "SOA"),
            dns.message.make_query(ZONE, "IXFR")]
    reqs[2].authority.append(dns.rrset.from_text(ZONE, 0, "IN", "SOA",
                                                 f". . {serial} 0 0 0 0"))
    for i, q in enumerate(reqs):
        q.id = 100 + i
    data = b"".join(len(w).to_bytes(2, "big") + w for w in (q.to_wire() for q in reqs))
    with socket.create_connection(("127.0.0.1", e.rpz_port), timeout=10) as s:
        s.sendall(data)
        s.shutdown(socket.SHUT_WR)
        frames = []
        while True:
            hdr = s.recv(2, socket.MSG_WAITALL)
            if not hdr:
                break
            frames.append(_recv(s, int.from_bytes(hdr, "big")))
    ids = [int.from_bytes(f[:2], "big") for f in frames]
    assert ids[-2:] == [101, 102] and set(ids[:-2]) == {100} and len(ids) >= 4, ids
    n = sum(int.from_bytes(f[6:8], "big") for f in frames[:-2])
    assert n == len(records(kdig(e, ZONE, "AXFR"))) > 4000, n
    soa = dns.message.from_wire(frames[-1])
    assert soa.answer[0][0].serial == serial and len(soa.answer) == 1
