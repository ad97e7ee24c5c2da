"""`embargo check` and `embargo explain` on a policy that takes names from list
files: a hosts file, a plain list, an RPZ zone and an allow list."""
import json

import pytest

HOSTS = (
    "# a published blocklist\r\n"
    "127.0.0.1 localhost\r\n"
    "::1 ip6-localhost ip6-loopback\r\n"
    "0.0.0.0 0.0.0.0\r\n"
    "0.0.0.0 ads.example.com tracker.example.com  # two on one line\r\n"
    "0.0.0.0 dup.example.org\r\n"
    "0.0.0.0 ads.example.com"           # a repeat, and no final newline
)
PLAIN = "# names\nmetrics.example.net.\n*.cdn.example.net\n"
ZONE = """$TTL 300
$ORIGIN rpz.local.
@ IN SOA localhost. root.localhost. (1 3600 600 86400 60)
  IN NS localhost.
both.example CNAME .
*.both.example CNAME .
bare.example A 0.0.0.0
pass.example CNAME rpz-passthru.
24.0.2.0.192.rpz-ip CNAME .
"""
ALLOW = "keep.ads.example.com\n"
POLICY = """vendor: acme
name: Acme Corp
rules:
  - id: ads
    effective: 2024-01-01T00:00:00Z
    action: nxdomain
    hosts: [dup.example.org]
    hosts-file: lists/hosts.txt
    domains-file: [lists/plain.txt, lists/zone.rpz]
allow-file: lists/allow.txt
"""


@pytest.fixture
def conf(write):
    write("policies/lists/hosts.txt", HOSTS)
    write("policies/lists/plain.txt", PLAIN)
    write("policies/lists/zone.rpz", ZONE)
    write("policies/lists/allow.txt", ALLOW)
    write("policies/acme.yaml", POLICY)
    return write("embargo.yaml", "listen: [127.0.0.1:5399]\nupstreams: [127.0.0.1:5300]\n"
                                 "policies: [policies/]\n")


def test_check_lists_and_warnings(embargo, conf, tmp_path):
    r = embargo("check", "-c", conf, "--at", "2025-01-01")
    assert r.returncode == 0, r.stderr
    lists = tmp_path / "policies" / "lists"
    assert f"list:  {lists}/hosts.txt  (hosts, 2 names)" in r.stdout
    assert f"list:  {lists}/plain.txt  (names, 2 names)" in r.stdout
    assert f"list:  {lists}/zone.rpz  (rpz, 2 names)" in r.stdout
    assert f"list:  {lists}/allow.txt  (names, 1 names)" in r.stdout
    # YAML: 1 host; hosts.txt: 2 hosts; plain: 2 domains; zone: 1 domain, 1 host
    assert "3 domains, 4 hosts  (in force)" in r.stdout
    err = r.stderr.splitlines()
    assert (f"{lists}/hosts.txt:6:9: warning: duplicate host \"dup.example.org\" "
            f"(first at {tmp_path}/policies/acme.yaml:7:13, rule ads): ignored") in err
    assert (f"{lists}/hosts.txt:7:9: warning: duplicate host \"ads.example.com\" "
            f"(first at {lists}/hosts.txt:5:9, rule ads): ignored") in err
    assert (f"{lists}/zone.rpz:8:1: warning: \"pass.example\": rpz-passthru does not "
            "block: skipped") in err
    assert (f"{lists}/zone.rpz:9:1: warning: \"24.0.2.0.192.rpz-ip\": rpz-ip triggers are "
            "not supported (only QNAME triggers): skipped") in err
    assert len(err) == 4, r.stderr


@pytest.mark.parametrize("name,kind,entry,where", [
    ("ads.example.com", "host", "ads.example.com", "hosts.txt:5:9"),
    ("tracker.example.com", "host", "tracker.example.com", "hosts.txt:5:25"),
    ("metrics.example.net", "domain", "metrics.example.net", "plain.txt:2:1"),
    ("a.b.cdn.example.net", "domain", "cdn.example.net", "plain.txt:3:1"),
    ("x.both.example", "domain", "both.example", "zone.rpz:6:1"),
    ("bare.example", "host", "bare.example", "zone.rpz:7:1"),
])
def test_explain_names_from_lists(embargo, conf, tmp_path, name, kind, entry, where):
    r = embargo("explain", "-c", conf, name, "--at", "2025-01-01")
    assert r.returncode == 0, r.stderr
    assert "verdict: block" in r.stdout
    file, line, col = where.split(":")
    assert (f"entry:   {kind} {entry} ({tmp_path}/policies/lists/{file}:{line}:{col})"
            in r.stdout), r.stdout
    assert "rule:    ads, action nxdomain" in r.stdout
    j = json.loads(embargo("explain", "-c", conf, name, "--at", "2025-01-01", "--json").stdout)
    assert j["entry_file"] == f"{tmp_path}/policies/lists/{file}"
    assert j["entry_line"] == int(line)


def test_explain_what_lists_leave_alone(embargo, conf, tmp_path):
    def verdict(name):
        r = embargo("explain", "-c", conf, name, "--at", "2025-01-01", "--json")
        assert r.returncode == 0, r.stderr
        return json.loads(r.stdout)
    # an exact host from a hosts file does not cover names below it
    assert verdict("sub.ads.example.com")["verdict"] == "pass"
    # the skipped rpz-passthru trigger, and the hosts file's localhost
    assert verdict("pass.example")["verdict"] == "pass"
    assert verdict("localhost")["verdict"] == "pass"
    # a bare RPZ name is exact; the allow-file's entry wins below a host
    assert verdict("x.bare.example")["verdict"] == "pass"
    j = verdict("keep.ads.example.com")
    assert j["verdict"] == "pass" and j["allowed_by"] == "acme"
    assert j["entry_file"] == f"{tmp_path}/policies/lists/allow.txt"


def test_check_list_errors(embargo, write, tmp_path):
    write("policies/bad.txt", "ok.example\n0.0.0.0 not-a-name-list.example\nbad_-.example\n")
    write("policies/acme.yaml", POLICY.replace("hosts-file: lists/hosts.txt",
                                               "hosts-file: [bad.txt, lists/missing.txt]")
          .replace("domains-file: [lists/plain.txt, lists/zone.rpz]\n", "")
          .replace("allow-file: lists/allow.txt\n", ""))
    conf = write("embargo.yaml", "policies: [policies/]\n")
    r = embargo("check", "-c", conf)
    assert r.returncode == 1
    p = tmp_path / "policies"
    assert r.stderr.splitlines() == [
        f"{p}/bad.txt:2:9: expected one name per line, found \"not-a-name-list.example\" "
        "after \"0.0.0.0\"",
        f"{p}/bad.txt:3:1: bad name \"bad_-.example\": label ends with '-'",
        f"{p}/acme.yaml:8:27: {p}/lists/missing.txt: cannot read: No such file or directory",
        f"embargo: {conf}: invalid",
    ]
