"""Abuse from TCP clients: each defence of listen_tcp.c, with a test that
fails if it goes away. A trickled query (slowloris) is closed by the query
deadline, a length under 12 closes the connection, 10,000 pipelined queries
are all answered before a half-close is honoured, a client that never reads
its answers is stopped and closed, and a flood of connections up to and past
the cap leaves UDP and the busy connections working."""

import errno
import os
import select
import socket
import struct
import threading
import time

import dns.message
import dns.rcode
import pytest

from e2e_util import AFTER, query, tcp_frame, tcp_read_frame

QUERY_S = 5.0     # TCP_QUERY_MS
IDLE_S = 10.0     # TCP_IDLE_MS
CAP = 1024        # TCP_MAX_CONNS (one worker)


def connect(e, timeout=5.0, rcvbuf=None):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    if rcvbuf:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    s.settimeout(timeout)
    s.connect((e.host, e.port))
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return s


def peer_closed(s):
    """True when the server closed (EOF or reset) without waiting."""
    p = select.poll()
    p.register(s, select.POLLIN)
    if not p.poll(0):
        return False
    try:
        return s.recv(65536, socket.MSG_DONTWAIT) == b""
    except BlockingIOError:
        return False
    except OSError:
        return True


def udp_ok(e):
    r = e.udp(query("dnl-07.geo.kaspersky.com.", "A"), timeout=2)
    return r.rcode() == dns.rcode.NOERROR and r.answer


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def test_slowloris_is_closed_by_the_query_deadline(embargo):
    """One octet a second never makes a query: without the query deadline,
    each octet would reset the idle timer forever."""
    frame = tcp_frame(query("www.e2e.test.", "A").to_wire())
    with connect(embargo) as s:
        t0 = time.monotonic()
        closed_after = None
        for i in range(len(frame) - 1):   # never the last octet
            try:
                s.send(frame[i:i + 1])
            except OSError:
                closed_after = time.monotonic() - t0
                break
            end = time.monotonic() + 1.0
            while time.monotonic() < end:
                if peer_closed(s):
                    closed_after = time.monotonic() - t0
                    break
                time.sleep(0.05)
            if closed_after is not None or time.monotonic() - t0 > IDLE_S + 5:
                break
    assert closed_after is not None, "a query trickled one octet a second was never closed"
    assert QUERY_S - 0.5 <= closed_after < IDLE_S - 1, \
        f"closed after {closed_after:.1f}s: expected the {QUERY_S}s query deadline"
    assert udp_ok(embargo)


def test_a_query_slower_than_the_deadline_but_whole_is_answered(embargo):
    """Split writes within the deadline are still fine."""
    frame = tcp_frame(query("www.e2e.test.", "A", id=0x5151).to_wire())
    with connect(embargo) as s:
        for piece in (frame[:1], frame[1:5], frame[5:]):
            s.sendall(piece)
            time.sleep(1.0)
        r = dns.message.from_wire(tcp_read_frame(s))
    assert r.id == 0x5151 and r.rcode() == dns.rcode.NOERROR


@pytest.mark.parametrize("length", [0, 1, 11])
def test_length_under_a_header_closes_the_connection(embargo, length):
    """A query before the bad length is answered; the bad length ends it."""
    good = query("dnl-07.geo.kaspersky.com.", "A", id=0x0C0C)
    with connect(embargo, timeout=3) as s:
        s.sendall(tcp_frame(good.to_wire()) + struct.pack("!H", length) + b"\x00" * length)
        r = dns.message.from_wire(tcp_read_frame(s))
        assert r.id == good.id
        t0 = time.monotonic()
        try:
            rest = s.recv(100)
        except ConnectionResetError:
            rest = b""
        took = time.monotonic() - t0
    assert rest == b"" and took < 2.0, f"length {length}: not closed ({rest!r} after {took:.1f}s)"
    assert udp_ok(embargo)


def pipeline(n):
    """n queries: blocked (answered at once), cached and forwarded names,
    and one in three a distinct name nsd answers NXDOMAIN (one upstream
    query each, so the connection hits its in-flight limit)."""
    names = ["dnl-07.geo.kaspersky.com.", "www.e2e.test.", "store.kaspersky.com.",
             "mail.e2e.test."]
    wire = bytearray()
    for i in range(n):
        name = f"n{i}.miss.e2e.test." if i % 3 == 0 else names[i % len(names)]
        q = query(name, "A", id=i % 65536)
        wire += tcp_frame(q.to_wire())
    return bytes(wire)


def test_10000_pipelined_queries_then_half_close_are_all_answered(embargo):
    n = 10000
    wire = pipeline(n)
    with connect(embargo, timeout=60) as s:
        sender = threading.Thread(target=lambda: (s.sendall(wire), s.shutdown(socket.SHUT_WR)))
        sender.start()
        ids = {}
        t0 = time.monotonic()
        while True:
            data = tcp_read_frame(s)
            if data is None:
                break
            r = dns.message.from_wire(data)
            ids[r.id] = ids.get(r.id, 0) + 1
        took = time.monotonic() - t0
        sender.join(10)
    got = sum(ids.values())
    assert got == n, f"{got} answers to {n} pipelined queries before the server closed " \
        f"({took:.1f}s)"
    assert udp_ok(embargo)


def test_10000_pipelined_queries_then_abrupt_close(embargo):
    """The server writes into a closed connection: no crash; ASan at the
    module's teardown finds no leak."""
    wire = pipeline(10000)
    for _ in range(3):
        s = connect(embargo, timeout=10)
        s.sendall(wire)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        s.close()
    time.sleep(1.0)
    assert embargo.alive()
    assert udp_ok(embargo)
    with connect(embargo) as s:
        s.sendall(tcp_frame(query("www.e2e.test.", "A", id=7).to_wire()))
        assert dns.message.from_wire(tcp_read_frame(s)).id == 7


def test_a_client_that_never_reads_is_stopped_and_closed(embargo_factory):
    """It asks for 1.6 KB answers as fast as it can and reads none. The
    server stops reading it once its answers pile up, so it answers a small
    part of what was sent and its memory stays flat; the client is closed
    when no answer has been taken for the idle time; others are served
    all along."""
    e = embargo_factory(at=AFTER, extra_config="http: 127.0.0.1:%d\n" % free_http_port())
    big = tcp_frame(query("big.e2e.test.", "A").to_wire())
    e.tcp(query("big.e2e.test.", "A"))  # cached from now on
    rss0 = rss_kib(e.proc.pid)
    s = connect(e, rcvbuf=4096)
    s.setblocking(False)
    sent, closed_after, t0 = 0, None, time.monotonic()
    chunk = big * 64
    others, next_check = [], t0
    while time.monotonic() - t0 < IDLE_S + 10:
        try:
            sent += s.send(chunk) // len(big)
        except BlockingIOError:
            time.sleep(0.05)
        except OSError as x:   # reset: never read its receive buffer, so no EOF to see
            assert x.errno in (errno.EPIPE, errno.ECONNRESET), x
            closed_after = time.monotonic() - t0
            break
        if time.monotonic() >= next_check:
            next_check += 2.0
            t1 = time.monotonic()
            ok = udp_ok(e)
            r = e.tcp(query("www.e2e.test.", "A"), timeout=3)
            others.append((ok and r.rcode() == dns.rcode.NOERROR, time.monotonic() - t1))
    s.close()
    rss1 = rss_kib(e.proc.pid)
    answered = tcp_answers(e)
    assert closed_after is not None, \
        f"a client that read nothing for {IDLE_S + 10:.0f}s was not closed ({sent} queries sent)"
    assert others and all(ok for ok, _ in others), "other clients were not served meanwhile"
    assert max(t for _, t in others) < 2.0, f"others waited: {others}"
    assert sent > 20000, f"only {sent} queries could be sent: the test did not load the server"
    assert answered < sent / 4, f"{answered} answers built for {sent} unread queries"
    assert rss1 - rss0 < 32 * 1024, f"RSS grew by {(rss1 - rss0) // 1024} MiB"


def free_http_port():
    from e2e_util import free_port
    return free_port()


def tcp_answers(e):
    """embargo_queries_total over TCP, from /metrics."""
    import urllib.request
    http = [line for line in open(e.config).read().splitlines() if line.startswith("http:")]
    addr = http[0].split()[1]
    text = urllib.request.urlopen(f"http://{addr}/metrics", timeout=5).read().decode()
    total = 0
    for line in text.splitlines():
        if line.startswith('embargo_queries_total{transport="tcp"'):
            total += int(float(line.split()[-1]))
    return total


def test_connections_up_to_and_past_the_cap(embargo_factory):
    """Up to the cap every connection is kept and UDP and a busy connection
    are served; past it, the least recently active idle ones are closed to
    make room, never the busy one."""
    e = embargo_factory(at=AFTER)
    busy = connect(e)

    def ask(i):
        busy.sendall(tcp_frame(query("www.e2e.test.", "A", id=i).to_wire()))
        r = dns.message.from_wire(tcp_read_frame(busy))
        assert r.id == i and r.rcode() == dns.rcode.NOERROR

    ask(1)
    flood = []
    try:
        for _ in range(CAP - 1):
            flood.append(connect(e))
        time.sleep(0.5)
        ask(2)
        assert udp_ok(e), "UDP not served with the connection cap reached"
        assert not any(peer_closed(s) for s in flood), "a connection was closed below the cap"
        extra = 200
        for _ in range(extra):
            flood.append(connect(e))
        time.sleep(1.0)
        ask(3)
        assert udp_ok(e)
        closed = [i for i, s in enumerate(flood) if peer_closed(s)]
        assert len(closed) >= extra - 5, f"only {len(closed)} closed for {extra} past the cap"
        assert max(closed) < CAP - 1, "a connection newer than the busy one was closed first"
    finally:
        for s in flood:
            s.close()
        busy.close()
    assert e.alive()
