"""minimal-responses (default yes): a positive answer to a query without DO
loses the authority and additional records nsd adds (its NS and glue), both
as forwarded and as cached; DO=1 answers, negative answers and
`minimal-responses: no` keep everything; a reload switches it; `embargo
check` points at a bad value."""
import signal
import subprocess
import time

import dns.rcode
import dns.rdatatype

from e2e_util import AFTER, addresses, embargo_bin, query


def records(sec):
    return sorted((rr.name.to_text().lower(), rr.rdtype) for rr in sec
                  if rr.rdtype != dns.rdatatype.OPT)


def answer_ttl(r):
    return min(rrset.ttl for rrset in r.answer)


def fresh_then_cached(e, name, rdtype="A", **kw):
    """The answer forwarded, then the same question 1.1 s later, which the
    cache answers (its TTL has counted down)."""
    r1 = e.udp(query(name, rdtype, **kw))
    time.sleep(1.1)
    r2 = e.udp(query(name, rdtype, **kw))
    assert r1.rcode() == r2.rcode()
    if r1.answer:
        assert answer_ttl(r2) < answer_ttl(r1), f"not from the cache\n{r2}"
    return r1, r2


def test_reference_has_authority_and_additional(nsd):
    # what the rest of this file relies on: nsd adds NS and glue
    ref = nsd.query("www.e2e.test.", "A")
    assert records(ref.authority) == [("e2e.test.", dns.rdatatype.NS)], f"\n{ref}"
    assert records(ref.additional) == [("ns.e2e.test.", dns.rdatatype.A)], f"\n{ref}"


def test_default_trims_without_do(embargo_factory, nsd):
    e = embargo_factory(at=AFTER)
    for edns, name in ((False, "www.e2e.test."), (True, "mail.e2e.test.")):
        for r in fresh_then_cached(e, name, edns=edns):
            assert r.rcode() == dns.rcode.NOERROR and addresses(r), f"\n{r}"
            assert not r.authority and not records(r.additional), f"not minimal:\n{r}"
            # our own OPT stays for an EDNS client, and only then
            assert (r.edns >= 0) == edns, f"\n{r}"
            if edns:
                assert r.payload == 1232 and not r.ednsflags & 0x8000


def test_dnssec_ok_keeps_everything(embargo_factory, nsd):
    e = embargo_factory(at=AFTER)
    for r in fresh_then_cached(e, "mail2.e2e.test.", dnssec=True):
        assert addresses(r) == ["192.0.2.26"]
        assert records(r.authority) == [("e2e.test.", dns.rdatatype.NS)], f"\n{r}"
        assert records(r.additional) == [("ns.e2e.test.", dns.rdatatype.A)], f"\n{r}"
        assert r.ednsflags & 0x8000


def test_negative_answers_keep_their_soa(embargo_factory, nsd):
    e = embargo_factory(at=AFTER)
    # NODATA (www has no SRV) and NXDOMAIN
    for name, rdtype, rcode in (("www.e2e.test.", "SRV", dns.rcode.NOERROR),
                                ("nosuch-min.e2e.test.", "A", dns.rcode.NXDOMAIN)):
        r1, r2 = fresh_then_cached(e, name, rdtype)
        for r in (r1, r2):
            assert r.rcode() == rcode and not r.answer
            assert [rr.rdtype for rr in r.authority] == [dns.rdatatype.SOA], f"\n{r}"
        assert r2.authority[0].ttl < r1.authority[0].ttl, "not from the cache"


def test_off_keeps_everything(embargo_factory, nsd):
    e = embargo_factory(at=AFTER, extra_config="minimal-responses: no\n")
    for r in fresh_then_cached(e, "www.e2e.test.", edns=False):
        assert addresses(r) == ["192.0.2.1"]
        assert records(r.authority) == [("e2e.test.", dns.rdatatype.NS)], f"\n{r}"
        assert records(r.additional) == [("ns.e2e.test.", dns.rdatatype.A)], f"\n{r}"


def test_reload_switches_it(embargo_factory, nsd):
    e = embargo_factory(at=AFTER, extra_config="minimal-responses: no\n")
    assert e.udp(query("multi.e2e.test.", "A")).authority
    e.config.write_text(e.config.read_text().replace("minimal-responses: no",
                                                     "minimal-responses: yes"))
    e.proc.send_signal(signal.SIGHUP)
    deadline = time.monotonic() + 5
    r = None
    while time.monotonic() < deadline:
        r = e.udp(query("multi.e2e.test.", "A"))
        if not r.authority:
            break
        time.sleep(0.1)
    assert r is not None and not r.authority and len(addresses(r)) == 3, \
        f"the reload did not make answers minimal\n{r}\n{e.diagnostics()}"


def test_check_points_at_a_bad_value(tmp_path):
    cfg = tmp_path / "embargo.yaml"
    cfg.write_text("listen: [127.0.0.1:5399]\nupstreams: [127.0.0.1]\npolicies: []\n"
                   "minimal-responses: sometimes\n")
    p = subprocess.run([str(embargo_bin()), "check", "-c", str(cfg)], capture_output=True,
                       text=True, timeout=30)
    assert p.returncode == 1, p.stdout + p.stderr
    assert f"{cfg}:4:20: minimal-responses: unknown value \"sometimes\"" in p.stderr, p.stderr
