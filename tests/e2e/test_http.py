"""The HTTP endpoint (`http:`): /metrics in the Prometheus text format
0.0.4, /healthz, /readyz, /exposure, and `embargo report` against a running
daemon.

promtool is not in Debian 12, so the exposition format is checked by the
small parser below: every line a comment or a sample, every family with
HELP and TYPE before its samples, counters ending in _total, histograms
cumulative and closed by le="+Inf" equal to _count.
"""
import csv
import io
import json
import math
import re
import signal
import subprocess
import time
import urllib.error
import urllib.request

import dns.rcode
import pytest

from e2e_util import AFTER, CUTOFF, embargo_bin, free_port, kaspersky_policy, query

# --------------------------------------------------------------------------
# helpers


def http_extra(port, more=""):
    return f"http: 127.0.0.1:{port}\n{more}"


def start(factory, more="", **kw):
    """embargo with the HTTP endpoint on a free port; e.http is its base URL."""
    port = free_port()
    e = factory(extra_config=http_extra(port, more), **kw)
    e.http = f"http://127.0.0.1:{port}"
    return e


def get(url, method="GET", timeout=3.0):
    """(status, headers, body text); HTTP errors are answers too."""
    req = urllib.request.Request(url, method=method)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, r.headers, r.read().decode()
    except urllib.error.HTTPError as err:
        return err.code, err.headers, err.read().decode()


def wait_for(pred, timeout=5.0, step=0.05):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        v = pred()
        if v:
            return v
        time.sleep(step)
    return pred()


# --------------------------------------------------------------------------
# a Prometheus text format (0.0.4) parser

NAME = r"[a-zA-Z_:][a-zA-Z0-9_:]*"
LABEL_RE = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\\n]|\\[\\"n])*)"(,|$)')
SAMPLE_RE = re.compile(rf"^({NAME})(?:\{{(.*)\}})? (\S+)(?: -?\d+)?$")
HELP_RE = re.compile(rf"^# HELP ({NAME}) (.*)$")
TYPE_RE = re.compile(rf"^# TYPE ({NAME}) (counter|gauge|histogram|summary|untyped)$")


def parse_labels(text, line):
    labels, pos = {}, 0
    while pos < len(text):
        m = LABEL_RE.match(text, pos)
        assert m, f"bad labels in {line!r}"
        name, value = m.group(1), m.group(2)
        assert name not in labels, f"label {name} twice in {line!r}"
        labels[name] = value.replace("\\n", "\n").replace('\\"', '"').replace("\\\\", "\\")
        pos = m.end()
    return labels


def parse_value(text, line):
    if text in ("+Inf", "-Inf", "NaN"):
        return float(text.replace("Inf", "inf").replace("NaN", "nan"))
    try:
        return float(text)
    except ValueError:
        raise AssertionError(f"bad value in {line!r}") from None


def family_of(name, types):
    for suffix in ("_bucket", "_sum", "_count"):
        base = name[: -len(suffix)]
        if name.endswith(suffix) and types.get(base) == "histogram":
            return base
    return name


def parse_metrics(text):
    """{family: {"type", "help", "samples": [(name, labels, value)]}}, after
    checking the format line by line."""
    assert text.endswith("\n"), "the exposition must end with a newline"
    fams, types, done, current = {}, {}, set(), None
    for line in text.split("\n")[:-1]:
        assert line and line == line.strip(), f"blank or padded line {line!r}"
        if line.startswith("#"):
            m = HELP_RE.match(line) or TYPE_RE.match(line)
            assert m or not line.startswith(("# HELP", "# TYPE")), f"bad comment {line!r}"
            if not m:
                continue
            name = m.group(1)
            f = fams.setdefault(name, {"type": None, "help": None, "samples": []})
            assert not f["samples"], f"HELP/TYPE of {name} after its samples"
            if line.startswith("# HELP"):
                assert f["help"] is None, f"two HELP lines for {name}"
                f["help"] = m.group(2)
            else:
                assert f["type"] is None, f"two TYPE lines for {name}"
                f["type"] = types[name] = m.group(2)
            continue
        m = SAMPLE_RE.match(line)
        assert m, f"not a sample: {line!r}"
        name = m.group(1)
        labels = parse_labels(m.group(2) or "", line)
        fam = family_of(name, types)
        assert fam in fams and fams[fam]["type"], f"sample before TYPE: {line!r}"
        if fam != current:
            assert fam not in done, f"samples of {fam} are not together"
            if current:
                done.add(current)
            current = fam
        fams[fam]["samples"].append((name, labels, parse_value(m.group(3), line)))
    for name, f in fams.items():
        assert f["help"], f"{name} has no HELP"
        assert f["type"], f"{name} has no TYPE"
        if f["type"] == "counter":
            assert name.endswith("_total"), f"counter {name} does not end in _total"
        if f["type"] == "histogram":
            check_histogram(name, f["samples"])
    return fams


def check_histogram(name, samples):
    series = {}
    for sname, labels, value in samples:
        key = tuple(sorted((k, v) for k, v in labels.items() if k != "le"))
        s = series.setdefault(key, {"buckets": [], "sum": None, "count": None})
        if sname == name + "_bucket":
            s["buckets"].append((parse_value(labels["le"], sname), value))
        elif sname == name + "_sum":
            s["sum"] = value
        elif sname == name + "_count":
            s["count"] = value
    assert series, f"histogram {name} has no series"
    for key, s in series.items():
        b = s["buckets"]
        assert b, f"{name}{key}: no buckets"
        les = [le for le, _ in b]
        assert les == sorted(les) and len(set(les)) == len(les), f"{name}{key}: le not increasing"
        assert math.isinf(les[-1]), f'{name}{key}: last bucket is not le="+Inf"'
        counts = [c for _, c in b]
        assert counts == sorted(counts), f"{name}{key}: buckets not cumulative {counts}"
        assert s["count"] == counts[-1], f"{name}{key}: _count {s['count']} != +Inf {counts[-1]}"
        assert s["sum"] is not None and s["sum"] >= 0, f"{name}{key}: no _sum"


def value(fams, name, **labels):
    """The sample's value (0 when the series is absent)."""
    fam = family_of(name, {k: v["type"] for k, v in fams.items()})
    for sname, ls, v in fams.get(fam, {"samples": []})["samples"]:
        if sname == name and all(ls.get(k) == str(x) for k, x in labels.items()):
            return v
    return 0


def metrics(e):
    status, headers, body = get(e.http + "/metrics")
    assert status == 200, body
    assert headers["Content-Type"].startswith("text/plain; version=0.0.4")
    return parse_metrics(body)


def test_parser_rejects_bad_expositions():
    """The checker itself fails on what it must catch."""
    ok = "# HELP a_total x\n# TYPE a_total counter\na_total{l=\"v\"} 1\n"
    parse_metrics(ok)
    bad = [
        ok.replace("a_total{", "a_total {"),
        "# TYPE a_total counter\na_total 1\n",                      # no HELP
        "# HELP a x\n# TYPE a counter\na 1\n",                         # no _total
        ok + "# HELP b x\n# TYPE b gauge\nb 1\na_total 2\n",           # split family
        "# HELP h x\n# TYPE h histogram\nh_bucket{le=\"1\"} 2\nh_bucket{le=\"+Inf\"} 1\n"
        "h_sum 1\nh_count 1\n",                                        # not cumulative
        "# HELP h x\n# TYPE h histogram\nh_bucket{le=\"1\"} 1\nh_sum 1\nh_count 1\n",  # no +Inf
        ok.replace('"v"', '"a\nb"'),
    ]
    for text in bad:
        with pytest.raises(AssertionError):
            parse_metrics(text)


# --------------------------------------------------------------------------
# /metrics, /healthz, methods


@pytest.fixture(scope="module")
def web(module_embargo_factory):
    """One daemon with http, after every Kaspersky cutoff."""
    return start(module_embargo_factory, at=AFTER)


def test_metrics_parse_and_move(web):
    before = metrics(web)
    for name in ("embargo_queries_total", "embargo_policy_queries_total",
                 "embargo_cache_hits_total", "embargo_cache_misses_total",
                 "embargo_cache_evictions_total", "embargo_cache_entries",
                 "embargo_upstream_requests_total", "embargo_upstream_latency_seconds",
                 "embargo_inflight", "embargo_policy_version",
                 "embargo_config_last_reload_successful",
                 "embargo_config_last_reload_success_timestamp_seconds",
                 "embargo_clock_below_floor", "embargo_clock_floor_timestamp_seconds",
                 "embargo_exposure_clients", "embargo_exposure_evicted_total",
                 "embargo_build_info"):
        assert name in before, f"{name} missing"
    ver = subprocess.run([str(embargo_bin()), "--version"], capture_output=True, text=True)
    assert value(before, "embargo_build_info", version=ver.stdout.split()[-1]) == 1
    assert value(before, "embargo_policy_version") == 1
    assert value(before, "embargo_config_last_reload_successful") == 1
    assert value(before, "embargo_config_last_reload_success_timestamp_seconds") > 1.7e9
    assert value(before, "embargo_clock_below_floor") == 0

    up = web.udp(query("s01.upd.kaspersky.com.", "A"))
    assert up.rcode() == dns.rcode.NOERROR and up.answer      # sinkholed
    assert web.udp(query("www.e2e.test.", "A")).answer           # forwarded
    assert web.udp(query("www.e2e.test.", "A")).answer           # cached
    assert web.udp(query("nx.e2e.test.", "A")).rcode() == dns.rcode.NXDOMAIN
    web.tcp(query("www.e2e.test.", "MX"))

    after = metrics(web)
    sel = dict(vendor="kaspersky", rule="updates", action="sinkhole")
    assert value(after, "embargo_policy_queries_total", verdict="blocked", **sel) == 1
    assert value(after, "embargo_policy_queries_total", verdict="audited", **sel) == 0

    def q(fams, t, rc):
        return value(fams, "embargo_queries_total", transport=t, rcode=rc)
    assert q(after, "udp", "NOERROR") - q(before, "udp", "NOERROR") == 3
    assert q(after, "udp", "NXDOMAIN") - q(before, "udp", "NXDOMAIN") == 1
    assert q(after, "tcp", "NOERROR") - q(before, "tcp", "NOERROR") == 1
    assert value(after, "embargo_cache_hits_total") - value(before, "embargo_cache_hits_total") >= 1
    assert value(after, "embargo_cache_entries") >= 2
    nsd = web.config.read_text().split("upstreams:\n  - ")[1].split("\n")[0].strip('"')
    ok = value(after, "embargo_upstream_requests_total", upstream=nsd, result="ok")
    assert ok - value(before, "embargo_upstream_requests_total", upstream=nsd, result="ok") >= 3
    count = value(after, "embargo_upstream_latency_seconds_count", upstream=nsd)
    assert count >= ok
    assert value(after, "embargo_upstream_latency_seconds_bucket", upstream=nsd, le="+Inf") == count
    assert value(after, "embargo_inflight") == 0
    assert value(after, "embargo_exposure_clients") >= 1


def test_health_methods_and_paths(web):
    assert get(web.http + "/healthz")[::2] == (200, "ok\n")
    status, headers, body = get(web.http + "/metrics", method="POST")
    assert status == 405 and headers["Allow"] == "GET, HEAD"
    assert get(web.http + "/exposure", method="DELETE")[0] == 405
    assert get(web.http + "/nope")[0] == 404
    assert get(web.http + "/metrics/")[0] == 404
    status, headers, body = get(web.http + "/metrics", method="HEAD")
    assert status == 200 and body == ""
    # a query string does not change the path
    assert get(web.http + "/healthz?x=1")[0] == 200


# --------------------------------------------------------------------------
# /readyz


def test_readyz_needs_an_upstream(embargo_factory):
    dead = f"127.0.0.1:{free_port()}"
    e = start(embargo_factory, upstreams=[dead], timeout="200ms")
    live = start(embargo_factory)   # nsd; no client query reaches it
    assert wait_for(lambda: get(live.http + "/readyz")[0] == 200, timeout=4.0), \
        get(live.http + "/readyz")
    assert get(live.http + "/readyz")[2] == "ready\n"
    # the dead one has probed (and failed) by now, and stays unready
    assert wait_for(lambda: value(metrics(e), "embargo_upstream_requests_total", upstream=dead,
                                  result="error") + value(metrics(e),
                                  "embargo_upstream_requests_total", upstream=dead,
                                  result="timeout") >= 1, timeout=3.0)
    status, _, body = get(e.http + "/readyz")
    assert status == 503 and body == "no upstream has answered yet\n"
    assert get(e.http + "/healthz")[0] == 200


# --------------------------------------------------------------------------
# reload status

POLICY = """\
vendor: acme
basis: http test
rules:
  - id: r1
    effective: 2020-01-01T00:00:00Z
    action: refuse
    domains: [{name}]
"""


def test_reload_status(embargo_factory, tmp_path):
    pol = tmp_path / "policies"
    pol.mkdir()
    (pol / "acme.yaml").write_text(POLICY.format(name="one.e2e.test"))
    e = start(embargo_factory, at=AFTER, policies=[str(pol)], ready_name="www.e2e.test.")
    assert value(metrics(e), "embargo_config_last_reload_successful") == 1
    t0 = value(metrics(e), "embargo_config_last_reload_success_timestamp_seconds")

    (pol / "acme.yaml").write_text("vendor: acme\nrules: [\n")
    e.proc.send_signal(signal.SIGHUP)
    assert wait_for(lambda: value(metrics(e), "embargo_config_last_reload_successful") == 0), \
        e.diagnostics()
    assert value(metrics(e), "embargo_policy_version") == 1
    assert e.udp(query("one.e2e.test.", "A")).rcode() == dns.rcode.REFUSED  # old policy

    time.sleep(1.05)  # the success timestamp has a resolution of one second
    (pol / "acme.yaml").write_text(POLICY.format(name="two.e2e.test"))
    e.proc.send_signal(signal.SIGHUP)
    assert wait_for(lambda: value(metrics(e), "embargo_config_last_reload_successful") == 1), \
        e.diagnostics()
    m = metrics(e)
    assert value(m, "embargo_policy_version") >= 2
    assert value(m, "embargo_config_last_reload_success_timestamp_seconds") > t0


# --------------------------------------------------------------------------
# /exposure and `embargo report`


def report(*args):
    """`embargo report ARGS`; stdout and stderr decoded as they are (CRLF kept)."""
    r = subprocess.run([str(embargo_bin()), "report", *args], capture_output=True, timeout=15)
    r.stdout, r.stderr = r.stdout.decode(), r.stderr.decode()
    return r


def exposure(e):
    status, headers, body = get(e.http + "/exposure")
    assert status == 200 and headers["Content-Type"] == "application/json", body
    return json.loads(body)


def test_exposure_across_the_cutoff_and_report(embargo_factory):
    """A client that looks up a Kaspersky update host before the cutoff
    (audited) and after it (blocked) is one entry; the report prints it."""
    # three seconds before the updates cutoff
    e = start(embargo_factory, at="2024-09-29T03:59:57Z")
    q = query("s01.upd.kaspersky.com.", "A")
    r = e.udp(q, source="127.0.0.2")
    assert r.rcode() == dns.rcode.NOERROR and r.answer[0][0].address == "192.0.2.8"  # audited
    r = e.udp(query("store.kaspersky.com.", "A"))     # sales: in force since July
    assert r.rcode() == dns.rcode.REFUSED
    # worker 0 logs the switch when its policy timer fires at the cutoff
    assert wait_for(lambda: "kaspersky/updates takes effect" in e.stderr_path.read_text(),
                    timeout=6.0), e.diagnostics()
    r = e.udp(q, source="127.0.0.2")
    assert r.answer[0][0].address == "0.0.0.0", f"not blocked after the cutoff\n{r}"
    assert e.udp(query("s01.upd.kaspersky.com.", "AAAA")).answer  # 127.0.0.1 as well

    doc = exposure(e)
    assert doc["evicted"] == 0
    rows = [c for c in doc["clients"] if c["vendor"] == "kaspersky"]
    by_client = {c["client"]: c for c in rows}
    assert len(rows) == 2 and set(by_client) == {"127.0.0.1", "127.0.0.2"}, doc
    two = by_client["127.0.0.2"]
    assert (two["audited"], two["blocked"], two["exempt"], two["rules"]) == (1, 1, 0, ["updates"])
    assert two["first_seen"] < CUTOFF <= two["last_seen"], two
    one = by_client["127.0.0.1"]
    assert (one["audited"], one["blocked"], sorted(one["rules"])) == (0, 2, ["sales", "updates"])
    lasts = [c["last_seen"] for c in doc["clients"]]
    assert lasts == sorted(lasts, reverse=True), "not sorted by last_seen, newest first"
    for c in doc["clients"]:
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", c["first_seen"]), c

    # table: header and aligned columns
    t = report("--url", e.http + "/exposure")
    assert t.returncode == 0, t.stderr
    lines = t.stdout.splitlines()
    assert lines[0].split() == ["CLIENT", "VENDOR", "FIRST-SEEN", "LAST-SEEN", "AUDITED",
                                "BLOCKED", "EXEMPT", "RULES"]
    assert len(lines) == 1 + len(doc["clients"])
    starts = [lines[0].index(h) for h in ("VENDOR", "FIRST-SEEN", "LAST-SEEN")]
    for line in lines[1:]:
        for s in starts:
            assert line[s - 2:s] == "  " and line[s] != " ", f"misaligned: {line!r}"
    row = next(line.split() for line in lines if line.startswith("127.0.0.2 "))
    assert row[1] == "kaspersky" and row[4:] == ["1", "1", "0", "updates"]

    # json: what the daemon sent
    j = report("--url", e.http + "/exposure", "--format", "json")
    assert j.returncode == 0 and json.loads(j.stdout)["clients"] == doc["clients"]

    # csv, with the URL taken from the config's http address
    c = report("-c", str(e.config), "--format", "csv")
    assert c.returncode == 0, c.stderr
    assert "\r\n" in c.stdout
    recs = list(csv.reader(io.StringIO(c.stdout, newline="")))
    assert recs[0] == ["client", "vendor", "first_seen", "last_seen", "audited", "blocked",
                       "exempt", "rules"]
    got = {(r[0], r[1]): r for r in recs[1:]}
    assert got[("127.0.0.2", "kaspersky")][4:] == ["1", "1", "0", "updates"]
    assert sorted(got[("127.0.0.1", "kaspersky")][7].split(",")) == ["sales", "updates"]
    assert '"sales,updates"' in c.stdout or '"updates,sales"' in c.stdout  # quoted


def test_exposure_is_bounded(embargo_factory):
    e = start(embargo_factory, more="exposure-clients: 2\n", at=AFTER,
              policies=[str(kaspersky_policy())], ready_name="www.e2e.test.")
    for src in ("127.0.0.2", "127.0.0.3", "127.0.0.4"):
        assert e.udp(query("store.kaspersky.com.", "A"), source=src).rcode() == dns.rcode.REFUSED
    doc = exposure(e)
    assert doc["evicted"] == 1
    assert sorted(c["client"] for c in doc["clients"]) == ["127.0.0.3", "127.0.0.4"]
    m = metrics(e)
    assert value(m, "embargo_exposure_clients") == 2
    assert value(m, "embargo_exposure_evicted_total") == 1
    # a client seen again is the most recent one, so the next eviction spares it
    e.udp(query("store.kaspersky.com.", "A"), source="127.0.0.3")
    e.udp(query("store.kaspersky.com.", "A"), source="127.0.0.5")
    assert sorted(c["client"] for c in exposure(e)["clients"]) == ["127.0.0.3", "127.0.0.5"]


def test_exposure_off(embargo_factory):
    e = start(embargo_factory, more="exposure-clients: 0\n", at=AFTER)
    e.udp(query("store.kaspersky.com.", "A"))
    assert exposure(e) == {"clients": [], "evicted": 0}
    t = report("--url", e.http)       # no path: /exposure
    assert t.returncode == 0 and t.stdout.splitlines()[0].startswith("CLIENT")
    assert len(t.stdout.splitlines()) == 1


def test_report_errors(tmp_path):
    r = report("--url", f"http://127.0.0.1:{free_port()}/exposure")
    assert r.returncode == 1 and r.stdout == ""
    assert len(r.stderr.splitlines()) == 1 and "cannot connect" in r.stderr, r.stderr
    assert report("--format", "xml").returncode == 2
    assert report("--url").returncode == 2
    assert report("extra").returncode == 2
    r = report("--url", "ftp://127.0.0.1/exposure")
    assert r.returncode == 2 and len(r.stderr.splitlines()) == 1
    bad = tmp_path / "bad.yaml"
    bad.write_text("http: nowhere\n")
    r = report("-c", str(bad))
    assert r.returncode == 1 and "bad.yaml:1:7" in r.stderr, r.stderr


def test_http_bind_failure_is_a_startup_error(embargo_factory):
    import socket
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    s.listen(1)
    port = s.getsockname()[1]
    try:
        e = embargo_factory(extra_config=f"http: 127.0.0.1:{port}\n", start="spawn")
        e.expect_exit = True
        rc = e.proc.wait(10)
        err = e.stderr_path.read_text()
        assert rc == 1, e.diagnostics()
        assert f"cannot listen on http 127.0.0.1:{port}: Address already in use" in err, err
    finally:
        s.close()


def test_exposure_merges_workers(embargo_factory):
    """With four workers a client's lookups (each from a fresh source port)
    land on several of them; /exposure shows one entry with the sum."""
    e = start(embargo_factory, more="workers: 4\n", at=AFTER,
              policies=[str(kaspersky_policy())], ready_name="www.e2e.test.")
    for i in range(24):
        name = "store.kaspersky.com." if i % 2 else f"s{i:02d}.upd.kaspersky.com."
        e.udp(query(name, "A"), source="127.0.0.2")
    doc = exposure(e)
    assert len(doc["clients"]) == 1, doc
    c = doc["clients"][0]
    assert (c["client"], c["blocked"], c["audited"]) == ("127.0.0.2", 24, 0)
    assert sorted(c["rules"]) == ["sales", "updates"]
    held = value(metrics(e), "embargo_exposure_clients")
    assert 2 <= held <= 4, "all on one worker: the merge was not exercised"
