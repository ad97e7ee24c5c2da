"""The response cache, end to end: hits never reach the upstream, TTLs
count down, the client's case comes back, negative answers are cached,
a cutoff beats a cached CNAME chain, serve-stale, prefetch, and entries: 0."""
import time

import dns.rcode
import pytest
import dns.rdatatype

from fakeupstream import FakeUpstream
from e2e_util import AFTER, addresses, ede_options, query


def count(fake, name):
    return len(fake.received(name))


def answer_ttl(r):
    return min(rrset.ttl for rrset in r.answer)


def test_hit_skips_upstream_and_ttl_counts_down(embargo_factory):
    with FakeUpstream("answer", address="192.0.2.99", ttl=60) as fake:
        e = embargo_factory(upstreams=[fake.addr], at=AFTER)
        r1 = e.udp(query("hit.e2e.test.", "A"))
        assert addresses(r1) == ["192.0.2.99"] and answer_ttl(r1) == 60
        time.sleep(2.1)
        r2 = e.udp(query("HiT.E2e.TeSt.", "A"))
        assert count(fake, "hit.e2e.test.") == 1, "a cached answer was asked upstream again"
        assert addresses(r2) == ["192.0.2.99"]
        assert 56 <= answer_ttl(r2) <= 58, f"TTL after 2 s in cache: {answer_ttl(r2)}"
        # the client's own case and ID come back
        assert r2.question[0].name.to_text() == "HiT.E2e.TeSt."
        assert r2.answer[0].name.to_text().lower() == "hit.e2e.test."
        # over TCP too, from the same cache
        r3 = e.tcp(query("hit.e2e.test.", "A"))
        assert addresses(r3) == ["192.0.2.99"] and count(fake, "hit.e2e.test.") == 1
        # another type is another entry
        e.udp(query("hit.e2e.test.", "TXT"))
        assert count(fake, "hit.e2e.test.") == 2


def test_do_bit_is_part_of_the_key(embargo_factory):
    with FakeUpstream("answer", address="192.0.2.99", ttl=60) as fake:
        e = embargo_factory(upstreams=[fake.addr], at=AFTER)
        e.udp(query("do.e2e.test.", "A"))
        e.udp(query("do.e2e.test.", "A", dnssec=True))
        assert count(fake, "do.e2e.test.") == 2
        r = e.udp(query("do.e2e.test.", "A", dnssec=True))
        assert count(fake, "do.e2e.test.") == 2
        assert r.ednsflags & 0x8000, "DO bit of the client not in the cached answer"


def test_negative_answer_cached_with_soa_ttl(embargo, nsd):
    # nsd's SOA minimum is 60: the NXDOMAIN is kept and its SOA TTL counts down
    r1 = embargo.udp(query("nosuch-neg.e2e.test.", "A"))
    assert r1.rcode() == dns.rcode.NXDOMAIN
    ttl1 = r1.authority[0].ttl
    time.sleep(1.2)
    r2 = embargo.udp(query("nosuch-neg.e2e.test.", "A"))
    assert r2.rcode() == dns.rcode.NXDOMAIN
    assert r2.authority[0].rdtype == dns.rdatatype.SOA
    assert r2.authority[0].ttl < ttl1, "the negative answer was not served from the cache"
    assert ttl1 <= 60


def test_cutoff_beats_cached_cname_chain(embargo_factory, nsd):
    """cloak.e2e.test CNAME s01.upd.kaspersky.com: forwarded and cached
    before the cutoff; blocked from the instant on, although still cached."""
    e = embargo_factory(at="2024-09-29T03:59:57Z")
    r = e.udp(query("cloak.e2e.test.", "A"))
    assert "192.0.2.8" in addresses(r) and not ede_options(r), f"before the cutoff:\n{r}"
    deadline = e.started_at + 7.0
    while time.monotonic() < deadline:
        r = e.udp(query("cloak.e2e.test.", "A"))
        if addresses(r) == ["0.0.0.0"]:
            break
        time.sleep(0.1)
    assert addresses(r) == ["0.0.0.0"], f"the cached chain still answered after the cutoff:\n{r}"
    assert ede_options(r)[0].code == 16


def test_serve_stale_when_upstream_dies(embargo_factory):
    fake = FakeUpstream("answer", address="192.0.2.99", ttl=1).start()
    try:
        e = embargo_factory(upstreams=[fake.addr], at=AFTER, timeout="300ms",
                            extra_config="cache:\n  stale-max: 1h\n")
        assert addresses(e.udp(query("stale.e2e.test.", "A"))) == ["192.0.2.99"]
    finally:
        fake.close()  # its port is closed now: every attempt fails
    time.sleep(1.5)   # the entry expired
    r = e.udp(query("stale.e2e.test.", "A"))
    assert r.rcode() == dns.rcode.NOERROR and addresses(r) == ["192.0.2.99"], f"\n{r}"
    assert answer_ttl(r) == 30
    assert [o.code for o in ede_options(r)] == [3], f"no EDE 3 (Stale Answer)\n{r}"
    # a name never cached still fails
    r = e.udp(query("never.e2e.test.", "A"))
    assert r.rcode() == dns.rcode.SERVFAIL


def test_no_stale_by_default(embargo_factory):
    fake = FakeUpstream("answer", address="192.0.2.99", ttl=1).start()
    try:
        e = embargo_factory(upstreams=[fake.addr], at=AFTER, timeout="300ms")
        e.udp(query("nostale.e2e.test.", "A"))
    finally:
        fake.close()
    time.sleep(1.5)
    assert e.udp(query("nostale.e2e.test.", "A")).rcode() == dns.rcode.SERVFAIL


def test_prefetch_in_last_tenth_of_ttl(embargo_factory):
    with FakeUpstream("answer", address="192.0.2.99", ttl=5) as fake:
        e = embargo_factory(upstreams=[fake.addr], at=AFTER)
        t0 = time.monotonic()
        e.udp(query("pre.e2e.test.", "A"))
        time.sleep(max(0.0, 4.65 - (time.monotonic() - t0)))
        r = e.udp(query("pre.e2e.test.", "A"))   # a hit, in the last tenth
        assert addresses(r) == ["192.0.2.99"]
        time.sleep(0.3)
        assert count(fake, "pre.e2e.test.") == 2, "no refresh in the last tenth of the TTL"
        time.sleep(max(0.0, 5.6 - (time.monotonic() - t0)))
        r = e.udp(query("pre.e2e.test.", "A"))   # the old entry expired; the refreshed one serves
        assert addresses(r) == ["192.0.2.99"] and answer_ttl(r) >= 3
        assert count(fake, "pre.e2e.test.") == 2


def test_cache_off(embargo_factory):
    with FakeUpstream("answer", address="192.0.2.99", ttl=60) as fake:
        e = embargo_factory(upstreams=[fake.addr], at=AFTER,
                            extra_config="cache:\n  entries: 0\n")
        for _ in range(3):
            e.udp(query("off.e2e.test.", "A"))
        assert count(fake, "off.e2e.test.") == 3


PLAIN_POLICY = """\
vendor: plainvendor
name: Plain Vendor
basis: e2e plain-cache basis
rules:
  - id: later
    effective: 2024-09-29T04:00:00Z
    before: allow
    action: nxdomain
    domains: [www.e2e.test]
  - id: ready
    effective: 2020-01-01T00:00:00Z
    action: refuse
    hosts: [ready.nodata.testvendor.example]
"""


def test_plain_cached_answer_does_not_outlive_cutoff(embargo_factory, tmp_path):
    """A name no rule touches before its cutoff (before: allow) is cached as
    plain, and its hits skip the policy walk; from the cutoff instant on the
    same process answers NXDOMAIN, not the cached address."""
    pol = tmp_path / "plain.yaml"
    pol.write_text(PLAIN_POLICY)
    lead = 4.0
    e = embargo_factory(at="2024-09-29T03:59:56Z", policies=[str(pol)])
    r1 = e.udp(query("www.e2e.test.", "A"))
    r2 = e.udp(query("www.e2e.test.", "A"))
    if time.monotonic() - e.started_at > lead - 0.5:
        pytest.skip("startup too slow to query before the pinned cutoff")
    assert addresses(r1) == ["192.0.2.1"] and addresses(r2) == ["192.0.2.1"], f"{r1}\n{r2}"
    deadline = e.started_at + lead + 3.0
    while time.monotonic() < deadline:
        r = e.udp(query("www.e2e.test.", "A"))
        if r.rcode() == dns.rcode.NXDOMAIN:
            break
        assert addresses(r) == ["192.0.2.1"], f"\n{r}"
        time.sleep(0.1)
    assert r.rcode() == dns.rcode.NXDOMAIN, f"the plain cached answer outlived the cutoff:\n{r}"
    assert time.monotonic() - e.started_at >= lead - 0.3
