"""Amplification: what a spoofed UDP query can make embargo send to its
victim. ANY over UDP gets a bare TC answer (RFC 8482), no larger than the
query, while over TCP it is forwarded as usual; answers embargo synthesizes
(blocks with their EDE text, errors) stay within RATIO times the query."""

import socket

import dns.flags
import dns.message
import dns.rcode
import dns.rdatatype
import pytest

from e2e_util import AFTER, ede_options, kaspersky_ede_text, query

RATIO = 5.0   # SYNTH_UDP_RATIO: synthesized UDP answers, at most this many times the query


def udp_raw(e, wire):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        s.settimeout(3)
        s.sendto(wire, (e.host, e.port))
        return s.recv(65535)
    finally:
        s.close()


@pytest.mark.parametrize("name", ["www.e2e.test.", "big.e2e.test.", "s01.upd.kaspersky.com.",
                                  "store.kaspersky.com."])
@pytest.mark.parametrize("edns", [False, True], ids=["no-edns", "edns"])
def test_any_over_udp_is_a_bare_tc_answer(embargo, name, edns):
    q = query(name, "ANY", edns=edns)
    wire = q.to_wire()
    data = udp_raw(embargo, wire)
    r = dns.message.from_wire(data)
    assert r.id == q.id and r.flags & dns.flags.TC, f"{name} ANY over UDP: no TC\n{r}"
    assert r.rcode() == dns.rcode.NOERROR
    assert not r.answer and not r.authority, f"records in the TC answer\n{r}"
    assert r.question[0].name == q.question[0].name and r.question[0].rdtype == 255
    assert (r.edns >= 0) == edns
    assert len(data) <= len(wire), f"{len(data)} B answer to a {len(wire)} B query"


def test_any_over_tcp_is_forwarded(embargo, nsd):
    r = embargo.tcp(query("www.e2e.test.", "ANY"))
    ref = nsd.query("www.e2e.test.", "ANY", tcp=True)
    types = {rr.rdtype for rr in r.answer}
    assert not r.flags & dns.flags.TC
    assert types and types == {rr.rdtype for rr in ref.answer}, f"\n{r}"  # nsd answers ANY minimally too


def test_any_of_a_blocked_name_over_tcp_is_blocked(embargo):
    r = embargo.tcp(query("store.kaspersky.com.", "ANY"))
    assert r.rcode() == dns.rcode.REFUSED and ede_options(r)


BLOCKED = [
    # name, type, action
    ("s01.upd.kaspersky.com.", "A", "sinkhole"),
    ("dnl-07.geo.kaspersky.com.", "AAAA", "sinkhole"),
    ("upd.kaspersky.com.", "A", "sinkhole"),
    ("dnl-07.geo.kaspersky.com.", "MX", "sinkhole-nodata"),
    ("store.kaspersky.com.", "A", "refuse"),
    ("ksc.kaspersky.com.", "A", "nxdomain"),
    ("x.ksc.kaspersky.com.", "TXT", "nxdomain"),
    ("nodata.testvendor.example.", "A", "nodata"),
    ("a.nodata.testvendor.example.", "TXT", "nodata"),
]


@pytest.mark.parametrize("edns,dnssec", [(False, False), (True, False), (True, True)],
                         ids=["no-edns", "edns", "edns-do"])
@pytest.mark.parametrize("name,rdtype,action", BLOCKED)
def test_blocked_answers_stay_small(embargo, name, rdtype, action, edns, dnssec):
    q = query(name, rdtype, edns=edns, dnssec=dnssec)
    wire = q.to_wire()
    data = udp_raw(embargo, wire)
    r = dns.message.from_wire(data)
    ratio = len(data) / len(wire)
    assert ratio <= RATIO, f"{name} {rdtype} ({action}): {len(data)} B for {len(wire)} B " \
        f"({ratio:.2f}x)\n{r}"
    assert not r.flags & dns.flags.TC, f"{name} {rdtype}: TC\n{r}"
    if edns:
        edes = ede_options(r)
        assert len(edes) == 1 and edes[0].code in (15, 16), f"{name}: EDE missing\n{r}"
        # the text is whole, or cut to vendor/rule: the rule is always named
        assert edes[0].text and "/" in edes[0].text, f"{name}: EDE text {edes[0].text!r}"


def test_blocked_answer_over_tcp_keeps_the_whole_text(embargo):
    r = embargo.tcp(query("ksc.kaspersky.com.", "A"))
    assert ede_options(r)[0].text == kaspersky_ede_text("services")


LONG_BASIS = "An operator's very long legal basis, " * 12
LONG_POLICY = f"""\
vendor: longvendor
name: Long Vendor
basis: "{LONG_BASIS.strip()}"
rules:
  - id: block
    effective: 2020-01-01T00:00:00Z
    action: nxdomain
    domains: [long.example]
"""


def test_a_long_ede_text_is_cut_over_udp_not_over_tcp(embargo_factory, tmp_path):
    """A basis of 450 characters would make a 10x answer: over UDP the text
    is cut to vendor/rule; over TCP it is whole."""
    pol = tmp_path / "long.yaml"
    pol.write_text(LONG_POLICY)
    e = embargo_factory(at=AFTER, policies=[str(pol)], ready_name="x.long.example.")
    q = query("x.long.example.", "A")
    data = udp_raw(e, q.to_wire())
    r = dns.message.from_wire(data)
    assert r.rcode() == dns.rcode.NXDOMAIN and not r.flags & dns.flags.TC, f"\n{r}"
    assert len(data) <= RATIO * len(q.to_wire()), f"{len(data)} B for {len(q.to_wire())} B"
    assert ede_options(r)[0].text == "longvendor/block", ede_options(r)
    r = e.tcp(query("x.long.example.", "A"))
    assert ede_options(r)[0].text == "longvendor/block: " + LONG_BASIS.strip()
