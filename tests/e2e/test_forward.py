"""Forwarding: allowed names get the upstream's exact answer (A, AAAA, MX,
TXT, large answers over TCP), with the client's ID, question case and EDNS
buffer size respected."""

import subprocess

import dns.edns
import dns.flags
import dns.rcode
import dns.rdatatype
import pytest

from fakeupstream import FakeUpstream
from e2e_util import (AFTER, BIG_A, BIG_TXT, MEDIUM_A, addresses, assert_same_answer, ede_options,
                      query)

ALLOWED = [
    ("www.e2e.test.", "A"),
    ("www.e2e.test.", "AAAA"),
    ("www.e2e.test.", "MX"),
    ("www.e2e.test.", "TXT"),
    ("multi.e2e.test.", "A"),
    ("cname-local.e2e.test.", "A"),
    ("opentip.kaspersky.com.", "A"),        # the policy's allow list
    ("www.kaspersky.com.", "A"),            # vendor-web: audit, forwarded
    ("xupd.kaspersky.com.", "A"),           # label boundary: not upd.kaspersky.com
    ("s01.xupd.kaspersky.com.", "A"),
    ("upd.kaspersky.com.e2e.test.", "A"),   # a banned name as a prefix
]


@pytest.mark.parametrize("name,rdtype", ALLOWED)
def test_allowed_name_gets_upstream_answer_udp(embargo, nsd, name, rdtype):
    ref = nsd.query(name, rdtype)
    assert ref.answer, f"test zone broken: nsd has no {name} {rdtype}"
    r = embargo.udp(query(name, rdtype))
    assert_same_answer(r, ref, f"{name} {rdtype} over UDP")
    assert not ede_options(r), f"forwarded answer carries an EDE: {r.options}"
    assert not r.flags & dns.flags.TC


@pytest.mark.parametrize("name,rdtype", ALLOWED[:5])
def test_allowed_name_gets_upstream_answer_tcp(embargo, nsd, name, rdtype):
    ref = nsd.query(name, rdtype, tcp=True)
    r = embargo.tcp(query(name, rdtype))
    assert_same_answer(r, ref, f"{name} {rdtype} over TCP")
    assert not ede_options(r)


def test_forwarded_header_id_ra_and_question_case(embargo, nsd):
    q = query("WwW.E2e.TeSt.", "A", id=0xBEEF)
    r = embargo.udp(q)
    assert r.id == 0xBEEF
    assert r.flags & dns.flags.QR
    assert r.flags & dns.flags.RA, f"a forwarder must set RA\n{r}"
    assert r.flags & dns.flags.RD, "RD not copied"
    assert r.question[0].name.labels == q.question[0].name.labels, \
        f"question case not restored: {r.question[0].name} vs {q.question[0].name}"
    assert addresses(r) == ["192.0.2.1"]


def test_forwarded_without_edns_has_no_opt(embargo, nsd):
    r = embargo.udp(query("www.e2e.test.", "AAAA", edns=False))
    assert r.edns < 0, f"OPT in the answer to a query without EDNS\n{r}"
    assert_same_answer(r, nsd.query("www.e2e.test.", "AAAA"), "no EDNS")


def test_forwarded_with_edns_keeps_do_bit(embargo, nsd):
    r = embargo.udp(query("mail.e2e.test.", "A", dnssec=True))
    assert r.edns >= 0, f"no OPT in the answer to an EDNS query\n{r}"
    assert r.ednsflags & dns.flags.DO, "DO bit lost"
    assert addresses(r) == ["192.0.2.25"]


def test_upstream_nxdomain_is_passed_through(embargo, nsd):
    name = "does-not-exist.e2e.test."
    ref = nsd.query(name, "A")
    assert ref.rcode() == dns.rcode.NXDOMAIN
    r = embargo.udp(query(name, "A"))
    assert r.rcode() == dns.rcode.NXDOMAIN, f"\n{r}"
    assert not r.answer
    soas = [rr for rr in r.authority if rr.rdtype == dns.rdatatype.SOA]
    assert soas, f"upstream's SOA missing from a forwarded NXDOMAIN\n{r}"
    assert soas[0].name == ref.authority[0].name
    assert soas[0][0].serial == ref.authority[0][0].serial, "not the upstream's SOA"
    assert not ede_options(r)


def test_upstream_nodata_is_passed_through(embargo, nsd):
    ref = nsd.query("www.e2e.test.", "SRV")
    assert ref.rcode() == dns.rcode.NOERROR and not ref.answer
    r = embargo.udp(query("www.e2e.test.", "SRV"))
    assert r.rcode() == dns.rcode.NOERROR and not r.answer, f"\n{r}"
    soas = [rr for rr in r.authority if rr.rdtype == dns.rdatatype.SOA]
    assert soas and soas[0][0].serial == ref.authority[0][0].serial, f"\n{r}"


@pytest.mark.parametrize("size", [40, 300, 700])
def test_query_options_reach_upstream_whole(embargo_factory, size):
    """A forwarded query carries the client's end-to-end options whole,
    however large: one of 300 or 700 octets with a long name does not fit
    a request's inline buffer (384 octets) and takes the large one."""
    with FakeUpstream("answer", address="192.0.2.99") as fake:
        e = embargo_factory(upstreams=[fake.addr], at=AFTER)
        label = "q" * 63
        name = f"{label}.{label}.{label}.s{size}.e2e.test."
        q = query(name, "A")
        data = bytes(range(256)) * (size // 256) + b"x" * (size % 256)
        q.use_edns(0, 0, 4096, options=[dns.edns.GenericOption(65001, data)])
        r = e.udp(q)
        assert addresses(r) == ["192.0.2.99"], f"\n{r}"
        got = fake.received(name)
        assert len(got) == 1, got
        opts = [o for o in got[0].msg.options if o.otype == 65001]
        assert len(opts) == 1 and opts[0].data == data, f"option lost or cut: {got[0].msg.options}"


LARGE = [("big.e2e.test.", "A", len(BIG_A)), ("bigtxt.e2e.test.", "TXT", len(BIG_TXT))]


@pytest.mark.parametrize("name,rdtype,count", LARGE)
def test_large_answer_over_udp_is_truncated(embargo, nsd, name, rdtype, count):
    ref = nsd.query(name, rdtype, tcp=True)
    assert len(ref.to_wire()) > 1232 and len(ref.answer[0]) == count
    q = query(name, rdtype, payload=1232)
    wire = embargo.udp(q)  # parsing succeeds only if the truncated answer is well-formed
    assert wire.flags & dns.flags.TC, f"{name}: answer larger than 1232 B without TC\n{wire}"
    assert len(wire.to_wire()) <= 1232
    assert wire.id == q.id


@pytest.mark.parametrize("name,rdtype,count", LARGE)
def test_large_answer_over_tcp_is_whole(embargo, nsd, name, rdtype, count):
    ref = nsd.query(name, rdtype, tcp=True)
    r = embargo.tcp(query(name, rdtype))
    assert not r.flags & dns.flags.TC
    assert len(r.answer) == 1 and len(r.answer[0]) == count, f"{name}: {len(r.answer)} rrsets"
    assert_same_answer(r, ref, f"{name} over TCP")


def test_edns_buffer_size_respected(embargo, nsd):
    """An ~830-byte answer: truncated without EDNS (512) and with EDNS 512,
    whole with EDNS 1232 and 4096."""
    name = "medium.e2e.test."
    ref = nsd.query(name, "A", tcp=True)
    assert 512 < len(ref.to_wire()) < 1200

    r = embargo.udp(query(name, "A", edns=False))
    assert r.flags & dns.flags.TC, f"no EDNS: {len(r.to_wire())} B answer without TC"
    assert len(r.to_wire()) <= 512
    assert r.edns < 0

    r = embargo.udp(query(name, "A", payload=512))
    assert r.flags & dns.flags.TC, "EDNS 512: answer without TC"
    assert len(r.to_wire()) <= 512

    for payload in (1232, 4096):
        r = embargo.udp(query(name, "A", payload=payload))
        assert not r.flags & dns.flags.TC, f"EDNS {payload}: TC set on an answer that fits"
        assert len(r.answer) == 1 and len(r.answer[0]) == len(MEDIUM_A)
        assert_same_answer(r, ref, f"EDNS {payload}")


def test_ipv6_listener(embargo, nsd):
    if embargo.port6 is None:
        pytest.skip("no ::1 on this host")
    ref = nsd.query("www.e2e.test.", "AAAA")
    assert_same_answer(embargo.udp(query("www.e2e.test.", "AAAA"), v6=True), ref, "UDP over ::1")
    assert_same_answer(embargo.tcp(query("www.e2e.test.", "AAAA"), v6=True), ref, "TCP over ::1")


@pytest.mark.parametrize("tool", ["kdig", "dig"])
def test_cli_client_gets_allowed_answer(embargo, tool):
    argv = [tool, f"@{embargo.host}", "-p", str(embargo.port), "www.e2e.test.", "A"]
    argv += ["+timeout=2", "+tries=1"] if tool == "dig" else ["+timeout=2", "+retry=0", "+edns"]
    out = subprocess.run(argv, capture_output=True, text=True, timeout=10)
    assert out.returncode == 0, out.stderr
    assert "NOERROR" in out.stdout, out.stdout
    assert "192.0.2.1" in out.stdout, out.stdout
    assert "EDE" not in out.stdout, out.stdout
    assert "recursion requested but not available" not in out.stdout, out.stdout
