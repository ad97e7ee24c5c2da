"""Reload without restart: SIGHUP and file changes (inotify) load the new
policy; a bad file keeps the running one and says where it is wrong; and
no query is lost or answered wrongly while reloads happen under load."""
import re
import shutil
import signal
import subprocess
import time

import dns.rcode
import pytest

from e2e_util import AFTER, addresses, query

POLICY = """\
vendor: acme
basis: reload test
rules:
  - id: r1
    effective: 2020-01-01T00:00:00Z
    action: refuse
    domains: [{names}]
"""


def write_policy(path, *names):
    path.write_text(POLICY.format(names=", ".join(names)))


@pytest.fixture
def reloadable(embargo_factory, tmp_path):
    """embargo with a policy folder of its own (acme.yaml) and nsd upstream."""
    pol = tmp_path / "policies"
    pol.mkdir()
    write_policy(pol / "acme.yaml", "one.e2e.test")
    e = embargo_factory(at=AFTER, policies=[str(pol)], ready_name="www.e2e.test.")
    return e, pol


def rcode(e, name):
    return e.udp(query(name, "A")).rcode()


def wait_for(pred, timeout=5.0):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if pred():
            return True
        time.sleep(0.05)
    return False


def test_sighup_loads_the_new_policy(reloadable):
    e, pol = reloadable
    assert rcode(e, "one.e2e.test.") == dns.rcode.REFUSED
    assert rcode(e, "www.e2e.test.") == dns.rcode.NOERROR
    # atomic replace, as a config manager would do it; inotify may see it too
    tmp = pol / ".acme.yaml.new"
    write_policy(tmp, "www.e2e.test")
    tmp.rename(pol / "acme.yaml")
    e.proc.send_signal(signal.SIGHUP)
    assert wait_for(lambda: rcode(e, "www.e2e.test.") == dns.rcode.REFUSED), \
        f"the new policy is not in force\n{e.diagnostics()}"
    assert rcode(e, "one.e2e.test.") == dns.rcode.NXDOMAIN  # forwarded again: nsd has no such name
    assert e.alive()
    assert "policy 2 in force" in e.stderr_path.read_text() or \
        "policy 3 in force" in e.stderr_path.read_text()


def test_file_change_reloads_without_a_signal(reloadable):
    e, pol = reloadable
    assert rcode(e, "two.e2e.test.") == dns.rcode.NXDOMAIN  # forwarded: nsd has no such name
    write_policy(pol / "acme.yaml", "one.e2e.test", "two.e2e.test")
    assert wait_for(lambda: rcode(e, "two.e2e.test.") == dns.rcode.REFUSED, timeout=5), \
        f"an edited policy file was not reloaded\n{e.diagnostics()}"
    # a new file in the policy folder counts too
    (pol / "other.yaml").write_text(POLICY.replace("acme", "other").format(names="www.e2e.test"))
    assert wait_for(lambda: rcode(e, "www.e2e.test.") == dns.rcode.REFUSED, timeout=5)


def test_bad_file_keeps_the_running_policy(reloadable):
    e, pol = reloadable
    (pol / "acme.yaml").write_text(POLICY.format(names="www.e2e.test").replace("refuse", "explode"))
    e.proc.send_signal(signal.SIGHUP)
    assert wait_for(lambda: "still running the policy loaded before" in e.stderr_path.read_text())
    err = e.stderr_path.read_text()
    assert re.search(re.escape(str(pol / "acme.yaml")) + r":6:13: .*explode", err), err
    # the old policy still answers
    assert rcode(e, "one.e2e.test.") == dns.rcode.REFUSED
    assert rcode(e, "www.e2e.test.") == dns.rcode.NOERROR
    # and a good file after a bad one is taken
    write_policy(pol / "acme.yaml", "www.e2e.test")
    e.proc.send_signal(signal.SIGHUP)
    assert wait_for(lambda: rcode(e, "www.e2e.test.") == dns.rcode.REFUSED)


def test_restart_only_change_warns(reloadable):
    e, _ = reloadable
    text = e.config.read_text().replace("timeout: 500ms", "timeout: 500ms\nworkers: 2")
    e.config.write_text(text)
    e.proc.send_signal(signal.SIGHUP)
    assert wait_for(lambda: "workers changed: it takes effect at the next restart"
                    in e.stderr_path.read_text())
    assert rcode(e, "one.e2e.test.") == dns.rcode.REFUSED


@pytest.mark.skipif(shutil.which("dnsperf") is None, reason="dnsperf not installed")
def test_reload_under_load_loses_nothing(embargo_factory, tmp_path):
    pol = tmp_path / "policies"
    pol.mkdir()
    write_policy(pol / "acme.yaml", "blocked.e2e.test")
    e = embargo_factory(at=AFTER, policies=[str(pol)], ready_name="www.e2e.test.",
                        extra_config="workers: 2\n")
    qfile = tmp_path / "queries"
    # one name of each outcome, so the answer counts must stay in thirds
    qfile.write_text("blocked.e2e.test A\nwww.e2e.test A\nnosuch.e2e.test A\n")
    perf = subprocess.Popen(["dnsperf", "-s", "127.0.0.1", "-p", str(e.port), "-d", str(qfile),
                             "-l", "4", "-Q", "3000", "-c", "4", "-t", "2"],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    time.sleep(0.5)
    for _ in range(10):
        e.proc.send_signal(signal.SIGHUP)
        time.sleep(0.25)
    out, _ = perf.communicate(timeout=30)
    assert perf.returncode == 0, out
    sent = int(re.search(r"Queries sent:\s+(\d+)", out).group(1))
    lost = int(re.search(r"Queries lost:\s+(\d+)", out).group(1))
    assert sent > 3000 and lost == 0, out
    codes = dict((k, int(v)) for k, v in re.findall(r"(NOERROR|NXDOMAIN|REFUSED|SERVFAIL) (\d+)", out))
    assert set(codes) == {"NOERROR", "NXDOMAIN", "REFUSED"}, out
    third = sent / 3
    for k in ("NOERROR", "NXDOMAIN", "REFUSED"):
        assert abs(codes[k] - third) <= 2, f"{k}: {codes[k]} of {sent}\n{out}"
    assert e.stderr_path.read_text().count("in force") >= 2
