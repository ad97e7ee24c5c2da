"""A fleet's resolvers consume embargo's policy as a Response Policy Zone
(DESIGN.md section 7): Unbound, BIND 9 and PowerDNS Recursor, each a
secondary of the zone that `embargo serve` transfers from its `rpz:`
listener, block what the policy blocks (with the RPZ mapping of each action)
and forward the rest to nsd. At a cutoff instant embargo's NOTIFY alone makes
the secondaries start blocking; with TSIG, a secondary without the right key
gets no zone.
"""
import re
import shutil
import time
from datetime import datetime, timedelta, timezone

import dns.message
import dns.query
import dns.rcode
import dns.rdatatype
import pytest

from e2e_util import AFTER, CUTOFF, TEST_POLICY, kaspersky_policy, free_port
from fleet import RPZ_ZONE, Bind, PdnsRecursor, Tsig, Unbound, a_addrs, rtype_addrs

pytestmark = pytest.mark.skipif(
    any(shutil.which(b) is None and not shutil.which(b, path="/usr/sbin")
        for b in ("unbound", "named", "pdns_recursor")),
    reason="unbound, bind9 or pdns-recursor not installed (scripts/bootstrap --test)")

KEY = Tsig("fleet-key.", "ZW1iYXJnby1mbGVldC10ZXN0LWtleS0zMi1vY3RldHM=")
WRONG_KEY = Tsig("fleet-key.", "d3Jvbmctd3Jvbmctd3Jvbmctd3Jvbmctd3Jvbmctdw==")

# A second vendor whose allow entry sits under its own blocked domain: the
# zone carries it as `CNAME rpz-passthru.`, which must beat `*.xupd...`.
FLEET_POLICY = """\
vendor: fleettest
basis: fleet e2e basis
rules:
  - id: block
    effective: 2020-01-01T00:00:00Z
    action: nxdomain
    domains: [xupd.kaspersky.com]
allow:
  - s01.xupd.kaspersky.com
"""

# How long a secondary may take to load the zone it was just started with.
LOAD_TIMEOUT = 10.0
# From the cutoff instant to blocking on the secondaries (the bound).
NOTIFY_BOUND = 5.0
# embargo starts this long before the updates cutoff in the NOTIFY test:
# room for embargo and two secondaries to start and load the zone (ASan
# included) on a loaded machine.
LEAD = 8.0


def rpz_yaml(port, tsig=None, notify=()):
    text = ("rpz:\n"
            f"  zone: {RPZ_ZONE}\n"
            f'  listen: ["127.0.0.1:{port}"]\n'
            "  allow-transfer: [127.0.0.0/8]\n")
    if tsig:
        text += "  tsig:\n" + tsig.yaml()
    if notify:
        text += "  notify: [" + ", ".join(f'"{a}"' for a in notify) + "]\n"
    return text


@pytest.fixture(scope="module")
def fleet_policies(tmp_path_factory):
    d = tmp_path_factory.mktemp("fleet-policies")
    (d / "testvendor.yaml").write_text(TEST_POLICY)
    (d / "fleettest.yaml").write_text(FLEET_POLICY)
    return [str(kaspersky_policy()), str(d / "testvendor.yaml"), str(d / "fleettest.yaml")]


def start_primary(factory, policies, at, tsig=None, notify=()):
    """embargo serve with an `rpz:` listener; .rpz_port is where it
    transfers the zone."""
    port = free_port()
    e = factory(at=at, policies=policies, ready_name="ready.nodata.testvendor.example.",
                extra_config=rpz_yaml(port, tsig, notify))
    e.rpz_port = port
    return e


@pytest.fixture(scope="module")
def primary(module_embargo_factory, fleet_policies):
    """embargo after every Kaspersky cutoff, transfers without TSIG (for
    Unbound, which has none)."""
    return start_primary(module_embargo_factory, fleet_policies, AFTER)


@pytest.fixture(scope="module")
def primary_tsig(module_embargo_factory, fleet_policies):
    """The same, with transfers signed by KEY."""
    return start_primary(module_embargo_factory, fleet_policies, AFTER, tsig=KEY)


class Servers:
    """Consumers started by a test or module, all stopped at teardown
    (whatever the test's outcome)."""

    def __init__(self, tmp_path_factory):
        self.tmp = tmp_path_factory
        self.started = []

    def start(self, cls, primary, nsd, **kw):
        c = cls(self.tmp.mktemp(cls.label), primary.host, primary.rpz_port, nsd.addr, **kw)
        self.started.append(c)
        return c.start()

    def stop(self):
        for c in self.started:
            c.stop()


@pytest.fixture(scope="module")
def module_servers(tmp_path_factory):
    s = Servers(tmp_path_factory)
    yield s
    s.stop()


@pytest.fixture
def servers(tmp_path_factory):
    s = Servers(tmp_path_factory)
    yield s
    s.stop()


@pytest.fixture(scope="module")
def unbound(module_servers, primary, nsd):
    return module_servers.start(Unbound, primary, nsd)


@pytest.fixture(scope="module")
def named(module_servers, primary_tsig, nsd):
    return module_servers.start(Bind, primary_tsig, nsd, tsig=KEY)


@pytest.fixture(scope="module")
def pdns(module_servers, primary_tsig, nsd):
    return module_servers.start(PdnsRecursor, primary_tsig, nsd, tsig=KEY)


def loaded(c):
    """c, once it sinkholes the update host (it has embargo's zone)."""
    r, waited = c.wait_for("s01.upd.kaspersky.com.", "A", lambda r: a_addrs(r) == ["0.0.0.0"],
                           LOAD_TIMEOUT)
    assert waited is not None, (f"{c.label} did not load embargo's zone within {LOAD_TIMEOUT}s; "
                                f"last answer:\n{r}\n{c.diagnostics()}")
    return c


@pytest.fixture(params=["unbound", "named", "pdns"])
def consumer(request):
    """Each consumer in turn, once it has loaded the zone."""
    return loaded(request.getfixturevalue(request.param))


# --------------------------------------------------------------------------
# what each consumer answers, per the mapping

def sinkhole(rdtype, addr):
    def check(r, ref):
        return r.rcode() == dns.rcode.NOERROR and rtype_addrs(r, rdtype) == [addr]
    check.__doc__ = f"{dns.rdatatype.to_text(rdtype)} {addr}"
    return check


def nxdomain(r, ref):
    """NXDOMAIN, no answer"""
    return r.rcode() == dns.rcode.NXDOMAIN and not r.answer


def nodata(r, ref):
    """NOERROR without an A record"""
    return r.rcode() == dns.rcode.NOERROR and a_addrs(r) == []


def upstream(r, ref):
    """nsd's answer"""
    return r.rcode() == ref.rcode() == dns.rcode.NOERROR and a_addrs(r) == a_addrs(ref) != []


A, AAAA = dns.rdatatype.A, dns.rdatatype.AAAA
CASES = [
    # updates, sinkhole: A/AAAA; a `domains` entry is the name and below it
    ("s01.upd.kaspersky.com.", "A", sinkhole(A, "0.0.0.0")),
    ("s01.upd.kaspersky.com.", "AAAA", sinkhole(AAAA, "::")),
    ("upd.kaspersky.com.", "A", sinkhole(A, "0.0.0.0")),
    ("dnl-07.geo.kaspersky.com.", "A", sinkhole(A, "0.0.0.0")),
    # services, nxdomain: CNAME .
    ("x.ksc.kaspersky.com.", "A", nxdomain),
    ("ksc.kaspersky.com.", "A", nxdomain),
    # sales, refuse: CNAME . too (RPZ has no REFUSED)
    ("store.kaspersky.com.", "A", nxdomain),
    # testvendor, nodata: CNAME *. (nsd does not serve the name at all)
    ("nodata.testvendor.example.", "A", nodata),
    # fleettest: blocked domain, and its allow entry: CNAME rpz-passthru.
    ("xupd.kaspersky.com.", "A", nxdomain),
    ("s01.xupd.kaspersky.com.", "A", upstream),
    # audit-only rules are not in the zone; allowed and unrelated names pass
    ("www.kaspersky.com.", "A", upstream),
    ("opentip.kaspersky.com.", "A", upstream),
    ("www.e2e.test.", "A", upstream),
]


def test_consumer_applies_zone(consumer, nsd):
    failed = []
    for name, rdtype, check in CASES:
        r = consumer.query(name, rdtype)
        ref = nsd.query(name, rdtype)
        if not check(r, ref):
            failed.append(f"{name} {rdtype}: expected {check.__doc__}, got "
                          f"{dns.rcode.to_text(r.rcode())} {[x.to_text() for x in r.answer]}")
    assert not failed, (f"{consumer.label}:\n  " + "\n  ".join(failed) +
                        f"\n{consumer.diagnostics()}")


def rpz_soa(primary):
    """The zone's SOA as embargo's rpz listener serves it over UDP."""
    q = dns.message.make_query(RPZ_ZONE, "SOA")
    r = dns.query.udp(q, primary.host, port=primary.rpz_port, timeout=2)
    assert r.rcode() == dns.rcode.NOERROR and r.answer, \
        f"no SOA over UDP from embargo's rpz listener\n{r}\n{primary.diagnostics()}"
    return r.answer[0][0]


def test_unbound_holds_embargos_serial(unbound, primary):
    """The zone Unbound wrote to its zonefile is the one embargo serves."""
    loaded(unbound)
    serial = rpz_soa(primary).serial
    zf = unbound.dir / f"{RPZ_ZONE}zone"
    text = zf.read_text() if zf.exists() else ""
    m = re.search(r"\sSOA\s+\S+\s+\S+\s+(\d+)", text)
    assert m and int(m.group(1)) == serial, \
        f"Unbound's zonefile is not at serial {serial}:\n{text[:2000]}"


# --------------------------------------------------------------------------
# NOTIFY at the cutoff instant


def test_notify_at_cutoff(embargo_factory, fleet_policies, servers, nsd):
    """embargo starts LEAD seconds before the updates cutoff and notifies
    Unbound and BIND. Both load the zone of before the cutoff (store blocked,
    updates not), and start sinkholing the update host within NOTIFY_BOUND
    seconds of the instant, with no action on them: BIND's refresh timer is
    a day, and Unbound's is the zone's SOA refresh, far longer than the
    test; both log embargo's NOTIFY. PowerDNS Recursor 4.8, which has no
    NOTIFY for RPZ, follows by polling every second."""
    ub_port, bind_port = free_port(), free_port()
    lead = LEAD
    cutoff = datetime.strptime(CUTOFF, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc)
    at = (cutoff - timedelta(seconds=lead)).strftime("%Y-%m-%dT%H:%M:%SZ")
    e = start_primary(embargo_factory, fleet_policies, at,
                      notify=[f"127.0.0.1:{ub_port}", f"127.0.0.1:{bind_port}"])
    # the pinned clock starts when the process does, not earlier
    cut = e.started_at + lead
    ub = servers.start(Unbound, e, nsd, port=ub_port, verbosity=2)
    bd = servers.start(Bind, e, nsd, port=bind_port)
    # PowerDNS Recursor 4.8 ignores NOTIFY for RPZ (5.1 has it): it polls,
    # and its packet cache outlives a zone change
    pd = servers.start(PdnsRecursor, e, nsd, refresh=1, packetcache_ttl=1)
    refresh = rpz_soa(e).refresh
    assert refresh > lead + NOTIFY_BOUND + 30, f"SOA refresh {refresh}s could explain the switch"

    host = "s01.upd.kaspersky.com."
    for c in (ub, bd, pd):
        r, waited = c.wait_for("store.kaspersky.com.", "A", lambda r: nxdomain(r, None),
                               cut - time.monotonic() - 1.0)
        assert waited is not None, (f"{c.label} had not loaded the zone 1 s before the cutoff\n"
                                    f"{r}\n{c.diagnostics()}\n{e.diagnostics()}")
        r = c.query(host)
        assert a_addrs(r) == ["192.0.2.8"], (f"{c.label} blocks {host} before the cutoff\n{r}\n"
                                             f"{c.diagnostics()}")

    pending = {c.label: c for c in (ub, bd, pd)}
    switched = {}
    last = {}
    deadline = cut + NOTIFY_BOUND
    while pending and time.monotonic() < deadline:
        for label, c in list(pending.items()):
            try:
                r = c.query(host, timeout=0.5)
            except Exception as exc:  # noqa: BLE001 - a lost datagram: ask again
                last[label] = exc
                continue
            last[label] = r
            if a_addrs(r) == ["0.0.0.0"]:
                switched[label] = time.monotonic() - cut
                del pending[label]
        time.sleep(0.05)
    assert not pending, (f"not sinkholing {host} within {NOTIFY_BOUND}s of the cutoff: "
                         f"{sorted(pending)}; last answers: {last}\n" +
                         "\n".join(c.diagnostics() for c in pending.values()) +
                         f"\n{e.diagnostics()}")
    # the process started no earlier than started_at, so its cutoff came no
    # earlier than `cut`: a switch well before it is a zone changed too soon
    for label, dt in switched.items():
        assert dt > -0.5, f"{label} switched {-dt:.2f}s before the cutoff"
    # BIND says why it transferred: embargo's NOTIFY
    log = bd.log_path.read_text(errors="replace")
    assert re.search(r"notify from 127\.0\.0\.1#\d+: serial \d+", log), \
        f"BIND logged no NOTIFY from embargo\n{bd.diagnostics()}"
    log = ub.log_path.read_text(errors="replace")
    pat = rf"received NOTIFY (serial \d+ )?for {re.escape(RPZ_ZONE)} from 127\.0\.0\.1"
    assert re.search(pat, log), f"Unbound logged no NOTIFY from embargo\n{ub.diagnostics()}"
    print(f"switch after the cutoff: {switched}")


# --------------------------------------------------------------------------
# TSIG


@pytest.mark.parametrize("key", [WRONG_KEY, None], ids=["wrong-key", "no-key"])
def test_bind_without_the_key_gets_no_zone(key, primary_tsig, servers, nsd, named):
    """embargo's transfers need KEY: BIND with another secret, or with none,
    fails its refresh and blocks nothing; the module's BIND, with KEY, has
    the zone (test_consumer_applies_zone)."""
    bd = servers.start(Bind, primary_tsig, nsd, tsig=key)
    deadline = time.monotonic() + LOAD_TIMEOUT
    zone = re.escape(RPZ_ZONE.rstrip("."))
    # the SOA query fails (refresh: failure ...), or the transfer does
    pat = re.compile(rf"zone {zone}/IN: refresh: failure|"
                     rf"transfer of '{zone}/IN' from \S+: (failed|Transfer status: (?!success))")
    while time.monotonic() < deadline and not pat.search(bd.log_path.read_text(errors="replace")):
        time.sleep(0.1)
    log = bd.log_path.read_text(errors="replace")
    assert pat.search(log), \
        f"BIND logged no failed refresh within {LOAD_TIMEOUT}s\n{bd.diagnostics()}"
    assert "transferred serial" not in log, f"BIND got the zone without the key\n{bd.diagnostics()}"
    r = bd.query("s01.upd.kaspersky.com.")
    assert a_addrs(r) == ["192.0.2.8"], f"BIND blocks without the zone\n{r}\n{bd.diagnostics()}"
    # and the right key still works against the same primary
    r, waited = named.wait_for("s01.upd.kaspersky.com.", "A", lambda r: a_addrs(r) == ["0.0.0.0"],
                               LOAD_TIMEOUT)
    assert waited is not None, f"BIND with the key has no zone\n{named.diagnostics()}"
    assert re.search(r"transferred serial \d+: TSIG 'fleet-key'", named.log_path.read_text()), \
        f"BIND's transfer was not signed with the key\n{named.diagnostics()}"
