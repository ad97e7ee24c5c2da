"""`embargo firewall`: the nftables ruleset that keeps a LAN's DNS on embargo.

The ruleset is checked by the kernel (`nft -c -f`, and loaded with `nft -f`)
in network namespaces that each test creates and deletes, so the host's own
ruleset is never touched. The end-to-end test builds a small network of
namespaces (client - router - "internet") and shows that queries from the
client to public resolvers reach embargo, and DNS over TLS/QUIC is refused.
Those tests need root, `ip` and `nft` (scripts/bootstrap --test installs
nftables and iproute2; CI runs as root)."""
import os
import re
import shutil
import socket
import subprocess
import time
import uuid

import pytest

from conftest import BIN, SRC

POLICIES = SRC / "config" / "policies"

needs_netns = pytest.mark.skipif(
    os.geteuid() != 0 or not shutil.which("nft") or not shutil.which("ip"),
    reason="needs root, nft (nftables) and ip (iproute2) for private network namespaces")

# The public resolvers Kaspersky's products fall back to (shared/data/kaspersky.md).
FALLBACK_RESOLVERS = ["8.8.8.8", "1.1.1.1", "9.9.9.9", "223.6.6.6", "185.228.168.168"]


def config(write, listen, upstreams=None, access=None, extra=""):
    text = f"listen: {listen}\npolicies: [{POLICIES}/]\n"
    if upstreams is not None:
        text += f"upstreams: {upstreams}\n"
    if access is not None:
        text += f"access: {access}\n"
    return write("embargo.yaml", text + extra)


ROUTER_CONFIG = dict(
    listen='["192.168.1.1:53", "[fd00:1::1]:5353"]',
    upstreams='["192.0.2.1", "[2001:db8::53]:5300", "tls://9.9.9.9:853#dns.quad9.net", '
              '"tls://[2620:fe::fe]#dns.quad9.net"]',
    access='[127.0.0.0/8, "::1/128", 192.168.1.0/24, 192.168.0.0/16, "fd00:1::/64"]')


class Netns:
    """A private network namespace, deleted (with everything in it) by close()."""

    def __init__(self, tag):
        self.name = f"embargo-{tag}-{uuid.uuid4().hex[:8]}"
        subprocess.run(["ip", "netns", "add", self.name], check=True)
        self.ip("link", "set", "lo", "up")

    def ip(self, *args):
        subprocess.run(["ip", "-n", self.name, *args], check=True, capture_output=True)

    def run(self, *args, check=False, timeout=30, **kw):
        return subprocess.run(["ip", "netns", "exec", self.name, *args], capture_output=True,
                              text=True, check=check, timeout=timeout, **kw)

    def close(self):
        subprocess.run(["ip", "netns", "del", self.name], capture_output=True)


@pytest.fixture
def netns():
    made = []

    def _make(tag="fw"):
        ns = Netns(tag)
        made.append(ns)
        return ns
    yield _make
    for ns in made:
        ns.close()


def nft_check(ns, ruleset, tmp_path):
    path = tmp_path / f"ruleset-{uuid.uuid4().hex[:6]}.nft"
    path.write_text(ruleset)
    return ns.run("nft", "-c", "-f", str(path))


# ---- command line -------------------------------------------------------

def test_help_exits_0(embargo):
    r = embargo("firewall", "--help")
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("usage: embargo firewall")
    assert "--lan-if" in r.stdout and "--table" in r.stdout
    top = embargo("--help")
    assert re.search(r"^\s+firewall\s+\S", top.stdout, re.M), top.stdout


@pytest.mark.parametrize("args", [
    ["--bogus"], ["extra"], ["--lan-if"], ["--table"], ["-c"],
    ["--lan-if", ""], ["--lan-if", "has space"], ["--lan-if", 'q"uote'],
    ["--lan-if", "a/b"], ["--lan-if", "sixteen-chars-xx"],
    ["--table", "1abc"], ["--table", "a-b"], ["--table", "x;flush ruleset"],
])
def test_usage_errors_exit_2(embargo, bundled, args):
    r = embargo("firewall", "-c", bundled, *args)
    assert r.returncode == 2, (args, r.stdout, r.stderr)
    assert r.stdout == ""
    assert r.stderr.startswith("embargo: firewall: ") and r.stderr.count("\n") == 1, r.stderr


def test_too_many_interfaces_exit_2(embargo, bundled):
    args = [a for i in range(17) for a in ("--lan-if", f"eth{i}")]
    r = embargo("firewall", "-c", bundled, *args)
    assert r.returncode == 2, r.stderr


def test_invalid_config_exits_1(embargo, write):
    path = write("embargo.yaml", 'listen: ["192.168.1.1:99999"]\n')
    r = embargo("firewall", "-c", path)
    assert r.returncode == 1
    assert r.stdout == ""
    assert re.search(re.escape(path) + r":1:\d+: ", r.stderr), r.stderr


def test_missing_config_exits_1(embargo, tmp_path):
    r = embargo("firewall", "-c", str(tmp_path / "nope.yaml"))
    assert r.returncode == 1 and r.stdout == ""
    assert "nope.yaml" in r.stderr


def test_no_lan_is_a_usage_error(embargo, write):
    path = config(write, '["192.168.1.1:53"]', access='[127.0.0.0/8, "::1/128"]')
    r = embargo("firewall", "-c", path)
    assert r.returncode == 2 and r.stdout == ""
    assert "--lan-if" in r.stderr
    # with an interface it is fine
    assert embargo("firewall", "-c", path, "--lan-if", "br-lan").returncode == 0


# ---- what the ruleset says ----------------------------------------------

def test_ruleset_redirects_to_first_non_loopback_listen_address(embargo, write):
    path = config(write, '["127.0.0.1:53", "[::1]:53", "192.168.1.1:53", "10.0.0.1:53", '
                  '"[fd00:1::1]:5353"]', access='[192.168.1.0/24, "fd00:1::/64"]')
    r = embargo("firewall", "-c", path)
    assert r.returncode == 0, r.stderr
    out = r.stdout
    for proto in ("udp", "tcp"):
        assert f"ip saddr @lan4 {proto} dport 53 counter dnat ip to 192.168.1.1:53\n" in out
        assert f"ip6 saddr @lan6 {proto} dport 53 counter dnat ip6 to [fd00:1::1]:5353\n" in out
    assert "10.0.0.1:53" not in out.split("chain dns_redirect")[1]
    # both specific addresses are embargo's own: never redirected, never rejected
    assert re.search(r"set embargo4 \{[^}]*elements = \{\s*192\.168\.1\.1,\s*10\.0\.0\.1\s*\}", out)
    assert "ip daddr @embargo4 return" in out and "ip daddr @embargo4 counter accept" in out
    # loopback is not a LAN network
    lan4 = re.search(r"set lan4 \{.*?\n\t\}", out, re.S).group(0)
    assert "192.168.1.0/24" in lan4 and "127.0.0.0" not in lan4


def test_ruleset_names_config_and_is_idempotent_by_construction(embargo, write):
    path = config(write, **ROUTER_CONFIG)
    out = embargo("firewall", "-c", path).stdout
    assert f"from {path}." in out
    # ensure-exists, delete, declare: the idiom that makes reloading replace the table
    assert re.search(r"^table inet embargo\ndelete table inet embargo\n\ntable inet embargo \{\n",
                     out, re.M), out[:2000]
    assert "8.8.8.8, 1.1.1.1, 9.9.9.9, 223.6.6.6 and 185.228.168.168" in out


def test_ruleset_blocks_dot_and_doq_from_the_lan(embargo, write):
    out = embargo("firewall", "-c", config(write, **ROUTER_CONFIG)).stdout
    fwd = out.split("chain dns_forward {")[1]
    assert "type filter hook forward priority filter; policy accept;" in fwd
    for match in ("ip saddr @lan4", "ip6 saddr @lan6"):
        assert f"{match} tcp dport 853 counter reject with tcp reset" in fwd
        assert f"{match} udp dport 853 counter reject" in fwd
        # port-53 DNS that escaped the redirect fails closed
        assert f"{match} udp dport 53 counter reject" in fwd
        assert f"{match} tcp dport 53 counter reject with tcp reset" in fwd
    # the accepts for embargo come before every reject
    first_reject = fwd.index("counter reject")
    assert fwd.index("@upstreams4 counter accept") < first_reject
    assert fwd.index("ip daddr @embargo4 counter accept") < first_reject


def test_ruleset_allows_configured_upstreams(embargo, write):
    out = embargo("firewall", "-c", config(write, **ROUTER_CONFIG)).stdout
    up4 = re.search(r"set upstreams4 \{.*?\n\t\}", out, re.S).group(0)
    up6 = re.search(r"set upstreams6 \{.*?\n\t\}", out, re.S).group(0)
    assert "192.0.2.1 . udp . 53" in up4 and "192.0.2.1 . tcp . 53" in up4
    assert "9.9.9.9 . tcp . 853" in up4 and "9.9.9.9 . udp" not in up4   # DoT is TCP only
    assert "2001:db8::53 . udp . 5300" in up6 and "2001:db8::53 . tcp . 5300" in up6
    assert "2620:fe::fe . tcp . 853" in up6
    assert "ip saddr @embargo4 ip daddr . meta l4proto . th dport @upstreams4 counter accept" in out
    # the router's own traffic (output hook) is not filtered by this table, and it says so
    assert "hook output" not in out
    assert "output hook, which this table does not filter" in out


def test_ruleset_with_lan_interfaces(embargo, write):
    path = config(write, '["192.168.1.1:53"]')
    r = embargo("firewall", "-c", path, "--lan-if", "br-lan", "--lan-if", "wlan*",
                "--table", "dnsguard")
    assert r.returncode == 0, r.stderr
    out = r.stdout
    assert 'define embargo_lan_ifs = { "br-lan", "wlan*" }' in out
    assert "meta nfproto ipv4 iifname $embargo_lan_ifs udp dport 53 counter dnat ip to 192.168.1.1:53" in out
    assert "set lan4" not in out
    assert "table inet dnsguard\ndelete table inet dnsguard\n" in out
    assert "table inet embargo" not in out


def test_loopback_only_listen_uses_redirect_and_explains(embargo, bundled):
    r = embargo("firewall", "-c", bundled)
    assert r.returncode == 0, r.stderr
    assert "ip saddr @lan4 udp dport 53 counter redirect to :5335" in r.stdout
    assert "ip6 saddr @lan6 tcp dport 53 counter redirect to :5335" in r.stdout
    assert "route_localnet" in r.stdout and "listens only on loopback" in r.stdout
    assert "warning" in r.stderr and "127.0.0.1:5335" in r.stderr


def test_wildcard_listen_uses_redirect(embargo, write):
    out = embargo("firewall", "-c", config(write, '["0.0.0.0:5300", "[::]:53"]')).stdout
    assert "ip saddr @lan4 tcp dport 53 counter redirect to :5300" in out
    assert "ip6 saddr @lan6 tcp dport 53 counter redirect to :53" in out
    assert re.search(r"set embargo4 \{\n\t\ttype ipv4_addr\n\t\}", out)   # no element


def test_family_without_listen_address_is_not_redirected(embargo, write):
    out = embargo("firewall", "-c", config(write, '["192.168.1.1:53"]')).stdout
    nat = out.split("chain dns_redirect")[1].split("chain dns_forward")[0]
    assert "dnat ip to 192.168.1.1:53" in nat
    assert "ip6 saddr @lan6 udp dport 53" not in nat
    assert "does not listen on any IPv6 address" in nat
    assert "ip6 saddr @lan6 udp dport 53 counter reject" in out


def test_env_overrides_apply(embargo, write):
    path = config(write, '["127.0.0.1:53"]')
    env = dict(os.environ, EMBARGO_LISTEN="10.9.8.7:5353", EMBARGO_UPSTREAMS="192.0.2.9")
    r = subprocess.run([BIN, "firewall", "-c", path], capture_output=True, text=True, env=env,
                       timeout=60)
    assert r.returncode == 0, r.stderr
    assert "dnat ip to 10.9.8.7:5353" in r.stdout
    assert "192.0.2.9 . udp . 53" in r.stdout


# ---- the kernel's verdict -----------------------------------------------

@needs_netns
@pytest.mark.parametrize("case", ["bundled", "router", "lan-if", "wildcard", "v4-only",
                                  "overlapping-access"])
def test_nft_accepts_ruleset(embargo, write, bundled, netns, tmp_path, case):
    args = {
        "bundled": ["-c", bundled],
        "router": ["-c", config(write, **ROUTER_CONFIG)],
        "lan-if": ["-c", config(write, **ROUTER_CONFIG), "--lan-if", "br-lan",
                   "--lan-if", "wlan*", "--table", "embargo_lan"],
        "wildcard": ["-c", config(write, '["0.0.0.0:53", "[::]:5300"]')],
        "v4-only": ["-c", config(write, '["10.0.0.1:53"]', access="[10.0.0.0/8]")],
        "overlapping-access": ["-c", config(write, '["10.0.0.1:53"]', upstreams='["192.0.2.1", "192.0.2.1"]',
                                            access='[10.0.0.0/8, 10.1.0.0/16, 10.0.0.0/8, "::/0", "fd00::/8"]')],
    }[case]
    r = embargo("firewall", *args)
    assert r.returncode == 0, r.stderr
    ns = netns()
    chk = nft_check(ns, r.stdout, tmp_path)
    assert chk.returncode == 0, chk.stderr
    # and the check is real: a broken ruleset is refused
    bad = nft_check(ns, r.stdout.replace("dport 853", "dport eighthundred"), tmp_path)
    assert bad.returncode != 0


@needs_netns
def test_loading_twice_replaces_the_table(embargo, write, netns, tmp_path):
    ns = netns()
    path = tmp_path / "fw.nft"
    path.write_text(embargo("firewall", "-c", config(write, **ROUTER_CONFIG)).stdout)
    for _ in range(2):
        r = ns.run("nft", "-f", str(path))
        assert r.returncode == 0, r.stderr
    tables = ns.run("nft", "list", "tables").stdout.split("\n")
    assert tables.count("table inet embargo") == 1
    listed = ns.run("nft", "list", "table", "inet", "embargo").stdout
    assert listed.count("chain dns_redirect") == 1
    assert listed.count("dnat ip to 192.168.1.1:53") == 2        # udp and tcp, not 4
    up = ns.run("nft", "list", "set", "inet", "embargo", "upstreams4").stdout
    assert "9.9.9.9 . tcp . 853" in up and "192.0.2.1 . udp . 53" in up


# ---- end to end: client -> router (embargo + ruleset) -> "internet" -------

ECHO_RESPONDER = r"""
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("192.0.2.254", 53))
print("ready", flush=True)
while True:
    q, peer = s.recvfrom(4096)
    s.sendto(q[:2] + bytes([q[2] | 0x80, q[3]]) + q[4:], peer)   # QR set, NOERROR
"""

QUERY = r"""
import sys, dns.message, dns.query, dns.rcode
server, port, proto = sys.argv[1], int(sys.argv[2]), sys.argv[3]
source = sys.argv[4] if len(sys.argv) > 4 else None
q = dns.message.make_query("store.kaspersky.com", "A", use_edns=0)
try:
    fn = dns.query.udp if proto == "udp" else dns.query.tcp
    r = fn(q, server, port=port, timeout=2, source=source)
    print(dns.rcode.to_text(r.rcode()), " ".join(o.text or "" for o in r.options if o.otype == 15))
except Exception as e:
    print("ERROR", type(e).__name__)
"""

PROBE = r"""
import socket, sys
host, port, proto = sys.argv[1], int(sys.argv[2]), sys.argv[3]
fam = socket.AF_INET6 if ":" in host else socket.AF_INET
s = socket.socket(fam, socket.SOCK_STREAM if proto == "tcp" else socket.SOCK_DGRAM)
s.settimeout(2)
try:
    s.connect((host, port))
    if proto == "udp":
        s.send(b"\0" * 12)
        s.recv(512)
    print("open")
except socket.timeout:
    print("timeout")
except OSError as e:
    print("refused", e.errno)
"""


@pytest.fixture
def lab(netns):
    """client (10.99.0.2, fd99::2) -- router (10.99.0.1, fd99::1; WAN 192.0.2.1) -- wan
    (192.0.2.254, 2001:db8::ffff). The wan namespace routes nowhere: a packet
    for a public resolver that leaves the router is lost."""
    client, router, wan = netns("c"), netns("r"), netns("w")
    router.ip("link", "add", "lan0", "type", "veth", "peer", "name", "eth0", "netns", client.name)
    router.ip("link", "add", "wan0", "type", "veth", "peer", "name", "eth0", "netns", wan.name)
    for ns, dev, addrs in ((router, "lan0", ["10.99.0.1/24", "fd99::1/64"]),
                           (router, "wan0", ["192.0.2.1/24", "2001:db8::1/64"]),
                           (client, "eth0", ["10.99.0.2/24", "10.99.0.3/24", "fd99::2/64"]),
                           (wan, "eth0", ["192.0.2.254/24", "2001:db8::ffff/64"])):
        for a in addrs:
            ns.ip("addr", "add", a, "dev", dev, *(["nodad"] if ":" in a else []))
        ns.ip("link", "set", dev, "up")
    client.ip("route", "add", "default", "via", "10.99.0.1")
    client.ip("-6", "route", "add", "default", "via", "fd99::1")
    router.ip("route", "add", "default", "via", "192.0.2.254")
    router.ip("-6", "route", "add", "default", "via", "2001:db8::ffff")
    wan.ip("route", "add", "10.99.0.0/24", "via", "192.0.2.1")
    router.run("sysctl", "-q", "-w", "net.ipv4.ip_forward=1", "net.ipv6.conf.all.forwarding=1",
               check=True)
    procs = []
    yield client, router, wan, procs
    for p in procs:
        p.terminate()
        try:
            p.wait(timeout=10)
        except subprocess.TimeoutExpired:
            p.kill()


def query(ns, server, proto="udp", source=None, port=53, tries=1):
    """The rcode (and EDE text) of one lookup, or "ERROR <exception>". An
    answer that is expected may take `tries` (a UDP packet can be lost on a
    busy machine); an expected timeout is asked once."""
    args = ["/usr/bin/python3", "-c", QUERY, server, str(port), proto] + ([source] if source else [])
    for _ in range(tries):
        got = ns.run(*args).stdout.strip()
        if not got.startswith("ERROR"):
            break
    return got


def probe(ns, host, port, proto):
    return ns.run("/usr/bin/python3", "-c", PROBE, host, str(port), proto).stdout.strip()


@needs_netns
def test_lan_dns_is_kept_on_embargo(embargo, write, lab, tmp_path):
    client, router, wan, procs = lab
    serve_cfg = config(write, '["10.99.0.1:5335", "[fd99::1]:5335"]', upstreams='["192.0.2.254"]',
                       access='[127.0.0.0/8, "::1/128", 10.99.0.0/24, "fd99::/64"]')
    log = open(tmp_path / "serve.log", "w")
    procs.append(subprocess.Popen(["ip", "netns", "exec", router.name, BIN, "serve", "-c", serve_cfg,
                                   "--at", "2024-10-01T00:00:00Z"], stdout=log, stderr=log))
    deadline = time.monotonic() + 10
    while query(client, "10.99.0.1", port=5335).startswith("ERROR") and time.monotonic() < deadline:
        time.sleep(0.2)
    # embargo answers itself: store.kaspersky.com is refused by kaspersky/sales
    assert query(client, "10.99.0.1", port=5335, tries=3).startswith("REFUSED"), \
        (tmp_path / "serve.log").read_text()

    # Without the ruleset a public resolver is simply out of reach (lost upstream)...
    assert query(client, "8.8.8.8") == "ERROR Timeout"

    # ...with it, every fallback resolver answers: embargo, posing as that address.
    # The firewall config says embargo also lives at 10.99.0.3 (a second host),
    # with 192.0.2.254 as its upstream.
    fw_cfg = write("fw.yaml", f"listen: [\"10.99.0.1:5335\", \"10.99.0.3:5335\", \"[fd99::1]:5335\"]\n"
                   f"upstreams: [\"192.0.2.254\", \"tls://9.9.9.9:853#dns.quad9.net\"]\n"
                   f"access: [127.0.0.0/8, \"::1/128\", 10.99.0.0/24, \"fd99::/64\"]\n"
                   f"policies: [{POLICIES}/]\n")
    rules = tmp_path / "fw.nft"
    r = embargo("firewall", "-c", fw_cfg)
    assert r.returncode == 0, r.stderr
    rules.write_text(r.stdout)
    loaded = router.run("nft", "-f", str(rules))
    assert loaded.returncode == 0, loaded.stderr

    for resolver in FALLBACK_RESOLVERS:
        for proto in ("udp", "tcp"):
            got = query(client, resolver, proto, tries=3)
            assert got.startswith("REFUSED") and "kaspersky/sales" in got, (resolver, proto, got)
    for proto in ("udp", "tcp"):
        got = query(client, "2001:4860:4860::8888", proto, tries=3)
        assert got.startswith("REFUSED"), (proto, got)

    # DNS over TLS and over QUIC to a public resolver: refused at once, not a timeout
    assert probe(client, "9.9.9.9", 853, "tcp").startswith("refused")
    assert probe(client, "9.9.9.9", 853, "udp").startswith("refused")
    assert probe(client, "2620:fe::fe", 853, "tcp").startswith("refused")
    # other traffic is not this table's business: HTTPS to the same address is just lost
    assert probe(client, "9.9.9.9", 443, "tcp") == "timeout"

    # embargo's own host (10.99.0.3) reaches its upstream untouched; any other
    # LAN address asking the same server is redirected to embargo.
    wan_ready = subprocess.Popen(["ip", "netns", "exec", wan.name, "/usr/bin/python3", "-c",
                                  ECHO_RESPONDER], stdout=subprocess.PIPE, text=True)
    procs.append(wan_ready)
    assert wan_ready.stdout.readline().strip() == "ready"
    assert query(client, "192.0.2.254", "udp", source="10.99.0.3", tries=3).startswith("NOERROR")
    assert query(client, "192.0.2.254", "udp", source="10.99.0.2", tries=3).startswith("REFUSED")

    counters = router.run("nft", "list", "chain", "inet", "embargo", "dns_redirect").stdout
    assert re.search(r"ip saddr @lan4 udp dport 53 counter packets [1-9]", counters), counters


@needs_netns
def test_family_without_embargo_fails_closed(embargo, write, lab, tmp_path):
    """embargo listens on IPv4 only: IPv6 DNS from the LAN cannot be
    redirected, so it is rejected rather than let through."""
    client, router, wan, procs = lab
    wan.ip("-6", "route", "add", "fd99::/64", "via", "2001:db8::1")
    # a resolver on the "internet" side that answers whoever reaches it
    procs.append(subprocess.Popen(["ip", "netns", "exec", wan.name, "/usr/bin/python3", "-c",
                                   ECHO_RESPONDER.replace("socket.AF_INET,", "socket.AF_INET6,")
                                   .replace('"192.0.2.254"', '"2001:db8::ffff"')],
                                  stdout=subprocess.PIPE, text=True))
    assert procs[-1].stdout.readline().strip() == "ready"
    # control: without the ruleset the client reaches it
    assert query(client, "2001:db8::ffff", tries=5).startswith("NOERROR")

    fw_cfg = config(write, '["10.99.0.1:53"]', access='[10.99.0.0/24, "fd99::/64"]')
    rules = tmp_path / "fw.nft"
    rules.write_text(embargo("firewall", "-c", fw_cfg).stdout)
    loaded = router.run("nft", "-f", str(rules))
    assert loaded.returncode == 0, loaded.stderr
    assert probe(client, "2001:db8::ffff", 53, "udp").startswith("refused")
    assert probe(client, "2001:db8::ffff", 53, "tcp").startswith("refused")
    fwd = router.run("nft", "list", "chain", "inet", "embargo", "dns_forward").stdout
    assert re.search(r"ip6 saddr @lan6 udp dport 53 counter packets [1-9]", fwd), fwd
    assert re.search(r"ip6 saddr @lan6 tcp dport 53 counter packets [1-9]", fwd), fwd
