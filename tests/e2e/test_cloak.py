"""CNAME cloaking: an allowed name whose CNAME/DNAME chain (from the
upstream) enters a banned domain gets the block answer of that rule, as if
the QNAME itself were banned. nsd serves e2e.test. and kaspersky.com., so
the chains resolve in one upstream answer."""

import dns.flags
import dns.name
import dns.rcode
import dns.rdatatype
import pytest

from e2e_util import (SINK_TTL, assert_edns_echo, assert_header, assert_same_answer,
                      assert_synth_soa, ede_options, kaspersky_ede_text, query)

# name, qtype, the upstream data that must not leak, expected answer
SINKHOLED = [
    ("cloak.e2e.test.", "A", "0.0.0.0"),            # CNAME s01.upd.kaspersky.com
    ("cloak.e2e.test.", "AAAA", "::"),
    ("cloak2.e2e.test.", "A", "0.0.0.0"),           # CNAME alias -> CNAME dnl-07.geo
    ("s01.dname.e2e.test.", "A", "0.0.0.0"),        # DNAME upd.kaspersky.com
]
UPSTREAM_DATA = {"192.0.2.7", "192.0.2.8", "2001:db8::7", "2001:db8::8"}


def _all_rdata(r):
    return {rd.to_text() for sec in (r.answer, r.authority, r.additional)
            for rr in sec for rd in rr}


@pytest.mark.parametrize("proto", ["udp", "tcp"])
@pytest.mark.parametrize("edns", [True, False], ids=["edns", "no-edns"])
@pytest.mark.parametrize("name,rdtype,addr", SINKHOLED)
def test_cloaked_into_sinkhole(embargo, nsd, proto, edns, name, rdtype, addr):
    ref = nsd.query(name, rdtype)
    assert any(rd.to_text() in UPSTREAM_DATA for rr in ref.answer for rd in rr), \
        f"test zone broken: nsd's chain for {name} does not resolve\n{ref}"
    q = query(name, rdtype, edns=edns)
    r = (embargo.udp if proto == "udp" else embargo.tcp)(q)
    what = f"{name} {rdtype} {proto}"
    assert r.rcode() == dns.rcode.NOERROR, f"{what}\n{r}"
    assert_header(r, q, what)
    leaked = _all_rdata(r) & UPSTREAM_DATA
    assert not leaked, f"{what}: upstream data of a banned name leaked: {leaked}\n{r}"
    owned = [rr for rr in r.answer
             if rr.name == dns.name.from_text(name) and rr.rdtype == dns.rdatatype.from_text(rdtype)]
    assert len(owned) == 1, f"{what}: expected a {rdtype} for the QNAME itself\n{r}"
    assert [x.to_text() for x in owned[0]] == [addr], f"{what}\n{r}"
    assert owned[0].ttl == SINK_TTL
    assert_edns_echo(r, q, 16, kaspersky_ede_text("updates"), what)


def test_cloaked_into_sinkhole_other_type_is_nodata(embargo):
    """cloak.e2e.test MX: nsd answers with the CNAME only; the chain still
    enters upd.kaspersky.com, so the answer is the sinkhole's NODATA."""
    q = query("cloak.e2e.test.", "MX")
    r = embargo.udp(q)
    assert r.rcode() == dns.rcode.NOERROR, f"\n{r}"
    assert_header(r, q, "cloak MX")
    assert not [rr for rr in r.answer if rr.rdtype == dns.rdatatype.MX]
    assert not any(rr.rdtype == dns.rdatatype.CNAME for rr in r.answer), \
        f"the CNAME into the banned domain leaked\n{r}"
    assert_synth_soa(r, q, "cloak MX")
    assert_edns_echo(r, q, 16, kaspersky_ede_text("updates"), "cloak MX")


def test_cloaked_into_refuse(embargo):
    q = query("cloak-store.e2e.test.", "A")
    r = embargo.udp(q)
    assert r.rcode() == dns.rcode.REFUSED, f"\n{r}"
    assert_header(r, q, "cloak-store")
    assert not r.answer
    assert_edns_echo(r, q, 16, kaspersky_ede_text("sales"), "cloak-store")


def test_cloaked_into_nxdomain(embargo):
    q = query("cloak-ksc.e2e.test.", "A")
    r = embargo.udp(q)
    assert r.rcode() == dns.rcode.NXDOMAIN, f"\n{r}"
    assert_header(r, q, "cloak-ksc")
    assert not r.answer, f"\n{r}"
    assert_synth_soa(r, q, "cloak-ksc")
    assert_edns_echo(r, q, 16, kaspersky_ede_text("services"), "cloak-ksc")


@pytest.mark.parametrize("name", ["cname-allowed.e2e.test.",   # -> opentip (allow list)
                                  "cname-audited.e2e.test.",   # -> www.kaspersky.com (audit)
                                  "cname-local.e2e.test."])
def test_chain_to_unblocked_name_passes(embargo, nsd, name):
    r = embargo.udp(query(name, "A"))
    assert_same_answer(r, nsd.query(name, "A"), name)
    assert any(rr.rdtype == dns.rdatatype.CNAME for rr in r.answer)
    assert not ede_options(r)
    assert not r.flags & dns.flags.TC
