"""A fleet resolver reads `embargo rpz`: Knot Resolver 5.6 (Debian's kresd)
loads the zone with policy.rpz and forwards the rest to the test's nsd.

Every mapping of `embargo rpz` is one Knot Resolver 5.6 supports:
CNAME . -> the action given to policy.rpz (policy.DENY: NXDOMAIN), CNAME *.
-> NODATA, A/AAAA -> local data (other types NODATA), CNAME rpz-passthru.
-> policy.PASS. Knot Resolver stops at the first non-chain policy action,
and PASS is one: a policy.STUB rule placed after the RPZ never applies to
passthru names, which would then be resolved from the root. So the forward
is a chain step before the RPZ (see README, "Knot Resolver").
"""
import shutil
import subprocess
import time

import dns.message
import dns.query
import dns.rcode
import dns.rdatatype
import pytest

from e2e_util import (READY_TIMEOUT, TEST_POLICY, embargo_bin, free_port, kaspersky_policy)

AT = "2025-01-01T00:00:00Z"   # after every Kaspersky cutoff


class Kresd:
    def __init__(self, workdir, rpz_path, nsd):
        self.dir = workdir
        self.port = free_port()
        self.conf = workdir / "kresd.conf"
        self.conf.write_text(f"""-- test instance: loopback only, cache in its own folder
net.listen('127.0.0.1', {self.port}, {{ kind = 'dns' }})
cache.open(10 * MB, 'lmdb://{workdir}/cache')
trust_anchors.remove('.')  -- nsd's zones are unsigned; no root to validate from
local stub = policy.STUB('{nsd.host}@{nsd.port}')
-- a chain step (returns nothing): every query is forwarded, passthru included
policy.add(function() return function(state, req) stub(state, req) end end)
policy.add(policy.rpz(policy.DENY, '{rpz_path}', false))
""")
        self.log = open(workdir / "kresd.log", "wb")
        self.proc = subprocess.Popen([shutil.which("kresd") or "/usr/sbin/kresd", "-n", "-c", str(self.conf),
                                      str(workdir)], stdin=subprocess.DEVNULL, stdout=self.log,
                                     stderr=subprocess.STDOUT)

    def diagnostics(self):
        return (self.dir / "kresd.log").read_text(errors="replace")

    def wait_ready(self):
        deadline = time.monotonic() + max(READY_TIMEOUT, 20)
        q = dns.message.make_query("www.kaspersky.com.", "A")
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"kresd exited with {self.proc.returncode}\n{self.diagnostics()}")
            try:
                r = dns.query.udp(q, "127.0.0.1", port=self.port, timeout=0.5)
                if r.answer:
                    return
            except Exception:  # noqa: BLE001 - not up yet
                pass
            time.sleep(0.1)
        raise AssertionError(f"kresd did not answer\n{self.diagnostics()}")

    def ask(self, name, rdtype="A"):
        q = dns.message.make_query(name, rdtype)
        return dns.query.udp(q, "127.0.0.1", port=self.port, timeout=3)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()


@pytest.fixture(scope="module")
def kresd(nsd, tmp_path_factory):
    d = tmp_path_factory.mktemp("kresd")
    (d / "policies").mkdir()
    shutil.copy(kaspersky_policy(), d / "policies" / "kaspersky.yaml")
    (d / "policies" / "testvendor.yaml").write_text(TEST_POLICY)
    (d / "embargo.yaml").write_text("policies: [policies/]\n")
    r = subprocess.run([str(embargo_bin()), "rpz", "-c", str(d / "embargo.yaml"), "--at", AT],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    rpz = d / "embargo.rpz"
    rpz.write_text(r.stdout)
    k = Kresd(d, rpz, nsd)
    try:
        k.wait_ready()
        yield k
    finally:
        k.stop()
    # the zone loaded without complaints (a record kresd did not take is logged)
    log = k.diagnostics()
    assert "RPZ" not in log, log


def addrs(r, rdtype):
    return sorted(str(rd) for rrset in r.answer if rrset.rdtype == rdtype for rd in rrset)


def test_update_hosts_sinkholed(kresd, nsd):
    # nsd has real addresses for them; the RPZ's A/AAAA win
    assert addrs(nsd.query("s01.upd.kaspersky.com."), dns.rdatatype.A) == ["192.0.2.8"]
    for name in ["s01.upd.kaspersky.com.", "upd.kaspersky.com.", "dnl-07.geo.kaspersky.com."]:
        r = kresd.ask(name, "A")
        assert r.rcode() == dns.rcode.NOERROR, name
        assert addrs(r, dns.rdatatype.A) == ["0.0.0.0"], (name, r)
        r = kresd.ask(name, "AAAA")
        assert addrs(r, dns.rdatatype.AAAA) == ["::"], (name, r)
    # other types of a sinkholed name: NODATA, as embargo answers them
    r = kresd.ask("dnl-07.geo.kaspersky.com.", "MX")
    assert r.rcode() == dns.rcode.NOERROR and not r.answer


def test_refuse_and_nxdomain_rules_give_nxdomain(kresd, nsd):
    # store (sales: refuse; RPZ has no REFUSED) and x.ksc (services: nxdomain)
    for name in ["store.kaspersky.com.", "x.ksc.kaspersky.com.", "ksc.kaspersky.com."]:
        assert nsd.query(name).answer, name
        r = kresd.ask(name)
        assert r.rcode() == dns.rcode.NXDOMAIN, (name, r)
        assert not r.answer


def test_nodata_rule(kresd):
    for name in ["nodata.testvendor.example.", "a.nodata.testvendor.example."]:
        r = kresd.ask(name, "A")
        assert r.rcode() == dns.rcode.NOERROR and not r.answer, (name, r)


def test_allowed_and_audited_names_get_nsd_answer(kresd, nsd):
    # opentip is on the allow list (CNAME rpz-passthru.); www only audited
    for name, want in [("opentip.kaspersky.com.", "192.0.2.12"), ("www.kaspersky.com.", "192.0.2.13"),
                       ("xupd.kaspersky.com.", "192.0.2.15")]:
        r = kresd.ask(name)
        assert r.rcode() == dns.rcode.NOERROR, (name, r)
        assert addrs(r, dns.rdatatype.A) == [want] == addrs(nsd.query(name), dns.rdatatype.A)
