"""A worker under a UDP flood (listen_udp.c reads up to UDP_ROUNDS batches a
wakeup, then lets other events run): a client sends cache hits and blocked
names back to back, and everything else the loop serves must still get its
turn within a fraction of a second: TCP queries, forwarded queries (their
upstream replies), the HTTP endpoint, a pinned clock's cutoff, and SIGTERM,
which reaches the worker through its mailbox (worker.c)."""

import socket
import threading
import time
import urllib.request

import dns.message
import dns.rcode
import pytest

from e2e_util import addresses, free_port, query

# A bound on how long a query waits while the worker is flooded; a pass of
# UDP_ROUNDS batches takes well under a millisecond, so this leaves room
# for the sanitizer builds and a busy machine.
PROMPT = 0.5
LEAD = 4.0   # the daemon starts this long before the updates cutoff


class Load:
    """One thread sending UDP queries back to back (each waits for its
    answer), so the daemon's worker always has a datagram coming."""

    def __init__(self, port):
        self.port = port
        self.stop = threading.Event()
        self.server_stopping = threading.Event()   # unanswered queries then expected
        self.answered = 0
        self.errors = []
        self.thread = threading.Thread(target=self.run, daemon=True)

    def run(self):
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.settimeout(2.0)
        wires = [query(n, "A", edns=False).to_wire()
                 for n in ("www.e2e.test.", "ready.e2e.test.", "s01.upd.kaspersky.com.")]
        i = 0
        try:
            while not self.stop.is_set():
                s.sendto(wires[i % len(wires)], ("127.0.0.1", self.port))
                try:
                    s.recv(4096)
                    self.answered += 1
                except socket.timeout:
                    if not self.server_stopping.is_set():
                        self.errors.append("a load query went unanswered for 2 s")
                    return
                i += 1
        finally:
            s.close()

    def __enter__(self):
        self.thread.start()
        time.sleep(0.3)   # under way before the checks begin
        return self

    def __exit__(self, *exc):
        self.stop.set()
        self.thread.join(5)


@pytest.fixture
def flooded(embargo_factory):
    http = free_port()
    e = embargo_factory(at="2024-09-29T03:59:56Z", extra_config=f"http: 127.0.0.1:{http}\n")
    e.http = f"http://127.0.0.1:{http}"
    return e


def timed(fn):
    t0 = time.monotonic()
    r = fn()
    return r, time.monotonic() - t0


def test_other_work_is_served_under_udp_flood(flooded, nsd):
    e = flooded
    name = "dnl-07.geo.kaspersky.com."
    with Load(e.port) as load:
        for i in range(10):
            r, took = timed(lambda: e.tcp(query("www.e2e.test.", "A")))
            assert addresses(r) == ["192.0.2.1"], f"\n{r}"
            assert took < PROMPT, f"TCP query {i} took {took:.3f}s while UDP was busy"

            # uncached: forwarded, so its upstream reply must get through
            r, took = timed(lambda: e.udp(query(f"flood{i}.e2e.test.", "A")))
            assert r.rcode() == dns.rcode.NXDOMAIN, f"\n{r}"
            assert took < PROMPT, f"forwarded query {i} took {took:.3f}s while UDP was busy"

            (status, body), took = timed(lambda: _get(e.http + "/metrics"))
            assert status == 200 and "embargo_queries_total" in body
            assert took < PROMPT, f"/metrics took {took:.3f}s while UDP was busy"

        # The pinned clock passes the updates cutoff during the load: the
        # policy timer must fire although the UDP socket is never empty.
        switched = None
        deadline = e.started_at + LEAD + 3.0
        while time.monotonic() < deadline:
            r = e.udp(query(name, "A"))
            if addresses(r) == ["0.0.0.0"]:
                switched = time.monotonic() - e.started_at
                break
            time.sleep(0.02)
        assert switched is not None, f"{name} not blocked {LEAD + 3:.0f}s after start\n{r}"
        assert LEAD - 0.3 <= switched <= LEAD + PROMPT, \
            f"the cutoff took effect {switched:.2f}s after start, expected {LEAD:.0f}s"

        # SIGTERM under load: a clean exit, promptly
        assert not load.errors, load.errors
        load.server_stopping.set()
        rc, took = e.stop()
        assert rc == 0, e.diagnostics()
        assert took < 2.0, f"exit took {took:.2f}s under UDP load"
    assert load.answered > 1000, f"the load sent only {load.answered} queries"
    assert not load.errors, load.errors


def test_answers_at_once_after_idle(embargo):
    """After a burst the worker waits in epoll: a query after a pause of
    any length is answered at once."""
    for pause in (0.0, 0.002, 0.02, 0.2):
        time.sleep(pause)
        r, took = timed(lambda: embargo.udp(query("www.e2e.test.", "A")))
        assert addresses(r) == ["192.0.2.1"], f"after {pause}s idle:\n{r}"
        assert took < PROMPT, f"after {pause}s idle the answer took {took:.3f}s"


def _get(url):
    with urllib.request.urlopen(url, timeout=3.0) as r:
        return r.status, r.read().decode()
