"""Faults from upstreams, each against a scripted upstream (fakeupstream.py):
what the client gets, what is cached, and what the upstreams saw.

- silent upstreams: one attempt each, then SERVFAIL with EDE 22; closed
  ports: ICMP makes the failover immediate; TC then a TCP connection that is
  refused, reset, cut mid-answer or silent; one slow name does not hold up
  the others;
- replies to ignore (garbage, empty, compression loops, wrong ID, question,
  source, QR=0): ignored, the right reply accepted, or SERVFAIL after the
  timeout when it never comes;
- error rcodes: the next upstream is asked; SERVFAIL with EDE 22 when all
  fail; NOERROR, NXDOMAIN and YXDOMAIN are answers;
- a 60 KB answer (TCP after TC; TC within the client's size over UDP);
- out-of-bailiwick records in authority and additional: passed on with the
  answer they came in, never used for another name.

Timeouts are short (300 ms) where a test waits for them, 2 s where a test
shows that something happens well before the timeout.
"""

import threading
import time

import dns.flags
import dns.message
import dns.rcode
import dns.rdatatype
import pytest

from fakeupstream import JUNK_KINDS, SPOOF_ADDRESSES, FakeUpstream

from e2e_util import AFTER, addresses, ede_options, free_port, query, udp_exchange

ANSWER = "192.0.2.99"
SECOND = "192.0.2.98"
SHORT = "300ms"
LONG = "2s"
QUICK = 1.0      # "well before the 2 s timeout", with room for ASan and a loaded host


def timed(fn, *a, **kw):
    t0 = time.monotonic()
    r = fn(*a, **kw)
    return r, time.monotonic() - t0


def assert_servfail_ede22(r, q, what):
    assert r.rcode() == dns.rcode.SERVFAIL, f"{what}\n{r}"
    assert r.id == q.id and r.flags & dns.flags.RA, f"{what}\n{r}"
    assert r.question and r.question[0].name == q.question[0].name, f"{what}\n{r}"
    assert not r.answer, f"{what}: records in a SERVFAIL\n{r}"
    if q.edns >= 0:
        assert [o.code for o in ede_options(r)] == [22], f"{what}: no EDE 22\n{r}"
    else:
        assert r.edns < 0, f"{what}: OPT in the answer to a query without EDNS\n{r}"


def count(fake, name):
    return len(fake.received(name))


# --------------------------------------------------------------------------
# silent, closed, TCP faults, slow


def test_silent_upstreams_each_tried_once_then_servfail(embargo_factory):
    with FakeUpstream("silent") as a, FakeUpstream("silent") as b:
        e = embargo_factory(upstreams=[a.addr, b.addr], at=AFTER, timeout=SHORT)
        name = "silent.e2e.test."
        q = query(name)
        r, took = timed(e.udp, q, timeout=5)
        assert_servfail_ede22(r, q, "two silent upstreams")
        assert 0.55 <= took < 2.5, f"two 300 ms attempts took {took:.2f}s"
        assert count(a, name) == 1 and count(b, name) == 1, \
            f"attempts: first {count(a, name)}, second {count(b, name)} (one each expected)"
        gap = b.received(name)[0].time - a.received(name)[0].time
        assert gap >= 0.25, f"the second upstream was asked {gap:.2f}s after the first"
        # a failure is not cached: the next query asks again
        r = e.udp(query(name, edns=False), timeout=5)
        assert r.rcode() == dns.rcode.SERVFAIL and r.edns < 0
        assert count(a, name) == 2 and count(b, name) == 2


def test_silent_first_upstream_second_answers_and_is_cached(embargo_factory):
    with FakeUpstream("silent") as a, FakeUpstream("answer", address=SECOND) as b:
        e = embargo_factory(upstreams=[a.addr, b.addr], at=AFTER, timeout=SHORT)
        r, took = timed(e.udp, query("late.e2e.test."), timeout=5)
        assert addresses(r) == [SECOND], f"\n{r}"
        assert 0.25 <= took < 2.0, f"failover after a 300 ms timeout took {took:.2f}s"
        r = e.tcp(query("late.e2e.test."))
        assert addresses(r) == [SECOND]
        assert count(a, "late.e2e.test.") == 1 and count(b, "late.e2e.test.") == 1, \
            "the answer was not cached"


def test_closed_port_fails_over_well_before_the_timeout(embargo_factory):
    """Connected UDP sockets get the ICMP port unreachable as ECONNREFUSED:
    the next upstream is asked at once, not after the 2 s timeout."""
    with FakeUpstream("answer", address=SECOND) as b:
        closed = f"127.0.0.1:{free_port()}"
        e = embargo_factory(upstreams=[closed, b.addr], at=AFTER, timeout=LONG)
        for i, send in enumerate((e.udp, e.tcp)):
            name = f"closed{i}.e2e.test."
            r, took = timed(send, query(name), timeout=5)
            assert addresses(r) == [SECOND], f"\n{r}"
            assert took < QUICK, f"failover from a closed port took {took:.2f}s (timeout 2 s)"
            assert count(b, name) == 1
    e2 = embargo_factory(upstreams=[f"127.0.0.1:{free_port()}", f"127.0.0.1:{free_port()}"],
                         at=AFTER, timeout=LONG)
    q = query("closed.e2e.test.")
    r, took = timed(e2.udp, q, timeout=5)
    assert_servfail_ede22(r, q, "every port closed")
    assert took < QUICK, f"SERVFAIL with every port closed took {took:.2f}s (timeout 2 s)"


TCP_FAULTS = ["refused", "reset", "cut", "silent"]


def tc_upstream(fault):
    """A TC-answering upstream whose TCP side has `fault`."""
    if fault == "refused":
        return FakeUpstream("tc", address=ANSWER)          # nothing listens on TCP
    return FakeUpstream("tc", address=ANSWER, tcp=True, tcp_script=fault)


@pytest.mark.parametrize("fault", TCP_FAULTS)
def test_tc_then_tcp_fault_servfail(embargo_factory, fault):
    timeout = SHORT if fault == "silent" else LONG
    with tc_upstream(fault) as fake:
        e = embargo_factory(upstreams=[fake.addr], at=AFTER, timeout=timeout)
        name = f"tcp-{fault}.e2e.test."
        q = query(name)
        r, took = timed(e.udp, q, timeout=5)
        assert_servfail_ede22(r, q, f"TC, then TCP {fault}")
        assert not r.flags & dns.flags.TC, "the upstream's TC was passed on"
        if fault == "silent":
            assert 0.25 <= took < 2.0, f"took {took:.2f}s with a 300 ms timeout"
        else:
            assert took < QUICK, f"TCP {fault}: SERVFAIL took {took:.2f}s (timeout 2 s)"
        recs = fake.received(name)
        assert sum(x.addr[0] != "tcp" for x in recs) == 1, "one UDP query expected"
        if fault != "refused":
            assert sum(x.addr[0] == "tcp" for x in recs) == 1, "the TCP query never came"
        # nothing was cached: the next query asks again
        e.udp(query(name), timeout=5)
        assert sum(x.addr[0] != "tcp" for x in fake.received(name)) == 2


@pytest.mark.parametrize("fault", ["reset", "cut"])
def test_tc_then_tcp_fault_next_upstream_answers(embargo_factory, fault):
    with tc_upstream(fault) as a, FakeUpstream("answer", address=SECOND) as b:
        e = embargo_factory(upstreams=[a.addr, b.addr], at=AFTER, timeout=LONG)
        name = f"tcp2-{fault}.e2e.test."
        r, took = timed(e.udp, query(name), timeout=5)
        assert r.rcode() == dns.rcode.NOERROR and addresses(r) == [SECOND], f"\n{r}"
        assert not set(addresses(r)) & {ANSWER}, "a cut answer leaked through"
        assert took < QUICK, f"TCP {fault} then the next upstream took {took:.2f}s"
        assert any(x.addr[0] == "tcp" for x in a.received(name))
        assert count(b, name) == 1


def test_slow_name_does_not_hold_up_other_names(embargo_factory):
    slow = "slow.e2e.test."
    with FakeUpstream("answer", address=ANSWER, delays={slow: 2.0}) as fake:
        e = embargo_factory(upstreams=[fake.addr], at=AFTER, timeout="3s")
        result = {}

        def ask():
            result["r"], result["took"] = timed(e.udp, query(slow), timeout=6)

        t = threading.Thread(target=ask)
        t.start()
        deadline = time.monotonic() + 2
        while not fake.received(slow) and time.monotonic() < deadline:
            time.sleep(0.005)
        assert fake.received(slow), "the slow query never reached the upstream"
        t0 = time.monotonic()
        for i in range(6):
            send = e.udp if i % 2 == 0 else e.tcp
            r, took = timed(send, query(f"fast{i}.e2e.test."), timeout=3)
            assert addresses(r) == [ANSWER], f"\n{r}"
            assert took < 0.5, f"fast{i} took {took:.2f}s while slow was in flight"
        assert time.monotonic() - t0 < 1.8 and t.is_alive(), \
            "the other names were not answered while the slow one was in flight"
        t.join(6)
        assert addresses(result["r"]) == [ANSWER]
        assert result["took"] >= 1.9
        assert count(fake, slow) == 1, "the slow name was asked again"


# --------------------------------------------------------------------------
# replies to ignore


@pytest.fixture(scope="module")
def junk_upstream():
    with FakeUpstream("junk", address=ANSWER, spoof_delay=0.1) as fake:
        yield fake


@pytest.fixture(scope="module")
def junk_embargo(module_embargo_factory, junk_upstream):
    """The right reply comes 0.1 s after the junk, well within the timeout."""
    return module_embargo_factory(upstreams=[junk_upstream.addr], at=AFTER, timeout="1500ms")


@pytest.fixture(scope="module")
def junk_embargo_short(module_embargo_factory, junk_upstream):
    return module_embargo_factory(upstreams=[junk_upstream.addr], at=AFTER, timeout=SHORT)


def skip_unavailable(fake, kind):
    if kind == "wrongaddr" and fake.alt_addr is None:
        pytest.skip("cannot bind 127.0.0.2")


@pytest.mark.parametrize("kind", JUNK_KINDS)
def test_junk_ignored_right_reply_accepted(junk_embargo, junk_upstream, kind):
    skip_unavailable(junk_upstream, kind)
    name = f"{kind}.junk.test."
    r, took = timed(junk_embargo.udp, query(name), timeout=5)
    assert r.rcode() == dns.rcode.NOERROR, f"{kind}: the junk ended the attempt\n{r}"
    got = addresses(r)
    assert not set(got) & set(SPOOF_ADDRESSES), f"{kind}: junk accepted: {got}\n{r}"
    assert got == [ANSWER], f"{kind}\n{r}"
    assert took >= 0.08, f"{kind}: answered before the right reply was sent"
    assert count(junk_upstream, name) == 1
    # what is cached is the right reply
    r = junk_embargo.tcp(query(name))
    assert addresses(r) == [ANSWER] and count(junk_upstream, name) == 1
    assert junk_embargo.alive(), junk_embargo.diagnostics()


@pytest.mark.parametrize("kind", JUNK_KINDS)
def test_junk_only_times_out_to_servfail(junk_embargo_short, junk_upstream, kind):
    skip_unavailable(junk_upstream, kind)
    name = f"{kind}.never.junk.test."
    q = query(name)
    r, took = timed(junk_embargo_short.udp, q, timeout=5)
    assert_servfail_ede22(r, q, f"{kind}, never a right reply")
    assert took >= 0.25, f"{kind}: SERVFAIL after {took:.2f}s: the junk was not ignored"
    assert took < 2.0
    assert count(junk_upstream, name) == 1
    assert junk_embargo_short.alive(), junk_embargo_short.diagnostics()


# --------------------------------------------------------------------------
# error rcodes


TRY_NEXT = [dns.rcode.FORMERR, dns.rcode.SERVFAIL, dns.rcode.NOTIMP, dns.rcode.REFUSED,
            dns.rcode.NOTAUTH]


@pytest.mark.parametrize("rcode", TRY_NEXT, ids=dns.rcode.to_text)
def test_error_rcode_tries_next_upstream(embargo_factory, rcode):
    with FakeUpstream("rcode", rcode=rcode) as a, FakeUpstream("answer", address=SECOND) as b:
        e = embargo_factory(upstreams=[a.addr, b.addr], at=AFTER, timeout=LONG)
        name = f"rc{int(rcode)}.e2e.test."
        r, took = timed(e.udp, query(name), timeout=5)
        assert r.rcode() == dns.rcode.NOERROR and addresses(r) == [SECOND], f"\n{r}"
        assert took < QUICK, f"{dns.rcode.to_text(rcode)}: failover took {took:.2f}s"
        assert count(a, name) == 1 and count(b, name) == 1
        e.udp(query(name))
        assert count(a, name) == 1 and count(b, name) == 1, "the good answer was not cached"


@pytest.mark.parametrize("rcodes", [
    (dns.rcode.SERVFAIL, dns.rcode.REFUSED),
    (dns.rcode.REFUSED, dns.rcode.FORMERR),
    (dns.rcode.FORMERR, dns.rcode.SERVFAIL),
    (dns.rcode.REFUSED,),
], ids=lambda rcs: "-".join(dns.rcode.to_text(x) for x in rcs))
def test_every_upstream_errors_servfail_ede22(embargo_factory, rcodes):
    fakes = [FakeUpstream("rcode", rcode=rc).start() for rc in rcodes]
    try:
        e = embargo_factory(upstreams=[f.addr for f in fakes], at=AFTER, timeout=LONG)
        name = "allerr.e2e.test."
        for i, edns in enumerate((True, False)):
            q = query(name, edns=edns)
            r, took = timed(e.udp, q, timeout=5)
            assert_servfail_ede22(r, q, f"every upstream answered {rcodes}")
            assert took < QUICK, f"took {took:.2f}s: an error rcode waited for the timeout"
            # each upstream asked once per client query: nothing cached
            assert [count(f, name) for f in fakes] == [i + 1] * len(fakes)
        q = query(name)
        assert_servfail_ede22(e.tcp(q, timeout=5), q, "TCP client")
    finally:
        for f in fakes:
            f.close()


@pytest.mark.parametrize("rcode", [dns.rcode.NXDOMAIN, dns.rcode.YXDOMAIN],
                         ids=dns.rcode.to_text)
def test_answer_rcodes_are_passed_on(embargo_factory, rcode):
    with FakeUpstream("rcode", rcode=rcode) as a, FakeUpstream("answer", address=SECOND) as b:
        e = embargo_factory(upstreams=[a.addr, b.addr], at=AFTER, timeout=LONG)
        name = f"ans{int(rcode)}.e2e.test."
        r = e.udp(query(name), timeout=5)
        assert r.rcode() == rcode, f"\n{r}"
        assert not ede_options(r)
        assert count(a, name) == 1 and count(b, name) == 0, \
            f"{dns.rcode.to_text(rcode)} is an answer: the next upstream was asked"


# --------------------------------------------------------------------------
# a 60 KB answer

HUGE_A = [f"10.{i // 62500}.{i // 250 % 250}.{i % 250 + 1}" for i in range(3800)]


def test_60k_answer_tcp_after_tc_and_tc_to_udp_clients(embargo_factory):
    name = "huge.e2e.test."
    with FakeUpstream("tc", address=HUGE_A, tcp=True) as fake:
        e = embargo_factory(upstreams=[fake.addr], at=AFTER, timeout=LONG)
        # UDP clients: TC within their own size (EDNS, capped at 1232; 512 without)
        for payload, limit in ((1232, 1232), (4096, 1232), (512, 512), (None, 512)):
            q = query(name, edns=payload is not None, payload=payload or 1232)
            raw = udp_exchange(e.host, e.port, q.to_wire(), timeout=5)
            assert raw is not None, f"no answer with EDNS {payload}"
            assert len(raw) <= limit, f"EDNS {payload}: {len(raw)} B over UDP"
            r = dns.message.from_wire(raw)
            assert r.id == q.id and r.flags & dns.flags.TC, f"EDNS {payload}: no TC\n{r}"
            assert r.rcode() == dns.rcode.NOERROR and not r.answer
            assert (r.edns >= 0) == (payload is not None)
        # a TCP client gets all of it (from the cache now)
        r, took = timed(e.tcp, query(name), timeout=5)
        assert not r.flags & dns.flags.TC
        assert addresses(r) == sorted(HUGE_A), f"{len(addresses(r))} of {len(HUGE_A)} records"
        assert len(r.to_wire()) > 60000
        recs = fake.received(name)
        assert sum(x.addr[0] == "tcp" for x in recs) == 1, \
            "the 60 KB answer was not cached: asked over TCP again"
        assert sum(x.addr[0] != "tcp" for x in recs) == 1


def test_60k_answer_tcp_client_first(embargo_factory):
    name = "huge2.e2e.test."
    with FakeUpstream("tc", address=HUGE_A, tcp=True) as fake:
        e = embargo_factory(upstreams=[fake.addr], at=AFTER, timeout=LONG)
        r = e.tcp(query(name), timeout=5)
        assert addresses(r) == sorted(HUGE_A) and not r.flags & dns.flags.TC
        assert any(x.addr[0] == "tcp" for x in fake.received(name))


# --------------------------------------------------------------------------
# out-of-bailiwick records

VICTIM = "victim.example."
BANNED = "s01.upd.kaspersky.com."


def test_out_of_bailiwick_records_never_answer_another_name(embargo_factory):
    """The reply for www.bail.test carries A records for victim.example and a
    banned name in additional, and an NS for victim.example in authority.
    With minimal-responses: no they travel with that answer (as dnsdist
    does; see the README; by default they are dropped, test_minimal_responses)
    and are never used to answer a query for their own names."""
    extra_add = [(VICTIM, "A", "6.6.6.6"), (BANNED, "A", "6.6.6.7")]
    extra_auth = [(VICTIM, "NS", "ns.evil.example.")]
    with FakeUpstream("answer", address=ANSWER, additional=extra_add,
                      authority=extra_auth) as fake:
        e = embargo_factory(upstreams=[fake.addr], at=AFTER, timeout=LONG,
                            extra_config="minimal-responses: no\n")
        a = "www.bail.test."
        r = e.udp(query(a))
        assert addresses(r) == [ANSWER], f"\n{r}"
        extra = {(rr.name.to_text().lower(), rr.rdtype) for rr in r.additional}
        assert (VICTIM, dns.rdatatype.A) in extra, f"additional not passed on\n{r}"
        assert any(rr.name.to_text().lower() == VICTIM for rr in r.authority), f"\n{r}"

        # victim.example: asked upstream, answered with its own answer
        r = e.udp(query(VICTIM))
        assert count(fake, VICTIM) == 1, "victim.example was answered from another reply"
        assert addresses(r) == [ANSWER], f"\n{r}"
        r = e.tcp(query(VICTIM, "AAAA"))
        assert count(fake, VICTIM) == 2, "victim.example AAAA came from another reply"
        assert "6.6.6.6" not in str(r.answer)

        # the banned name: blocked by the policy, never asked upstream
        r = e.udp(query(BANNED))
        assert addresses(r) == ["0.0.0.0"], f"\n{r}"
        assert [o.code for o in ede_options(r)] == [16]
        assert count(fake, BANNED) == 0

        # the answer for www.bail.test is cached as it came
        r = e.udp(query(a))
        assert count(fake, a) == 1 and addresses(r) == [ANSWER]
        assert (VICTIM, dns.rdatatype.A) in {(rr.name.to_text().lower(), rr.rdtype)
                                             for rr in r.additional}
