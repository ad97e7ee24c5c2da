"""Blocked names: each action (sinkhole, refuse, nxdomain, nodata) with the
right RCODE, answer, synthesized SOA, header bits and EDE code and text, over
UDP and TCP, with and without EDNS. The clock is pinned after every
Kaspersky cutoff."""

import subprocess

import dns.flags
import dns.name
import dns.rcode
import dns.rdatatype
import pytest

from fakeupstream import FakeUpstream

from e2e_util import (AFTER, TEST_EDE_TEXT, SINK_TTL, addresses, assert_edns_echo,
                      assert_header, assert_same_answer, assert_synth_soa, ede_options,
                      kaspersky_ede_text, query)

# (edns, dnssec): without EDNS, EDNS, EDNS with DO
EDNS_VARIANTS = [(False, False), (True, False), (True, True)]
EDNS_IDS = ["no-edns", "edns", "edns-do"]


def transport(embargo, proto):
    return embargo.udp if proto == "udp" else embargo.tcp


@pytest.mark.parametrize("proto", ["udp", "tcp"])
@pytest.mark.parametrize("edns,dnssec", EDNS_VARIANTS, ids=EDNS_IDS)
@pytest.mark.parametrize("name,rdtype,addr", [
    ("dnl-07.geo.kaspersky.com.", "A", "0.0.0.0"),
    ("dnl-07.geo.kaspersky.com.", "AAAA", "::"),
    ("s01.upd.kaspersky.com.", "A", "0.0.0.0"),
    ("upd.kaspersky.com.", "A", "0.0.0.0"),
])
def test_sinkhole_address(embargo, proto, edns, dnssec, name, rdtype, addr):
    q = query(name, rdtype, edns=edns, dnssec=dnssec)
    r = transport(embargo, proto)(q)
    what = f"{name} {rdtype} {proto}"
    assert r.rcode() == dns.rcode.NOERROR, f"{what}\n{r}"
    assert_header(r, q, what)
    assert not r.flags & dns.flags.AA, f"{what}: AA set on a synthesized answer"
    assert len(r.answer) == 1, f"{what}: expected one rrset\n{r}"
    rr = r.answer[0]
    assert rr.name == dns.name.from_text(name)
    assert rr.rdtype == dns.rdatatype.from_text(rdtype)
    assert [x.to_text() for x in rr] == [addr], f"{what}\n{r}"
    assert rr.ttl == SINK_TTL, f"{what}: TTL {rr.ttl}"
    assert_edns_echo(r, q, 16, kaspersky_ede_text("updates"), what)


@pytest.mark.parametrize("proto", ["udp", "tcp"])
@pytest.mark.parametrize("rdtype", ["MX", "TXT", "SRV"])
def test_sinkhole_other_types_are_nodata(embargo, proto, rdtype):
    name = "dnl-07.geo.kaspersky.com."
    q = query(name, rdtype)
    r = transport(embargo, proto)(q)
    what = f"{name} {rdtype}"
    assert r.rcode() == dns.rcode.NOERROR, f"{what}\n{r}"
    assert_header(r, q, what)
    assert not r.answer, f"{what}: sinkhole of a non-address type must be NODATA\n{r}"
    assert_synth_soa(r, q, what)
    assert_edns_echo(r, q, 16, kaspersky_ede_text("updates"), what)


@pytest.mark.parametrize("proto", ["udp", "tcp"])
@pytest.mark.parametrize("edns,dnssec", EDNS_VARIANTS, ids=EDNS_IDS)
@pytest.mark.parametrize("name", ["store.kaspersky.com.", "usa.kaspersky.com.",
                                  "shop.usa.kaspersky.com."])
def test_refuse(embargo, proto, edns, dnssec, name):
    q = query(name, "A", edns=edns, dnssec=dnssec)
    r = transport(embargo, proto)(q)
    assert r.rcode() == dns.rcode.REFUSED, f"{name}\n{r}"
    assert_header(r, q, name)
    assert not r.flags & dns.flags.AA
    assert not r.answer, f"{name}: REFUSED with answers\n{r}"
    assert_edns_echo(r, q, 16, kaspersky_ede_text("sales"), name)


@pytest.mark.parametrize("proto", ["udp", "tcp"])
@pytest.mark.parametrize("edns,dnssec", EDNS_VARIANTS, ids=EDNS_IDS)
@pytest.mark.parametrize("name,rdtype", [("ksc.kaspersky.com.", "A"),
                                         ("x.ksc.kaspersky.com.", "A"),
                                         ("x.ksc.kaspersky.com.", "AAAA"),
                                         ("touch.kaspersky.com.", "TXT")])
def test_nxdomain(embargo, proto, edns, dnssec, name, rdtype):
    q = query(name, rdtype, edns=edns, dnssec=dnssec)
    r = transport(embargo, proto)(q)
    assert r.rcode() == dns.rcode.NXDOMAIN, f"{name}\n{r}"
    assert_header(r, q, name)
    assert not r.flags & dns.flags.AA
    assert not r.answer, f"{name}: NXDOMAIN with answers\n{r}"
    assert_synth_soa(r, q, name)
    assert_edns_echo(r, q, 16, kaspersky_ede_text("services"), name)


@pytest.mark.parametrize("proto", ["udp", "tcp"])
@pytest.mark.parametrize("edns,dnssec", EDNS_VARIANTS, ids=EDNS_IDS)
@pytest.mark.parametrize("name,rdtype", [("nodata.testvendor.example.", "A"),
                                         ("a.b.nodata.testvendor.example.", "AAAA"),
                                         ("nodata.testvendor.example.", "MX")])
def test_nodata_default_ede_15(embargo, proto, edns, dnssec, name, rdtype):
    q = query(name, rdtype, edns=edns, dnssec=dnssec)
    r = transport(embargo, proto)(q)
    assert r.rcode() == dns.rcode.NOERROR, f"{name}\n{r}"
    assert_header(r, q, name)
    assert not r.flags & dns.flags.AA
    assert not r.answer, f"{name}: NODATA with answers\n{r}"
    assert_synth_soa(r, q, name)
    assert_edns_echo(r, q, 15, TEST_EDE_TEXT, name)


@pytest.mark.parametrize("name,rdtype", [("ksc.kaspersky.com.", "A"),
                                         ("nodata.testvendor.example.", "A"),
                                         ("dnl-07.geo.kaspersky.com.", "MX")])
def test_negative_soa_owner_is_qname_or_ancestor(embargo, name, rdtype):
    """A downstream cache only uses an SOA that is in bailiwick of the QNAME
    for negative caching (RFC 2308); an unrelated owner would be dropped and
    the answer cached for an unknown time."""
    q = query(name, rdtype)
    r = embargo.udp(q)
    soa = assert_synth_soa(r, q, name)
    assert dns.name.from_text(name).is_subdomain(soa.name), \
        f"{name}: synthesized SOA owner {soa.name} is not the QNAME or an ancestor of it"


@pytest.mark.parametrize("name,rcode", [("dnl-07.geo.kaspersky.com.", dns.rcode.NOERROR),
                                        ("store.kaspersky.com.", dns.rcode.REFUSED),
                                        ("ksc.kaspersky.com.", dns.rcode.NXDOMAIN)])
def test_block_copies_rd_clear(embargo, name, rcode):
    q = query(name, "A", rd=False)
    r = embargo.udp(q)
    assert r.rcode() == rcode
    assert_header(r, q, f"{name} RD=0")
    assert not r.flags & dns.flags.RD


@pytest.mark.parametrize("name", ["DnL-07.GEO.Kaspersky.COM.", "STORE.kaspersky.com.",
                                  "x.KSC.kaspersky.com."])
def test_block_is_case_insensitive_and_echoes_case(embargo, name):
    q = query(name, "A")
    r = embargo.udp(q)
    assert r.rcode() in (dns.rcode.NOERROR, dns.rcode.REFUSED, dns.rcode.NXDOMAIN)
    assert ede_options(r), f"{name}: mixed case not blocked\n{r}"
    assert_header(r, q, name)
    if r.rcode() == dns.rcode.NOERROR:
        assert addresses(r) == ["0.0.0.0"]


def test_allow_list_beats_block(embargo, nsd):
    """opentip.kaspersky.com is on the policy's allow list: forwarded, no EDE."""
    r = embargo.udp(query("opentip.kaspersky.com.", "A"))
    assert_same_answer(r, nsd.query("opentip.kaspersky.com.", "A"), "opentip")
    assert not ede_options(r)


def test_blocked_names_never_reach_upstream(embargo_factory):
    with FakeUpstream("answer", address="192.0.2.99") as fake:
        e = embargo_factory(upstreams=[fake.addr], at=AFTER)
        blocked = [("dnl-07.geo.kaspersky.com.", "A", dns.rcode.NOERROR),
                   ("dnl-07.geo.kaspersky.com.", "MX", dns.rcode.NOERROR),
                   ("store.kaspersky.com.", "A", dns.rcode.REFUSED),
                   ("x.ksc.kaspersky.com.", "A", dns.rcode.NXDOMAIN),
                   ("nodata.testvendor.example.", "A", dns.rcode.NOERROR)]
        for name, rdtype, rcode in blocked:
            for send in (e.udp, e.tcp):
                r = send(query(name, rdtype))
                assert r.rcode() == rcode, f"{name} {rdtype}\n{r}"
                assert ede_options(r), f"{name} {rdtype}: not a block answer\n{r}"
        # an allowed name does reach this upstream
        r = e.udp(query("www.e2e.test.", "A"))
        assert addresses(r) == ["192.0.2.99"]
        names = {rec.msg.question[0].name.to_text().lower()
                 for rec in fake.received() if rec.msg is not None and rec.msg.question}
        banned = {n for n, _, _ in blocked} | {"ready.nodata.testvendor.example."}
        assert not names & banned, f"blocked names reached the upstream: {names & banned}"
        assert "www.e2e.test." in names


@pytest.mark.parametrize("tool", ["kdig", "dig"])
def test_cli_client_sees_ede(embargo, tool):
    argv = [tool, f"@{embargo.host}", "-p", str(embargo.port), "s01.upd.kaspersky.com.", "A"]
    argv += ["+timeout=2", "+tries=1"] if tool == "dig" else ["+timeout=2", "+retry=0", "+edns"]
    out = subprocess.run(argv, capture_output=True, text=True, timeout=10)
    assert out.returncode == 0, out.stderr
    assert "0.0.0.0" in out.stdout, out.stdout
    assert "EDE: 16 (Censored)" in out.stdout, out.stdout
    assert kaspersky_ede_text("updates") in out.stdout, out.stdout
