"""`ratelimit:`: a UDP flood from 127.0.0.2 over its rate is truncated (TC,
no records) or dropped, and counted in /metrics, while 127.0.0.1 keeps
getting every answer; exempt networks and TCP are not limited; bad values
are config errors with their position."""

import socket
import subprocess
import time
import urllib.request

import dns.flags
import dns.message
import dns.rcode
import pytest

from e2e_util import AFTER, embargo_bin, free_port, query, tcp_frame, tcp_read_frame

QPS, BURST = 20, 10
NAME = "dnl-07.geo.kaspersky.com."     # blocked: answered without an upstream


def start(factory, action="truncate", extra=""):
    http = free_port()
    cfg = (f"http: 127.0.0.1:{http}\n"
           f"ratelimit:\n  qps: {QPS}\n  burst: {BURST}\n  action: {action}\n" + extra)
    e = factory(at=AFTER, extra_config=cfg)
    e.http_port = http
    return e


def metric(e, name):
    text = urllib.request.urlopen(f"http://127.0.0.1:{e.http_port}/metrics", timeout=5).read()
    for line in text.decode().splitlines():
        if line.startswith(name + " ") or line.startswith(name + "{"):
            return int(float(line.split()[-1]))
    raise AssertionError(f"{name} not in /metrics")


def flood(e, source, n, seconds):
    """Sends n queries from `source` (an address, or a list taken in turn)
    spread over `seconds`, then collects the replies for a second:
    (whole answers, TC answers, seconds the sending took)."""
    sources = [source] if isinstance(source, str) else source
    socks = []
    for src in sources:
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.bind((src, 0))
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
        s.setblocking(False)
        socks.append(s)
    replies = []
    t0 = time.monotonic()
    for i in range(n):
        socks[i % len(socks)].sendto(query(NAME, "A", id=i).to_wire(), (e.host, e.port))
        while time.monotonic() - t0 < (i + 1) * seconds / n:
            time.sleep(0.001)
    took = time.monotonic() - t0
    end = time.monotonic() + 1.0
    while time.monotonic() < end:
        got = False
        for s in socks:
            try:
                replies.append(s.recv(4096))
                got = True
            except BlockingIOError:
                pass
        if not got:
            time.sleep(0.01)
    for s in socks:
        s.close()
    full = tc = 0
    for data in replies:
        r = dns.message.from_wire(data)
        if r.flags & dns.flags.TC:
            assert not r.answer and r.rcode() == dns.rcode.NOERROR, f"TC with records\n{r}"
            tc += 1
        else:
            assert r.answer, f"\n{r}"
            full += 1
    return full, tc, took


def well_behaved(e, n=20):
    """127.0.0.1 asks n times within its rate: every answer must be whole."""
    ok = 0
    for i in range(n):
        r = e.udp(query("s01.upd.kaspersky.com.", "A", id=i), timeout=2)
        ok += bool(r.answer) and not r.flags & dns.flags.TC
        time.sleep(1.5 / QPS)
    return ok


def test_flood_is_truncated_and_others_are_served(embargo_factory):
    e = start(embargo_factory)
    assert well_behaved(e) == 20
    before = metric(e, "embargo_ratelimited_total")
    full, tc, took = flood(e, "127.0.0.2", 600, 2.0)
    allowed = BURST + QPS * took
    assert full <= allowed + 5, f"{full} whole answers in {took:.1f}s, at most {allowed:.0f} allowed"
    assert full >= BURST, f"only {full} whole answers: the burst was not given"
    assert tc >= 600 - allowed - 5, f"{tc} TC answers of 600"
    assert well_behaved(e) == 20, "127.0.0.1 lost answers to 127.0.0.2's flood"
    assert metric(e, "embargo_ratelimited_total") - before == tc
    # the bucket refills: after a second, the burst again
    time.sleep(1.0)
    full, tc, _ = flood(e, "127.0.0.2", BURST, 0.05)
    assert full == BURST and tc == 0


def test_flood_is_dropped(embargo_factory):
    e = start(embargo_factory, action="drop")
    full, tc, took = flood(e, "127.0.0.2", 400, 1.0)
    allowed = BURST + QPS * took
    assert tc == 0 and BURST <= full <= allowed + 5, f"{full} answers, {tc} TC in {took:.1f}s"
    assert metric(e, "embargo_ratelimited_total") == 400 - full
    assert well_behaved(e) == 20


def test_exempt_network_is_not_limited(embargo_factory):
    e = start(embargo_factory, extra="  exempt: [127.0.0.2/32]\n")
    full, tc, _ = flood(e, "127.0.0.2", 200, 0.5)
    assert full == 200 and tc == 0
    assert metric(e, "embargo_ratelimited_total") == 0


def test_prefix_groups_clients(embargo_factory):
    """ipv4-prefix 24: 127.0.0.2 and 127.0.0.3 share one bucket; /32 (the
    default) gives each its own."""
    for prefix, shared in ((24, True), (32, False)):
        e = start(embargo_factory, extra=f"  ipv4-prefix: {prefix}\n")
        full, tc, took = flood(e, ["127.0.0.2", "127.0.0.3"], 200, 0.2)
        one = BURST + QPS * took
        if shared:
            assert full <= one + 3, f"/{prefix}: {full} whole answers, one bucket gives {one:.0f}"
        else:
            assert full >= 2 * BURST, f"/{prefix}: {full} whole answers for two buckets"


def test_tcp_is_not_limited(embargo_factory):
    e = start(embargo_factory)
    flood(e, "127.0.0.2", 200, 0.2)
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind(("127.0.0.2", 0))
    s.settimeout(5)
    s.connect((e.host, e.port))
    with s:
        n = 100
        s.sendall(b"".join(tcp_frame(query(NAME, "A", id=i).to_wire()) for i in range(n)))
        for _ in range(n):
            r = dns.message.from_wire(tcp_read_frame(s))
            assert r.answer and not r.flags & dns.flags.TC


@pytest.mark.parametrize("body,message", [
    ("  qps: 0\n", "qps must be at least 1"),
    ("  qps: lots\n", "qps"),
    ("  action: block\n", "action"),
    ("  ipv4-prefix: 33\n", "ipv4-prefix"),
    ("  exempt: [10.0.0.1/8]\n", "exempt"),
    ("  rate: 5\n", "rate"),
])
def test_bad_values_are_errors(tmp_path, body, message):
    cfg = tmp_path / "embargo.yaml"
    cfg.write_text("listen: [127.0.0.1:5399]\nupstreams: [127.0.0.1]\npolicies: []\n"
                   "ratelimit:\n" + body)
    p = subprocess.run([str(embargo_bin()), "check", "-c", str(cfg)], capture_output=True,
                       text=True, timeout=30)
    assert p.returncode == 1, p.stdout + p.stderr
    assert f"{cfg}:5:" in p.stderr and message in p.stderr, p.stderr
