"""EDNS (RFC 6891) as ISC's EDNS compliance tester checks it, for a
forwarded, a cached and a blocked name alike: no EDNS, no OPT; EDNS 0, an
OPT with our size (1232); EDNS 1, BADVERS with an OPT of version 0 and no
answer; an unknown option is not echoed; unknown EDNS flags are cleared;
DO is echoed; a 512-octet buffer is honoured (TC when larger).

The forwarded and cached names come through nsd, through a sloppy
upstream that advertises 4096, sets an unknown flag and echoes every
option (what it says must not reach the client), and through an upstream
without EDNS (the client still gets our OPT)."""

import os
import socket
import struct
import threading

import dns.edns
import dns.flags
import dns.message
import dns.rcode
import dns.rrset
import pytest

from e2e_util import AFTER, MEDIUM_A, query

OUR_SIZE = 1232
UNKNOWN_OPT = 65001        # an option code nobody implements (local/experimental range)
Z_FLAG = 0x4000            # an EDNS flag bit no RFC defines


class SloppyUpstream:
    """Answers every A query with MEDIUM_A-sized rrsets over UDP, and with
    an OPT of its own liking: size 4096, an unknown flag set, the query's
    options echoed plus an unknown one of its own."""

    def __init__(self, edns=True):
        self.edns = edns   # False: never an OPT, as a server without EDNS
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.loop, daemon=True)
        self.thread.start()

    @property
    def addr(self):
        return f"127.0.0.1:{self.port}"

    def loop(self):
        self.sock.settimeout(0.1)
        while not self.stop.is_set():
            try:
                data, peer = self.sock.recvfrom(65535)
            except socket.timeout:
                continue
            except OSError:
                return
            q = dns.message.from_wire(data)
            r = dns.message.make_response(q)
            name = q.question[0].name
            n = len(MEDIUM_A) if name.labels[0].startswith(b"medium") else 1
            r.answer.append(dns.rrset.from_text_list(
                name, 300, "IN", "A", [f"10.9.0.{i + 1}" for i in range(n)]))
            opts = list(q.options) + [dns.edns.GenericOption(UNKNOWN_OPT + 1, b"upstream")]
            if self.edns:
                r.use_edns(0, (q.ednsflags & dns.flags.DO) | Z_FLAG, 4096, options=opts)
            else:
                r.use_edns(False)
            self.sock.sendto(r.to_wire(), peer)

    def close(self):
        self.stop.set()
        self.thread.join(1)
        self.sock.close()


@pytest.fixture(scope="module", params=["nsd", "sloppy", "no-edns"])
def setup(request, module_embargo_factory, nsd):
    if request.param == "nsd":
        e = module_embargo_factory(at=AFTER)
        yield e, "www.e2e.test.", "medium.e2e.test."
        return
    up = SloppyUpstream(edns=request.param == "sloppy")
    e = module_embargo_factory(upstreams=[up.addr], at=AFTER)
    yield e, "www.sloppy.test.", "medium.sloppy.test."
    up.close()


_serial = [0]
KINDS = ["forwarded", "cached", "blocked"]


def ask(e, kind, base, q_of_name, tcp=False):
    """The answer for a name of this kind: forwarded (a name never asked:
    NXDOMAIN from nsd, an answer from the sloppy upstream), cached (asked
    once before, the same way), blocked."""
    if kind == "blocked":
        name = "dnl-07.geo.kaspersky.com."
    else:
        _serial[0] += 1
        name = f"x{_serial[0]}.{base}"
    q = q_of_name(name)
    send = e.tcp if tcp else e.udp
    if kind == "cached":
        send(q_of_name(name))
    r = send(q)
    return q, r


def make(name, rdtype="A", **kw):
    return dns.message.make_query(name, rdtype, **kw)


def edns1(name):
    q = make(name)
    q.use_edns(1, 0, 4096)  # make_query(use_edns=1) reads 1 as True: version 0
    return q


def answered(r):
    return r.rcode() == dns.rcode.NXDOMAIN or (r.rcode() == dns.rcode.NOERROR and r.answer)


@pytest.mark.parametrize("kind", KINDS)
def test_no_edns_no_opt(setup, kind):
    e, base, _ = setup
    q, r = ask(e, kind, base, lambda n: make(n, use_edns=False))
    assert r.edns < 0, f"{kind}: OPT in the answer to a query without EDNS\n{r}"
    assert answered(r), f"{kind}\n{r}"


@pytest.mark.parametrize("kind", KINDS)
def test_edns0_gets_our_opt(setup, kind):
    e, base, _ = setup
    q, r = ask(e, kind, base, lambda n: make(n, use_edns=0, payload=4096))
    assert r.edns == 0, f"{kind}: EDNS version {r.edns}\n{r}"
    assert r.payload == OUR_SIZE, f"{kind}: advertised {r.payload}, not {OUR_SIZE}"
    assert answered(r), f"{kind}\n{r}"


@pytest.mark.parametrize("kind", KINDS)
def test_edns1_gets_badvers(setup, kind):
    e, base, _ = setup
    for tcp in (False, True):
        q, r = ask(e, "forwarded" if kind == "cached" else kind, base,
                   edns1, tcp=tcp)
        assert r.rcode() == dns.rcode.BADVERS, f"{kind}: {dns.rcode.to_text(r.rcode())}\n{r}"
        assert r.edns == 0, f"{kind}: BADVERS with OPT version {r.edns}"
        assert not r.answer and not r.authority, f"{kind}: records with BADVERS\n{r}"
        assert r.question[0].name == q.question[0].name


@pytest.mark.parametrize("kind", KINDS)
def test_unknown_option_is_not_echoed(setup, kind):
    e, base, _ = setup
    opt = dns.edns.GenericOption(UNKNOWN_OPT, b"\x01\x02\x03\x04")
    q, r = ask(e, kind, base, lambda n: make(n, use_edns=0, options=[opt]))
    codes = [o.otype for o in r.options]
    assert UNKNOWN_OPT not in codes and UNKNOWN_OPT + 1 not in codes, \
        f"{kind}: options {codes} in the answer\n{r}"
    assert r.edns == 0 and answered(r)


@pytest.mark.parametrize("kind", KINDS)
def test_unknown_flags_are_cleared(setup, kind):
    e, base, _ = setup
    q, r = ask(e, kind, base, lambda n: make(n, use_edns=0, ednsflags=Z_FLAG))
    assert r.edns == 0
    assert r.ednsflags & 0x7FFF == 0, f"{kind}: EDNS flags {r.ednsflags:#x} in the answer"
    assert not r.ednsflags & dns.flags.DO


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("do", [True, False])
def test_do_is_echoed(setup, kind, do):
    e, base, _ = setup
    q, r = ask(e, kind, base, lambda n: make(n, use_edns=0, want_dnssec=do))
    assert r.edns == 0 and bool(r.ednsflags & dns.flags.DO) == do, f"{kind}: DO\n{r}"


@pytest.mark.parametrize("kind", KINDS)
def test_buffer_512_is_honoured(setup, kind):
    """An ~800-octet answer: TC with EDNS 512, whole with 1232; a blocked
    answer fits in 512 and is whole."""
    e, base, medium = setup
    if kind == "blocked":
        q, r = ask(e, kind, base, lambda n: make(n, use_edns=0, payload=512))
        assert len(r.to_wire()) <= 512 and r.answer and not r.flags & dns.flags.TC
        return
    _serial[0] += 1
    name = f"medium{_serial[0]}.{base.split('.', 1)[1]}" if "sloppy" in base else medium
    if kind == "cached":
        e.udp(make(name, use_edns=0, payload=1232))   # in the cache, whole
    q = make(name, use_edns=0, payload=512)
    wire = raw_udp(e, q)
    assert len(wire) <= 512, f"{kind}: {len(wire)} octets to a 512-octet buffer"
    r = dns.message.from_wire(wire)
    assert r.flags & dns.flags.TC, f"{kind}: an answer cut to 512 without TC\n{r}"
    assert r.edns == 0 and r.payload == OUR_SIZE
    r = e.udp(make(name, use_edns=0, payload=1232))
    assert not r.flags & dns.flags.TC and len(r.answer[0]) == len(MEDIUM_A), f"{kind}\n{r}"


def raw_udp(e, q):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        s.settimeout(3)
        s.sendto(q.to_wire(), (e.host, e.port))
        return s.recv(65535)
    finally:
        s.close()


def answer_ip_header(e, q):
    """Sends q over UDP from a port of our own and returns the IPv4 header
    of the answer, as a raw socket on the loopback sees it."""
    raw = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_UDP)
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        raw.settimeout(3)
        s.settimeout(3)
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
        s.sendto(q.to_wire(), (e.host, e.port))
        s.recv(65535)
        while True:
            pkt = raw.recv(65535)
            ihl = (pkt[0] & 15) * 4
            sport, dport = struct.unpack("!HH", pkt[ihl:ihl + 4])
            if sport == e.port and dport == port:
                return pkt[:ihl]
    finally:
        s.close()
        raw.close()


@pytest.mark.skipif(os.geteuid() != 0, reason="a raw socket needs root")
@pytest.mark.parametrize("kind", KINDS)
def test_udp_answers_set_df(setup, kind):
    """RFC 9715: answers over UDP go with Don't Fragment set, a full
    1232-octet answer included, and are never fragmented, whatever path MTU
    an ICMP message claims. Linux sets DF by default too, but keeps the
    right to fragment after such a report, so it draws every datagram an IP
    ID from a shared counter; a socket that never fragments
    (IP_PMTUDISC_PROBE) sends ID 0, which is what shows it here."""
    e, base, medium = setup
    for name in (None, medium):
        if name is None:
            q, _ = ask(e, kind, base, make)
        else:
            q = make(name, use_edns=0, payload=1232)
            if kind == "cached":
                e.udp(q)
        hdr = answer_ip_header(e, q)
        frag = struct.unpack("!H", hdr[6:8])[0]
        assert frag & 0x4000, f"{kind} {name}: DF not set in {hdr.hex()}"
        assert frag & 0x3FFF == 0, f"{kind} {name}: a fragment {hdr.hex()}"
        ident = struct.unpack("!H", hdr[4:6])[0]
        assert ident == 0, f"{kind} {name}: IP ID {ident}: the kernel may fragment it"
