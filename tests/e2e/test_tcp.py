"""TCP (RFC 7766): several pipelined queries on one connection, answers
matched by ID and allowed out of order; split writes; sequential reuse."""

import socket
import time

import dns.message
import dns.rcode
import pytest

from fakeupstream import FakeUpstream

from e2e_util import (AFTER, addresses, assert_same_answer, ede_options, query, tcp_frame,
                      tcp_read_frame)


def connect(e, timeout=5.0):
    s = socket.create_connection((e.host, e.port), timeout=timeout)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return s


PIPELINE = [
    # name, type, check(r, nsd)
    ("www.e2e.test.", "A", "forward"),
    ("dnl-07.geo.kaspersky.com.", "A", "0.0.0.0"),
    ("store.kaspersky.com.", "A", dns.rcode.REFUSED),
    ("www.e2e.test.", "MX", "forward"),
    ("x.ksc.kaspersky.com.", "A", dns.rcode.NXDOMAIN),
    ("big.e2e.test.", "A", "forward"),
    ("opentip.kaspersky.com.", "A", "forward"),
    ("s01.upd.kaspersky.com.", "AAAA", "::"),
    ("www.e2e.test.", "TXT", "forward"),
    ("nodata.testvendor.example.", "A", "nodata"),
    ("mail.e2e.test.", "A", "forward"),
    ("cloak.e2e.test.", "A", "0.0.0.0"),
]


def check(r, nsd, name, rdtype, expect):
    what = f"{name} {rdtype}"
    if expect == "forward":
        assert_same_answer(r, nsd.query(name, rdtype, tcp=True), what)
        assert not ede_options(r)
    elif expect == "nodata":
        assert r.rcode() == dns.rcode.NOERROR and not r.answer and ede_options(r), f"{what}\n{r}"
    elif isinstance(expect, str):
        assert addresses(r, r.question[0].rdtype) == [expect], f"{what}\n{r}"
        assert ede_options(r), what
    else:
        assert r.rcode() == expect, f"{what}\n{r}"
        assert ede_options(r), what


def test_pipelined_queries_on_one_connection(embargo, nsd):
    qs = {}
    wire = b""
    for i, (name, rdtype, expect) in enumerate(PIPELINE):
        q = query(name, rdtype, id=0x1000 + i)
        qs[q.id] = (q, name, rdtype, expect)
        wire += tcp_frame(q.to_wire())
    with connect(embargo) as s:
        s.sendall(wire)   # every query in one write, before reading any answer
        answers = {}
        for _ in qs:
            data = tcp_read_frame(s)
            assert data is not None, \
                f"connection closed after {len(answers)} of {len(qs)} answers"
            r = dns.message.from_wire(data)
            assert r.id in qs, f"answer with unknown ID {r.id}"
            assert r.id not in answers, f"two answers for ID {r.id}"
            answers[r.id] = r
    for id_, (q, name, rdtype, expect) in qs.items():
        r = answers[id_]
        assert r.question[0].name == q.question[0].name, f"ID {id_}: question mismatch"
        check(r, nsd, name, rdtype, expect)


def test_pipelined_answers_come_as_each_completes(embargo_factory):
    """A slow forwarded query first, a blocked one second: the blocked answer
    must not wait for the slow one (out-of-order answers)."""
    with FakeUpstream("answer", address="192.0.2.99", delays={"slow.e2e.test.": 0.8}) as fake:
        e = embargo_factory(upstreams=[fake.addr], at=AFTER, timeout="3s")
        slow = query("slow.e2e.test.", "A", id=0x0101)
        fast = query("dnl-07.geo.kaspersky.com.", "A", id=0x0202)
        with connect(e) as s:
            t0 = time.monotonic()
            s.sendall(tcp_frame(slow.to_wire()) + tcp_frame(fast.to_wire()))
            first = dns.message.from_wire(tcp_read_frame(s))
            t_first = time.monotonic() - t0
            second = dns.message.from_wire(tcp_read_frame(s))
        assert first.id == fast.id, \
            f"the blocked answer waited {t_first:.2f}s behind the slow forwarded one"
        assert t_first < 0.5
        assert addresses(first) == ["0.0.0.0"]
        assert second.id == slow.id and addresses(second) == ["192.0.2.99"], f"\n{second}"


def test_split_writes(embargo, nsd):
    """A query arriving in pieces (length prefix split, message split)."""
    q = query("www.e2e.test.", "A", id=0x3333)
    frame = tcp_frame(q.to_wire())
    with connect(embargo) as s:
        for piece in (frame[:1], frame[1:2], frame[2:9], frame[9:]):
            s.sendall(piece)
            time.sleep(0.05)
        r = dns.message.from_wire(tcp_read_frame(s))
    assert r.id == q.id
    assert_same_answer(r, nsd.query("www.e2e.test.", "A"), "split writes")


def test_sequential_queries_reuse_connection(embargo, nsd):
    with connect(embargo) as s:
        for i, name in enumerate(["www.e2e.test.", "ksc.kaspersky.com.", "mail.e2e.test."]):
            q = query(name, "A", id=0x4400 + i)
            s.sendall(tcp_frame(q.to_wire()))
            data = tcp_read_frame(s)
            assert data is not None, f"connection closed before answer {i}"
            r = dns.message.from_wire(data)
            assert r.id == q.id
            if name == "ksc.kaspersky.com.":
                assert r.rcode() == dns.rcode.NXDOMAIN
            else:
                assert_same_answer(r, nsd.query(name, "A"), name)


@pytest.mark.parametrize("count", [20])
def test_many_connections_at_once(embargo, nsd, count):
    ref = nsd.query("www.e2e.test.", "A")
    socks = [connect(embargo) for _ in range(count)]
    try:
        for i, s in enumerate(socks):
            s.sendall(tcp_frame(query("www.e2e.test.", "A", id=i).to_wire()))
        for i, s in enumerate(socks):
            data = tcp_read_frame(s)
            assert data is not None, f"connection {i} closed without an answer"
            r = dns.message.from_wire(data)
            assert r.id == i
            assert_same_answer(r, ref, f"connection {i}")
    finally:
        for s in socks:
            s.close()
