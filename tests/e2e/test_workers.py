"""`workers: N`: N event loops on SO_REUSEPORT sockets answer alike, and a
port already taken is still a clear startup error."""
import os
import socket
import threading

import dns.message
import dns.query
import dns.rcode

from e2e_util import AFTER, addresses, query
from test_lifecycle import stderr_lines, wait_exit


def test_two_workers_answer_udp_and_tcp(embargo_factory, nsd):
    e = embargo_factory(at=AFTER, extra_config="workers: 2\n")
    threads = len(os.listdir(f"/proc/{e.proc.pid}/task"))
    assert threads >= 2, f"workers: 2 runs {threads} thread(s)"
    errors = []

    def client(i):
        try:
            for j in range(25):
                r = e.udp(query(f"s{j % 20:02d}.upd.kaspersky.com"))
                if addresses(r) != ["0.0.0.0"]:
                    errors.append(f"udp blocked {j}: {r}")
                r = e.udp(query("www.e2e.test"))
                if addresses(r) != ["192.0.2.1"]:
                    errors.append(f"udp forwarded {j}: {r}")
            r = e.tcp(query("store.kaspersky.com"))
            if r.rcode() != dns.rcode.REFUSED:
                errors.append(f"tcp refuse: {r}")
        except Exception as ex:  # noqa: BLE001 - reported below
            errors.append(repr(ex))

    ts = [threading.Thread(target=client, args=(i,)) for i in range(8)]
    for t in ts:
        t.start()
    for t in ts:
        t.join(30)
    assert not errors, errors[:5]


def test_two_workers_port_in_use(embargo_factory, nsd):
    e = embargo_factory(at=AFTER, start=False, extra_config="workers: 2\n")
    # even a socket that itself allows SO_REUSEPORT must not be shared
    busy = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    busy.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    busy.bind(("127.0.0.1", e.port))
    try:
        e.spawn()
        e.expect_exit = True
        rc = wait_exit(e)
        assert rc is not None and rc > 0, f"workers: 2 started on a taken port\n{e.diagnostics()}"
        lines = stderr_lines(e)
        assert len(lines) == 1 and f"127.0.0.1:{e.port}" in lines[0], lines
    finally:
        busy.close()
