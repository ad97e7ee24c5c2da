"""Upstreams: dead or silent ones (SERVFAIL with EDE 22 within the timeout,
failover to the next), spoofed replies ignored, fresh random IDs and source
ports (RFC 5452), identical questions in flight sharing one upstream query,
late replies ignored. Every embargo here runs with `timeout: 500ms`."""

import socket
import threading
import time

import dns.flags
import dns.message
import dns.rcode
import dns.rrset
import pytest

from fakeupstream import SPOOF_ADDRESSES, FakeUpstream, SilentUpstream

from e2e_util import (AFTER, addresses, assert_same_answer, ede_options, free_port, query)

# timeout (0.5 s) plus a margin for the sanitizer build and the test host
FAIL_BUDGET = 1.5


def timed(fn, *a, **kw):
    t0 = time.monotonic()
    r = fn(*a, **kw)
    return r, time.monotonic() - t0


def assert_servfail_ede22(r, q, what):
    assert r.rcode() == dns.rcode.SERVFAIL, f"{what}\n{r}"
    assert r.id == q.id
    assert r.question and r.question[0].name == q.question[0].name
    assert r.flags & dns.flags.RA
    if q.edns >= 0:
        edes = ede_options(r)
        assert [o.code for o in edes] == [22], f"{what}: expected EDE 22, got {edes}\n{r}"
    else:
        assert r.edns < 0, f"{what}: OPT in the answer to a query without EDNS"


@pytest.mark.parametrize("edns", [True, False], ids=["edns", "no-edns"])
def test_closed_upstream_servfail_ede22(embargo_factory, edns):
    e = embargo_factory(upstreams=[f"127.0.0.1:{free_port()}"], at=AFTER)
    for proto, send in (("udp", e.udp), ("tcp", e.tcp)):
        q = query("www.e2e.test.", "A", edns=edns)
        r, took = timed(send, q, timeout=5)
        assert_servfail_ede22(r, q, f"closed upstream, {proto}")
        assert took < FAIL_BUDGET, f"{proto}: SERVFAIL took {took:.2f}s"


def test_silent_upstream_servfail_ede22(embargo_factory):
    with SilentUpstream() as silent:
        e = embargo_factory(upstreams=[silent.addr], at=AFTER)
        q = query("www.e2e.test.", "A")
        r, took = timed(e.udp, q, timeout=5)
        assert_servfail_ede22(r, q, "silent upstream")
        assert took < FAIL_BUDGET, f"SERVFAIL took {took:.2f}s with timeout 500ms"


def test_first_upstream_closed_second_answers(embargo_factory, nsd):
    e = embargo_factory(upstreams=[f"127.0.0.1:{free_port()}", nsd.addr], at=AFTER)
    for name, rdtype in [("www.e2e.test.", "A"), ("www.e2e.test.", "MX")]:
        r, took = timed(e.udp, query(name, rdtype), timeout=5)
        assert_same_answer(r, nsd.query(name, rdtype), f"{name} via the second upstream")
        assert took < FAIL_BUDGET, f"failover took {took:.2f}s"


def test_first_upstream_silent_second_answers(embargo_factory, nsd):
    with SilentUpstream() as silent:
        e = embargo_factory(upstreams=[silent.addr, nsd.addr], at=AFTER)
        r, took = timed(e.udp, query("www.e2e.test.", "AAAA"), timeout=5)
        assert_same_answer(r, nsd.query("www.e2e.test.", "AAAA"), "via the second upstream")
        assert took < FAIL_BUDGET, f"failover took {took:.2f}s"
        r, took = timed(e.tcp, query("mail.e2e.test.", "A"), timeout=5)
        assert_same_answer(r, nsd.query("mail.e2e.test.", "A"), "TCP client, second upstream")
        assert took < FAIL_BUDGET


def test_spoofed_replies_are_ignored(embargo_factory):
    with FakeUpstream("spoof", address="192.0.2.99", spoof_delay=0.05) as fake:
        e = embargo_factory(upstreams=[fake.addr], at=AFTER, timeout="2s")
        for name in ["spoof.e2e.test.", "Spoof-Two.E2E.test.", "three.spoof.e2e.test."]:
            q = query(name, "A")
            r = e.udp(q, timeout=5)
            assert r.rcode() == dns.rcode.NOERROR, f"{name}\n{r}"
            got = addresses(r)
            assert not set(got) & set(SPOOF_ADDRESSES), \
                f"{name}: a spoofed reply was accepted: {got}\n{r}"
            assert got == ["192.0.2.99"], f"{name}\n{r}"
            assert r.question[0].name.labels == q.question[0].name.labels
        assert len(fake.received()) >= 3


def test_upstream_queries_use_fresh_ids_and_ports(embargo_factory):
    with FakeUpstream("answer", address="192.0.2.99") as fake:
        e = embargo_factory(upstreams=[fake.addr], at=AFTER)
        n = 8
        for i in range(n):
            r = e.udp(query(f"rand{i}.e2e.test.", "A", id=0x4242))
            assert addresses(r) == ["192.0.2.99"]
            assert r.id == 0x4242
        recs = [x for x in fake.received() if x.msg is not None and x.msg.question
                and x.msg.question[0].name.to_text().lower().startswith("rand")]
        assert len(recs) >= n
        ids = {x.msg.id for x in recs}
        ports = {x.addr[1] for x in recs}
        assert len(ids) >= n - 1, f"upstream query IDs not random: {sorted(ids)}"
        assert 0x4242 not in ids or len(ids) > 1, "the client's ID is reused upstream"
        assert len(ports) >= n // 2, f"upstream source ports not random: {sorted(ports)}"


def test_identical_questions_in_flight_share_one_upstream_query(embargo_factory):
    with FakeUpstream("answer", address="192.0.2.99", delays={"herd.e2e.test.": 0.4}) as fake:
        e = embargo_factory(upstreams=[fake.addr], at=AFTER, timeout="2s")
        clients = 5
        results = [None] * clients
        barrier = threading.Barrier(clients)

        def ask(i):
            barrier.wait()
            try:
                results[i] = e.udp(query("herd.e2e.test.", "A", id=0x5000 + i), timeout=5)
            except Exception as ex:  # noqa: BLE001
                results[i] = ex

        threads = [threading.Thread(target=ask, args=(i,)) for i in range(clients)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(10)
        for i, r in enumerate(results):
            assert isinstance(r, dns.message.Message), f"client {i}: {r!r}"
            assert r.id == 0x5000 + i
            assert addresses(r) == ["192.0.2.99"]
        upstream = fake.received("herd.e2e.test.")
        assert len(upstream) == 1, \
            f"{clients} identical questions in flight caused {len(upstream)} upstream queries"


def test_late_reply_after_failover_is_ignored(embargo_factory, nsd):
    """The first upstream answers after the timeout (0.5 s): the client has
    the second upstream's answer by then, and the late reply changes nothing."""
    with FakeUpstream("answer", address="192.0.2.99", delay=0.8) as slow:
        e = embargo_factory(upstreams=[slow.addr, nsd.addr], at=AFTER)
        r, took = timed(e.udp, query("www.e2e.test.", "A"), timeout=5)
        assert addresses(r) == ["192.0.2.1"], f"\n{r}"
        assert took < FAIL_BUDGET
        time.sleep(0.5)  # the late reply arrives now
        assert slow.received("www.e2e.test.")
        assert e.alive(), e.diagnostics()
        r = e.udp(query("www.e2e.test.", "A"))
        assert addresses(r) == ["192.0.2.1"], f"a late reply replaced the answer\n{r}"


def test_udp_source_address_checked(embargo_factory):
    """A reply from the right port of another loopback address is dropped."""
    with FakeUpstream("answer", address="192.0.2.99", delay=0.1) as fake:
        e = embargo_factory(upstreams=[fake.addr], at=AFTER, timeout="2s")
        # Also send an unsolicited "reply" from 127.0.0.2 to every port the
        # fake has seen: nothing breaks, nothing is accepted.
        q = query("src.e2e.test.", "A")
        result = {}

        def ask():
            result["r"] = e.udp(q, timeout=5)

        t = threading.Thread(target=ask)
        t.start()
        deadline = time.monotonic() + 2
        while not fake.received("src.e2e.test.") and time.monotonic() < deadline:
            time.sleep(0.005)
        recs = fake.received("src.e2e.test.")
        assert recs, "query never reached the upstream"
        up = recs[0]
        bogus = dns.message.make_response(up.msg)
        bogus.answer.append(dns.rrset.from_text(up.msg.question[0].name, 60, "IN", "A",
                                                "6.6.6.11"))
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            s.bind(("127.0.0.2", fake.port))
        except OSError:
            s.close()
            t.join(6)
            pytest.skip("cannot bind 127.0.0.2")
        try:
            s.sendto(bogus.to_wire(), up.addr)
        finally:
            s.close()
        t.join(6)
        r = result.get("r")
        assert r is not None, "no answer"
        assert addresses(r) == ["192.0.2.99"], f"a reply from another address was accepted\n{r}"



def test_truncated_udp_reply_is_retried_over_tcp(embargo_factory):
    """The upstream answers UDP with TC=1 and an empty answer; over TCP with
    the whole rrset. A UDP client gets the whole (small) rrset."""
    addrs = ["192.0.2.51", "192.0.2.52", "192.0.2.53"]
    with FakeUpstream("tc", address=addrs, tcp=True) as fake:
        e = embargo_factory(upstreams=[fake.addr], at=AFTER, timeout="2s")
        r = e.udp(query("tc.e2e.test.", "A"), timeout=5)
        assert not r.flags & dns.flags.TC, f"the upstream's TC was passed on, no TCP retry\n{r}"
        assert addresses(r) == addrs, f"\n{r}"
        recs = fake.received("tc.e2e.test.")
        assert any(x.addr[0] == "tcp" for x in recs), "no TCP query reached the upstream"
        assert any(x.addr[0] != "tcp" for x in recs), "the UDP attempt is missing"


def test_client_rd_cd_do_bits_are_forwarded(embargo_factory):
    with FakeUpstream("answer", address="192.0.2.99") as fake:
        e = embargo_factory(upstreams=[fake.addr], at=AFTER)
        q = query("bits.e2e.test.", "A", dnssec=True)
        q.flags |= dns.flags.CD
        r = e.udp(q)
        assert addresses(r) == ["192.0.2.99"]
        assert r.ednsflags & dns.flags.DO, "DO not echoed to the client"
        recs = fake.received("bits.e2e.test.")
        assert recs, "query never reached the upstream"
        up = recs[0].msg
        assert up.flags & dns.flags.RD, "RD not forwarded"
        assert up.flags & dns.flags.CD, "CD not forwarded"
        assert up.edns >= 0 and up.ednsflags & dns.flags.DO, "DO not forwarded"
