"""Policy from list files: a name in a hosts-file is blocked by the running
daemon; editing the list file blocks a newly added name after SIGHUP, and on
its own through the file watcher; a broken list keeps the running policy."""
import re
import signal
import time

import dns.message
import dns.rcode
import pytest

from e2e_util import AFTER, query

POLICY = """\
vendor: acme
basis: list test
rules:
  - id: ads
    effective: 2020-01-01T00:00:00Z
    action: refuse
    hosts-file: lists/blocked.hosts
"""


def write_hosts(path, *names):
    # written aside and renamed, as list updaters do
    tmp = path.parent / ("." + path.name + ".new")
    tmp.write_text("# generated\n127.0.0.1 localhost\n" +
                   "".join(f"0.0.0.0 {n}\n" for n in names))
    tmp.rename(path)


@pytest.fixture
def listed(embargo_factory, tmp_path):
    pol = tmp_path / "policies"
    (pol / "lists").mkdir(parents=True)
    write_hosts(pol / "lists" / "blocked.hosts", "one.e2e.test")
    (pol / "acme.yaml").write_text(POLICY)
    e = embargo_factory(at=AFTER, policies=[str(pol)], ready_name="www.e2e.test.")
    return e, pol / "lists" / "blocked.hosts"


def rcode(e, name):
    return e.udp(query(name, "A")).rcode()


def wait_for(pred, timeout=8.0):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if pred():
            return True
        time.sleep(0.05)
    return False


def policy_digest(e):
    r = e.udp(dns.message.make_query("policy.embargo.", "TXT", rdclass="CH"))
    return r.answer[0][0].strings[0].decode().split()[0]


def test_hosts_file_name_blocked_and_sighup_adds_one(listed):
    e, hosts = listed
    assert rcode(e, "one.e2e.test.") == dns.rcode.REFUSED
    assert rcode(e, "www.e2e.test.") == dns.rcode.NOERROR   # not listed: forwarded
    before = policy_digest(e)
    write_hosts(hosts, "one.e2e.test", "www.e2e.test")
    e.proc.send_signal(signal.SIGHUP)
    assert wait_for(lambda: rcode(e, "www.e2e.test.") == dns.rcode.REFUSED), \
        f"the new list is not in force\n{e.diagnostics()}"
    assert rcode(e, "one.e2e.test.") == dns.rcode.REFUSED
    # the policy digest covers the list file's bytes: only it changed
    assert policy_digest(e) != before
    assert e.alive()


def test_list_file_change_reloads_without_a_signal(listed):
    e, hosts = listed
    assert rcode(e, "www.e2e.test.") == dns.rcode.NOERROR
    # rewritten in place this time: the watcher sees the close after writing
    hosts.write_text("0.0.0.0 www.e2e.test\n")
    assert wait_for(lambda: rcode(e, "www.e2e.test.") == dns.rcode.REFUSED), \
        f"an edited list file was not reloaded\n{e.diagnostics()}"
    # one.e2e.test left the list: forwarded (nsd has no such name)
    assert rcode(e, "one.e2e.test.") == dns.rcode.NXDOMAIN


def test_bad_list_keeps_the_running_policy(listed):
    e, hosts = listed
    hosts.write_text("0.0.0.0 www.e2e.test\nnot a hosts line\n")
    e.proc.send_signal(signal.SIGHUP)
    assert wait_for(lambda: "still running the policy loaded before"
                    in e.stderr_path.read_text()), e.diagnostics()
    err = e.stderr_path.read_text()
    assert re.search(re.escape(str(hosts)) + r":2:1: expected an address", err), err
    assert rcode(e, "one.e2e.test.") == dns.rcode.REFUSED
    assert rcode(e, "www.e2e.test.") == dns.rcode.NOERROR
