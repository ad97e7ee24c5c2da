"""Answers leave through a socket of their own (listen_udp.c): each UDP
listen address has, per worker, a receiving socket in the event loop and a
sending socket bound to the same address and port, outside it, and a
reuseport program steers every query to the receivers. The tests find both
sockets in /proc, and check that every query is answered from the listen
address and port and that no query ever reached a sender (its filter would
have dropped it, and counted the drop)."""

import os
import random
import socket

import dns.query
import pytest

from e2e_util import AFTER, addresses, query


def udp_sockets(pid, port):
    """(inode, drops) of the process's IPv4 UDP sockets bound to port."""
    inodes = set()
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            target = os.readlink(f"/proc/{pid}/fd/{fd}")
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    found = []
    with open(f"/proc/{pid}/net/udp") as f:
        next(f)
        for line in f:
            fields = line.split()
            local, inode, drops = fields[1], fields[9], int(fields[12])
            if int(local.split(":")[1], 16) == port and inode in inodes:
                found.append((inode, drops))
    return found


def ask_many(e, n):
    """n queries from n fresh sockets (random ports, random IDs), half
    blocked, half forwarded: every answer must come from the listen
    address and port (dnspython raises on any other source)."""
    for i in range(n):
        name = f"s{i % 20:02d}.upd.kaspersky.com." if i % 2 else "www.e2e.test."
        q = query(name, "A")
        q.id = random.randrange(65536)
        r = dns.query.udp(q, e.host, port=e.port, timeout=3.0, ignore_unexpected=False)
        want = ["0.0.0.0"] if i % 2 else ["192.0.2.1"]
        assert addresses(r) == want, f"query {i} ({name}, id {q.id}):\n{r}"


@pytest.mark.parametrize("workers", [1, 2])
def test_answers_leave_through_the_sending_sockets(embargo_factory, nsd, workers):
    e = embargo_factory(at=AFTER, extra_config=f"workers: {workers}\n")
    socks = udp_sockets(e.proc.pid, e.port)
    # a receiver and a sender per worker (the start-up probe's socket is
    # closed before any listener binds)
    assert len(socks) == 2 * workers, \
        f"{len(socks)} UDP sockets on port {e.port}, not {2 * workers}\n{e.diagnostics()}"
    ask_many(e, 200)
    after = udp_sockets(e.proc.pid, e.port)
    assert sum(d for _, d in after) == 0, f"datagrams dropped at a socket of the port: {after}"
    assert "answers leave through the listening socket" not in e.stderr_path.read_text()


def test_a_query_too_short_for_an_id_reaches_a_receiver(embargo_factory, nsd):
    """The steering program reads the query's ID; a datagram of one octet
    has none, goes to the first receiver, and is dropped there as
    malformed: the daemon answers the next query as usual."""
    e = embargo_factory(at=AFTER, extra_config="workers: 2\n")
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.sendto(b"\x01", (e.host, e.port))
    s.close()
    r = e.udp(query("www.e2e.test.", "A"))
    assert addresses(r) == ["192.0.2.1"], f"\n{r}"
    assert e.proc.poll() is None
