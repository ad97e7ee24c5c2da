"""The query log: JSON and text lines with the right fields for blocked,
audited, forwarded and cached queries; the log.queries levels; a file that
is reopened on SIGUSR1 (rotation) and on reload; every line queued before
SIGTERM is written before exit; a burst with every query logged keeps
answering."""

import datetime
import json
import os
import re
import shutil
import signal
import socket
import stat
import struct
import subprocess
import time
from pathlib import Path

import dns.rcode
import pytest

from e2e_util import AFTER, BEFORE, READY_BLOCKED, _yaml_str, query, wire_name

READY = READY_BLOCKED.rstrip(".")


def log_section(queries="all", fmt="json", file=None):
    lines = ["log:", f"  queries: {queries}", f"  format: {fmt}"]
    if file is not None:
        lines.append(f"  file: {_yaml_str(file)}")
    return "\n".join(lines) + "\n"


def logging_embargo(factory, queries="all", fmt="json", file=None, **kw):
    """An embargo whose config has this log section instead of the harness'
    `log: {queries: off}`."""
    e = factory(start=False, **kw)
    text = Path(e.config).read_text()
    assert "log:\n  queries: off\n" in text
    Path(e.config).write_text(text.replace("log:\n  queries: off\n",
                                           log_section(queries, fmt, file)))
    e.start()
    return e


def read_lines(path):
    """Complete lines only: the writer may be in the middle of one."""
    try:
        return Path(path).read_text().split("\n")[:-1]
    except FileNotFoundError:
        return []


def json_lines(path):
    """Parsed lines, without the readiness probes."""
    return [j for j in map(json.loads, read_lines(path)) if j["qname"] != READY]


def wait_for(pred, timeout=3.0):
    deadline = time.monotonic() + timeout
    while True:
        v = pred()
        if v or time.monotonic() > deadline:
            return v
        time.sleep(0.02)


def wait_json(path, qname, n=1):
    """The logged lines of qname once there are n of them (the writer
    flushes at least every 100 ms)."""
    def lines():
        v = [j for j in json_lines(path) if j["qname"] == qname]
        return v if len(v) >= n else None

    got = wait_for(lines)
    assert got and len(got) >= n, f"no {n} line(s) for {qname} in:\n" + "\n".join(read_lines(path))
    return got


TIME_RE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
KEYS = ["time", "client", "transport", "qname", "qtype", "rcode", "action", "vendor", "rule",
        "upstream", "latency_us", "cached"]


def check_common(j):
    assert list(j)[:len(KEYS)] == KEYS, j
    assert TIME_RE.match(j["time"]), j
    t = datetime.datetime.strptime(j["time"], "%Y-%m-%dT%H:%M:%S.%fZ").replace(
        tzinfo=datetime.timezone.utc)
    # the wall clock, not the --at policy clock
    assert abs(t.timestamp() - time.time()) < 60, j
    assert j["client"] == "127.0.0.1", j
    assert isinstance(j["latency_us"], int) and 0 <= j["latency_us"] < 5_000_000, j
    assert isinstance(j["cached"], bool), j


def test_json_fields(embargo_factory, nsd):
    e = logging_embargo(embargo_factory, at=AFTER)
    out = e.stdout_path
    # blocked, in the client's case
    r = e.udp(query("S01.Upd.Kaspersky.com.", "A"))
    assert r.rcode() == dns.rcode.NOERROR
    (j,) = wait_json(out, "S01.Upd.Kaspersky.com")
    check_common(j)
    assert j["transport"] == "udp" and j["qtype"] == "A" and j["rcode"] == "NOERROR"
    assert (j["action"], j["vendor"], j["rule"]) == ("sinkhole", "kaspersky", "updates"), j
    assert j["upstream"] is None and j["cached"] is False
    assert "stale" not in j and "cloaked" not in j

    # refused over TCP, a type with no mnemonic in older tools
    e.tcp(query("store.kaspersky.com.", "HTTPS"))
    (j,) = wait_json(out, "store.kaspersky.com")
    check_common(j)
    assert (j["transport"], j["qtype"], j["rcode"], j["action"], j["rule"]) == \
        ("tcp", "HTTPS", "REFUSED", "refuse", "sales"), j

    # forwarded, then the same from the cache
    e.udp(query("www.e2e.test.", "AAAA"))
    (j,) = wait_json(out, "www.e2e.test")
    check_common(j)
    assert (j["action"], j["vendor"], j["rule"], j["cached"]) == ("pass", None, None, False), j
    assert j["upstream"] == nsd.addr, j
    assert j["qtype"] == "AAAA" and j["rcode"] == "NOERROR"
    e.udp(query("www.e2e.test.", "AAAA"))
    first, second = wait_json(out, "www.e2e.test", 2)
    assert second["cached"] is True and second["upstream"] is None, second

    # a name that does not exist: NXDOMAIN from upstream
    e.udp(query("nosuch.e2e.test.", "TXT"))
    (j,) = wait_json(out, "nosuch.e2e.test")
    assert (j["rcode"], j["qtype"], j["action"]) == ("NXDOMAIN", "TXT", "pass"), j

    # a cloaked block: the CNAME target is blocked
    e.udp(query("cloak.e2e.test.", "A"))
    (j,) = wait_json(out, "cloak.e2e.test")
    assert (j["action"], j["rule"], j.get("cloaked")) == ("sinkhole", "updates", True), j


def test_audited_level(embargo_factory, nsd):
    """Before the updates cutoff: updates audited (forwarded, logged as
    "audit"), sales blocked; a plain pass is not logged at `audited`."""
    e = logging_embargo(embargo_factory, queries="audited", at=BEFORE)
    out = e.stdout_path
    e.udp(query("www.e2e.test.", "A"))
    r = e.udp(query("s01.upd.kaspersky.com.", "A"))
    assert r.rcode() == dns.rcode.NOERROR and r.answer  # forwarded: nsd's address
    e.udp(query("store.kaspersky.com.", "A"))
    wait_json(out, "store.kaspersky.com")
    lines = json_lines(out)
    assert [j["qname"] for j in lines] == ["s01.upd.kaspersky.com", "store.kaspersky.com"], lines
    audit, block = lines
    check_common(audit)
    assert (audit["action"], audit["vendor"], audit["rule"]) == ("audit", "kaspersky", "updates")
    assert audit["upstream"] == nsd.addr and audit["rcode"] == "NOERROR", audit
    assert (block["action"], block["rule"], block["rcode"]) == ("refuse", "sales", "REFUSED")


def test_blocked_level(embargo_factory):
    """`blocked` logs blocks only: not a pass, not an audit."""
    e = logging_embargo(embargo_factory, queries="blocked", at=BEFORE)
    out = e.stdout_path
    e.udp(query("www.e2e.test.", "A"))
    e.udp(query("s01.upd.kaspersky.com.", "A"))
    e.udp(query("usa.kaspersky.com.", "A"))
    wait_json(out, "usa.kaspersky.com")
    lines = json_lines(out)
    assert [(j["qname"], j["action"]) for j in lines] == [("usa.kaspersky.com", "refuse")], lines


TEXT_RE = re.compile(
    r"^(?P<time>\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z) (?P<client>\S+) (?P<transport>udp|tcp) "
    r"(?P<qname>\S+) (?P<qtype>\S+) (?P<rcode>[A-Z]+\d*) (?P<action>[a-z]+) (?P<rule>\S+) "
    r"(?P<upstream>\S+) (?P<latency>\d+)us(?P<flags>( cached| stale| cloaked)*)$")


def test_text_format(embargo_factory, nsd):
    e = logging_embargo(embargo_factory, fmt="text", at=AFTER)
    e.udp(query("dnl-07.geo.kaspersky.com.", "AAAA"))
    e.udp(query("www.e2e.test.", "A"))
    e.udp(query("www.e2e.test.", "A"))
    e.tcp(query("opentip.kaspersky.com.", "MX"))
    want = 4
    def lines():
        v = [x for x in read_lines(e.stdout_path) if READY not in x]
        return v if len(v) >= want else None

    got = wait_for(lines)
    assert got and len(got) == want, read_lines(e.stdout_path)
    m = [TEXT_RE.match(x) for x in got]
    assert all(m), got
    view = [(x["transport"], x["qname"], x["qtype"], x["rcode"], x["action"], x["rule"],
             x["upstream"], x["flags"]) for x in m]
    assert view == [
        ("udp", "dnl-07.geo.kaspersky.com", "AAAA", "NOERROR", "sinkhole", "kaspersky/updates",
         "-", ""),
        ("udp", "www.e2e.test", "A", "NOERROR", "pass", "-", nsd.addr, ""),
        ("udp", "www.e2e.test", "A", "NOERROR", "pass", "-", "-", " cached"),
        ("tcp", "opentip.kaspersky.com", "MX", "NOERROR", "pass", "-", nsd.addr, ""),
    ], got


def test_file_rotation_on_sigusr1(embargo_factory, tmp_path):
    path = tmp_path / "queries.log"
    e = logging_embargo(embargo_factory, file=str(path), at=AFTER)
    e.udp(query("s01.upd.kaspersky.com.", "A"))
    wait_json(path, "s01.upd.kaspersky.com")
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o640 & ~current_umask()
    assert not [x for x in read_lines(e.stdout_path)], "a file log must not go to stdout"

    rotated = tmp_path / "queries.log.1"
    path.rename(rotated)
    e.proc.send_signal(signal.SIGUSR1)
    assert wait_for(path.exists), "SIGUSR1 did not reopen the log file"
    e.udp(query("s02.upd.kaspersky.com.", "A"))
    wait_json(path, "s02.upd.kaspersky.com")
    assert [j["qname"] for j in json_lines(rotated)] == ["s01.upd.kaspersky.com"]
    assert [j["qname"] for j in json_lines(path)] == ["s02.upd.kaspersky.com"]


def test_reload_changes_file_and_format(embargo_factory, tmp_path):
    path1, path2 = tmp_path / "one.log", tmp_path / "two.log"
    e = logging_embargo(embargo_factory, file=str(path1), at=AFTER)
    e.udp(query("s01.upd.kaspersky.com.", "A"))
    wait_json(path1, "s01.upd.kaspersky.com")
    text = Path(e.config).read_text()
    text = text.replace(f"  file: {_yaml_str(path1)}", f"  file: {_yaml_str(path2)}")
    text = text.replace("  format: json", "  format: text").replace("queries: all",
                                                                     "queries: blocked")
    Path(e.config).write_text(text)
    e.proc.send_signal(signal.SIGHUP)
    assert wait_for(lambda: "in force" in e.stderr_path.read_text())
    assert wait_for(path2.exists), e.diagnostics()
    e.udp(query("www.e2e.test.", "A"))           # a pass: not logged at `blocked`
    e.udp(query("s03.upd.kaspersky.com.", "A"))
    got = wait_for(lambda: [x for x in read_lines(path2) if "s03.upd" in x])
    assert got and TEXT_RE.match(got[0]), read_lines(path2)
    assert not [x for x in read_lines(path2) if "www.e2e.test" in x]
    assert [j["qname"] for j in json_lines(path1)] == ["s01.upd.kaspersky.com"]


def current_umask():
    m = os.umask(0)
    os.umask(m)
    return m


def test_every_line_written_before_exit(embargo_factory, tmp_path):
    """Lines still in the buffers at SIGTERM are written before exit."""
    path = tmp_path / "queries.log"
    e = logging_embargo(embargo_factory, file=str(path), at=AFTER)
    n = 400
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(3)
    s.connect((e.host, e.port))
    for i in range(n):
        s.send(struct.pack("!HHHHHH", i, 0x0100, 1, 0, 0, 0) +
               wire_name(f"x{i}.upd.kaspersky.com.") + struct.pack("!HH", 1, 1))
        s.recv(512)
    s.close()
    e.stop_and_check()   # at once: well within the 100 ms flush period
    lines = [j for j in json_lines(path) if j["qname"].endswith(".upd.kaspersky.com")]
    assert len(lines) == n, f"{len(lines)} of {n} lines written"
    assert [j["qname"] for j in lines] == [f"x{i}.upd.kaspersky.com" for i in range(n)]
    # the daemon's own count agrees, probes included
    assert f"query log: {len(read_lines(path))} lines written, 0 dropped" in \
        e.stderr_path.read_text()


@pytest.mark.skipif(shutil.which("dnsperf") is None, reason="dnsperf not installed")
def test_burst_keeps_answering(embargo_factory, tmp_path):
    """Every query logged under load: nothing is lost on the DNS side, and
    every query is either written or counted as dropped."""
    path = tmp_path / "queries.log"
    e = logging_embargo(embargo_factory, file=str(path), at=AFTER,
                        extra_config="workers: 2\n")
    qfile = tmp_path / "queries"
    qfile.write_text("s01.upd.kaspersky.com A\nwww.e2e.test A\nstore.kaspersky.com A\n")
    perf = subprocess.run(["dnsperf", "-s", "127.0.0.1", "-p", str(e.port), "-d", str(qfile),
                           "-l", "2", "-c", "4", "-t", "2"],
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=30)
    assert perf.returncode == 0, perf.stdout
    sent = int(re.search(r"Queries sent:\s+(\d+)", perf.stdout).group(1))
    lost = int(re.search(r"Queries lost:\s+(\d+)", perf.stdout).group(1))
    assert sent > 2000 and lost == 0, perf.stdout
    assert e.alive()
    assert e.udp(query("www.e2e.test.", "A")).rcode() == dns.rcode.NOERROR
    e.stop_and_check()
    lines = read_lines(path)
    for x in lines[:50] + lines[-50:]:
        json.loads(x)
    m = re.search(r"query log: (\d+) lines written, (\d+) dropped", e.stderr_path.read_text())
    assert m, e.diagnostics()
    written, dropped = int(m.group(1)), int(m.group(2))
    assert written == len(lines), (written, len(lines))
    # every answer sent was logged or counted: dnsperf's, the probes, ours
    assert written + dropped >= sent, (written, dropped, sent)
    assert written > 0
