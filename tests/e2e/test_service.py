"""Running as a service: CHAOS version/policy answers (and hide-version),
dropping to `user:` after binding, the pid file, and refusing to serve a
public address as root unless told."""
import hashlib
import os
import pwd
import re
import socket

import dns.message
import dns.rdataclass
import dns.rdatatype
import dns.rcode
import pytest

from e2e_util import AFTER, kaspersky_policy
from test_lifecycle import stderr_lines, wait_exit


def chaos(e, name):
    q = dns.message.make_query(name, dns.rdatatype.TXT, dns.rdataclass.CH)
    return e.udp(q)


def txt(r):
    return b"".join(b"".join(rd.strings) for rd in r.answer[0]).decode()


def test_chaos_version_and_policy(embargo):
    r = chaos(embargo, "version.embargo.")
    assert r.rcode() == dns.rcode.NOERROR and re.fullmatch(r"embargo \d+\.\d+\.\d+", txt(r)), r
    r = chaos(embargo, "POLICY.Embargo.")
    text = txt(r)
    m = re.fullmatch(r"sha256:([0-9a-f]{64}) loaded (\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ)", text)
    assert m, text
    # the digest is over the policy files' bytes, in load order
    h = hashlib.sha256()
    h.update(kaspersky_policy().read_bytes())
    h.update((embargo.dir / "testvendor.yaml").read_bytes())
    assert m.group(1) == h.hexdigest()
    # other CHAOS names are refused, and never forwarded
    assert chaos(embargo, "version.bind.").rcode() == dns.rcode.REFUSED


def test_hide_version(embargo_factory):
    e = embargo_factory(at=AFTER, extra_config="hide-version: true\n")
    assert chaos(e, "version.embargo.").rcode() == dns.rcode.REFUSED
    assert chaos(e, "policy.embargo.").rcode() == dns.rcode.REFUSED


def test_pidfile(embargo_factory, tmp_path):
    pidfile = tmp_path / "embargo.pid"
    e = embargo_factory(at=AFTER, start=False)
    argv = e.argv
    e.argv = lambda: argv() + ["--pidfile", str(pidfile)]
    e.start()
    assert pidfile.read_text().strip() == str(e.proc.pid)
    e.stop_and_check()
    assert not pidfile.exists()


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root")
def test_drops_to_user_after_binding(embargo_factory):
    nobody = pwd.getpwnam("nobody")
    e = embargo_factory(at=AFTER, extra_config="user: nobody\n")
    status = open(f"/proc/{e.proc.pid}/status").read()
    uids = re.search(r"^Uid:\s+(\d+)\s+(\d+)\s+(\d+)\s+(\d+)", status, re.M).groups()
    gids = re.search(r"^Gid:\s+(\d+)\s+(\d+)\s+(\d+)\s+(\d+)", status, re.M).groups()
    assert set(uids) == {str(nobody.pw_uid)}, status
    assert set(gids) == {str(nobody.pw_gid)}, status
    assert re.search(r"^Groups:\s*$", status, re.M), "supplementary groups kept"
    assert re.search(r"^CapEff:\s+0+$", status, re.M), "capabilities kept"
    assert e.udp(dns.message.make_query("s01.upd.kaspersky.com.", "A")).answer
    assert "running as user nobody" in e.stderr_path.read_text()


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root")
def test_refuses_public_address_as_root(embargo_factory):
    e = embargo_factory(at=AFTER, start=False)
    port = e.port
    e.config.write_text(e.config.read_text().replace(f'"127.0.0.1:{port}"', f'"0.0.0.0:{port}"'))
    e.spawn()
    e.expect_exit = True
    rc = wait_exit(e)
    assert rc is not None and rc > 0, e.diagnostics()
    lines = stderr_lines(e)
    assert len(lines) == 1 and "as root" in lines[0] and "--allow-root" in lines[0], lines
    # told to: it serves
    e2 = embargo_factory(at=AFTER, start=False)
    p2 = e2.port
    e2.config.write_text(e2.config.read_text().replace(f'"127.0.0.1:{p2}"', f'"0.0.0.0:{p2}"'))
    argv = e2.argv
    e2.argv = lambda: argv() + ["--allow-root"]
    e2.start()
    assert e2.udp(dns.message.make_query("s01.upd.kaspersky.com.", "A")).answer
