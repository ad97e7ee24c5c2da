#!/usr/bin/python3
"""Writes the seed corpora of the fuzz targets into corpus/<target>/.

Run from anywhere: /usr/bin/python3 tests/fuzz/make_corpus.py. The seeds are
checked in; this script says where they came from and makes more. DNS
messages are built with dnspython (real encodings: EDNS, DO, EDE, cookies,
compression); the YAML seeds are the bundled config and policies and the
README's examples. Inputs that found bugs are kept under their own names
(regress-*) and are not written by this script.
"""
import os
import struct
import sys

import dns.edns
import dns.flags
import dns.message
import dns.name
import dns.opcode
import dns.rcode
import dns.rdataclass
import dns.rdatatype
import dns.rrset

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))


def out(target, name, data):
    d = os.path.join(HERE, "corpus", target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def query(name, rdtype="A", rdclass="IN", edns=-1, do=False, options=None, qid=0x1234,
          cd=False, ad=False, rd=True):
    q = dns.message.make_query(name, rdtype, rdclass, use_edns=edns, want_dnssec=do,
                               options=options or [])
    q.id = qid
    if not rd:
        q.flags &= ~dns.flags.RD
    if cd:
        q.flags |= dns.flags.CD
    if ad:
        q.flags |= dns.flags.AD
    return q


def queries():
    cookie = dns.edns.GenericOption(10, bytes(range(8)))
    pad = dns.edns.GenericOption(12, bytes(16))
    ede = dns.edns.EDEOption(15, "a query should not carry this")
    ecs = dns.edns.ECSOption("192.0.2.0", 24)
    keep = dns.edns.GenericOption(11, b"")
    yield "a", query("www.example.com.")
    yield "aaaa-edns-do", query("www.example.com.", "AAAA", edns=0, do=True, qid=0x0021)
    yield "a-edns-cookie-pad", query("Www.Example.COM.", edns=0, options=[cookie, pad, keep])
    yield "a-edns-ede-ecs", query("example.org.", edns=0, options=[ede, ecs], cd=True, ad=True)
    yield "block-sinkhole", query("s01.upd.kaspersky.com.", qid=0x0003)
    yield "block-sinkhole-aaaa-do", query("dnl-07.geo.kaspersky.com.", "AAAA", edns=0, do=True,
                                          qid=0x0003)
    yield "block-refuse", query("store.kaspersky.com.", edns=0, qid=0x0007)
    yield "block-nxdomain", query("www.acme.example.", "MX", edns=0, qid=0x0002)
    yield "block-nodata", query("x.t.acme.example.", "TXT", edns=0, qid=0x0001)
    yield "block-host", query("store.acme.example.", qid=0x0004)
    yield "allow", query("support.acme.example.", qid=0x0004)
    yield "audit", query("x.acme.net.", qid=0x0001)
    yield "exempt-lab", query("s01.upd.kaspersky.com.", qid=0x000b)
    yield "chaos-version", query("version.embargo.", "TXT", "CH")
    yield "chaos-policy", query("policy.embargo.", "TXT", "CH", edns=0)
    yield "chaos-other", query("version.bind.", "TXT", "CH")
    yield "any", query("example.com.", "ANY", rd=False)
    yield "long-name", query(".".join(["a" * 63] * 3 + ["b" * 61]) + ".", edns=0, qid=0x20)
    yield "root", query(".", "NS", edns=0)
    yield "badvers", query("example.com.", edns=1)
    big = query("example.com.", edns=0, do=True, options=[dns.edns.GenericOption(65001, bytes(1200))])
    yield "big-option", big
    n = query("example.com.")
    n.set_opcode(dns.opcode.NOTIFY)
    yield "notify", n
    u = query("example.com.", "SOA")
    u.set_opcode(dns.opcode.UPDATE)
    yield "update", u


def raw_queries():
    base = query("example.com.").to_wire()
    yield "qdcount0", base[:4] + b"\x00\x00" + base[6:12]
    yield "qdcount2", base[:4] + b"\x00\x02" + base[6:]
    yield "truncated-question", base[:-3]
    # a compression pointer in the qname: FORMERR
    yield "qname-pointer", base[:12] + b"\xc0\x0c" + base[-4:]
    # an OPT in the answer section
    e = query("example.com.", edns=0).to_wire()
    yield "opt-in-answer", e[:6] + b"\x00\x01" + e[8:10] + b"\x00\x00" + e[12:]
    yield "header-only", base[:12]
    yield "qr-set", bytes([base[0], base[1], base[2] | 0x80]) + base[3:]


def reply(q, rcode=0, answer=(), authority=(), additional=(), tc=False, edns=-1, options=None,
          do=False):
    r = dns.message.make_response(q)
    r.set_rcode(rcode)
    if tc:
        r.flags |= dns.flags.TC
    for s, rrs in ((r.answer, answer), (r.authority, authority), (r.additional, additional)):
        for t in rrs:
            s.append(dns.rrset.from_text(*t))
    if edns >= 0:
        r.use_edns(edns, dns.flags.DO if do else 0, 1232, options=options or [])
    else:
        r.use_edns(False)
    return r


def replies():
    q = query("www.example.com.", qid=0x4242)
    qe = query("www.example.com.", edns=0, do=True, qid=0x4242)
    soa = ("example.com.", 3600, "IN", "SOA", "ns.example.com. host.example.com. 1 7200 900 1209600 300")
    yield "a", reply(q, answer=[("www.example.com.", 300, "IN", "A", "192.0.2.1", "192.0.2.2")])
    yield "cname-chain", reply(qe, answer=[
        ("www.example.com.", 300, "IN", "CNAME", "edge.cdn.example.net."),
        ("edge.cdn.example.net.", 60, "IN", "CNAME", "s01.upd.kaspersky.com."),
        ("s01.upd.kaspersky.com.", 30, "IN", "A", "198.51.100.7")], edns=0, do=True)
    yield "dname", reply(q, answer=[
        ("example.com.", 300, "IN", "DNAME", "acme.example."),
        ("www.example.com.", 300, "IN", "CNAME", "www.acme.example."),
        ("www.acme.example.", 300, "IN", "A", "192.0.2.9")])
    yield "nxdomain-soa", reply(q, rcode=dns.rcode.NXDOMAIN, authority=[soa])
    yield "nodata-soa-edns", reply(qe, authority=[soa], edns=0, options=[dns.edns.EDEOption(3, "stale")])
    yield "servfail-ede", reply(qe, rcode=dns.rcode.SERVFAIL, edns=0,
                                options=[dns.edns.EDEOption(22, "no reachable authority")])
    yield "tc", reply(q, tc=True)
    yield "referral", reply(q, authority=[("example.com.", 3600, "IN", "NS", "ns1.example.com.", "ns2.example.com.")],
                            additional=[("ns1.example.com.", 3600, "IN", "A", "192.0.2.53"),
                                        ("ns2.example.com.", 3600, "IN", "AAAA", "2001:db8::53")])
    yield "additional-after-opt", reply(qe, answer=[("www.example.com.", 300, "IN", "A", "192.0.2.1")],
                                        additional=[("ns1.example.com.", 3600, "IN", "A", "192.0.2.53")], edns=0)
    qmx = query("example.com.", "MX", qid=7)
    yield "mx-compressed", reply(qmx, answer=[("example.com.", 300, "IN", "MX", "10 mail.example.com.",
                                               "20 mail2.example.com.")],
                                 additional=[("mail.example.com.", 300, "IN", "A", "192.0.2.25")])
    chain = [("www.example.com.", 300, "IN", "CNAME", "c1.example.net.")]
    for i in range(1, 18):
        chain.append((f"c{i}.example.net.", 300, "IN", "CNAME", f"c{i + 1}.example.net."))
    yield "chain-overflow", reply(q, answer=chain)
    big = reply(qe, answer=[("www.example.com.", 300, "IN", "TXT", " ".join(['"' + "x" * 200 + '"'] * 3))] * 1,
                edns=0)
    yield "big-txt", big


def yaml_seeds():
    def read(p):
        with open(os.path.join(ROOT, p), "rb") as f:
            return f.read()
    cfg = read("config/embargo.yaml")
    yield "fuzz_config", "bundled", cfg
    yield "fuzz_config", "fixture", read("tests/fuzz/data/embargo.yaml").replace(
        b"../../../config/policies/kaspersky.yaml\n  - acme.yaml", b"policies/")
    yield "fuzz_config", "full", b"""listen: [127.0.0.1:5335, "[::1]:5335"]
upstreams:
  - 192.0.2.1
  - "[2001:db8::1]:5300"
  - tls://9.9.9.9:853#dns.quad9.net
  - address: tls://[2620:fe::fe]:853#dns.quad9.net
    pin-sha256: "Kq2DbxE1Xj9OyQ5VCKw3Y2y3WYk8E6YbXm7b6zC8Qmg="
tls-ca: /etc/ssl/certs/ca-certificates.crt
tls:
  listen: ["0.0.0.0:853"]
  certificate: /etc/embargo/dot.pem
  key: /etc/embargo/dot.key
timeout: 1500ms
cache: {entries: 100000, min-ttl: 0, max-ttl: 1d, stale-max: 1h}
sinkhole: {ipv4: 0.0.0.0, ipv6: "::", ttl: 300}
policies: [policies/]
groups:
  - name: security-lab
    networks: [10.66.0.0/16, "fd00:66::/32"]
    exempt: [acme, acme/web]
log: {queries: all, format: text, file: /var/log/embargo/queries.log}
access: [127.0.0.0/8, "::1/128", 10.0.0.0/8, "fc00::/7"]
workers: auto
http: 127.0.0.1:9153
exposure-clients: 10000
user: embargo
state-file: /var/lib/embargo/state
hide-version: true
"""
    yield "fuzz_config", "errors", b"""listen: [127.0.0.1:99999, "[::1"]
timeout: 15OOms
cache: {min-ttl: 10, max-ttl: 5, bogus: 1}
groups:
  - name: x
    networks: [10.0.0.1/8]
    exempt: [nobody/nothing]
log: {queries: loud}
listen: []
"""
    yield "fuzz_policy", "kaspersky", read("config/policies/kaspersky.yaml")
    yield "fuzz_policy", "acme", read("tests/fuzz/data/acme.yaml")
    yield "fuzz_policy", "errors", b"""vendor: Bad_Id
ede: 70000
rules:
  - id: r
    effective: 2024-13-01
    until: 2024-01-01T00:00:00Z
    action: explode
    domains: [a..b, "-", "x" ]
  - id: r
    effective: 2024-01-01
    action: refuse
    hosts: [&a foo.example, *a]
allow: {}
"""


def frames():
    q1 = query("www.example.com.").to_wire()
    q2 = query("store.kaspersky.com.", edns=0, do=True).to_wire()
    f = lambda m: struct.pack("!H", len(m)) + m
    yield "one", f(q1)
    yield "pipelined", f(q1) + f(q2) + f(q1)
    yield "partial-tail", f(q1) + f(q2)[:7]
    yield "short-frame", f(q1) + b"\x00\x05hello"
    yield "zero-frame", b"\x00\x00" + f(q1)
    yield "length-only", b"\x01\x00"


def lists():
    yield "names", b"\x00# tracker list\nads.example.com\n*.telemetry.example.net.\n\nBAD..name\n"
    yield "hosts", b"\x01# hosts\n127.0.0.1 localhost\n0.0.0.0 ads.example.com tracker.example.com # x\n:: ipv6.example.org\n"
    yield "rpz", (b"\x00$ORIGIN rpz.example.\n$TTL 300\n@ SOA ns.rpz.example. admin.rpz.example. 1 3600 600 86400 300\n"
                  b"@ NS ns.rpz.example.\nbad.example CNAME .\n*.bad.example CNAME .\nnodata.example CNAME *.\n"
                  b"ok.example CNAME rpz-passthru.\nsink.example A 0.0.0.0\n32.1.2.0.192.rpz-ip CNAME .\n")
    yield "rpz-allow", b"\x02$ORIGIN allow.example.\n@ SOA a. b. 1 2 3 4 5\nok.example CNAME rpz-passthru.\n*.ok.example CNAME rpz-passthru.\n"
    yield "crlf", b"\x01a.example\r\nb.example\r\n"


def main():
    for name, q in queries():
        out("fuzz_query", name, q.to_wire(max_size=65535))
    for name, data in raw_queries():
        out("fuzz_query", name, data)
    for name, r in replies():
        w = r.to_wire(max_size=65535)
        out("fuzz_reply", name, b"\x00" + w)
        out("fuzz_reply", name + "-do-tcp", b"\x28" + w)
    for target, name, data in yaml_seeds():
        out(target, name, data)
    for name, data in frames():
        out("fuzz_tcp_frame", name, data)
    for name, data in lists():
        out("fuzz_listfile", name, data)
    return 0


if __name__ == "__main__":
    sys.exit(main())
