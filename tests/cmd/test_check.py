"""`embargo check`: the bundled config passes; broken files fail with
file:line:col on stderr and exit 1; usage errors exit 2."""
import re

CONFIG = """\
listen: ["127.0.0.1:5399"]
policies: [policies/]
"""

POLICY = """\
vendor: acme
rules:
  - id: updates
    effective: 2024-09-29T04:00:00Z
    action: nxdomain
    domains: [upd.acme.example]
"""


def test_bundled_config_is_valid(embargo, bundled):
    r = embargo("check", "-c", bundled, "--at", "2024-09-01T00:00:00Z")
    assert r.returncode == 0, r.stderr
    assert "valid" in r.stdout
    assert "vendor kaspersky" in r.stdout
    # every rule of the bundled policy with its action and instant
    assert re.search(r"rule sales\s+refuse\s+effective 2024-07-20T04:00:00Z", r.stdout)
    assert re.search(r"rule updates\s+sinkhole\s+effective 2024-09-29T04:00:00Z", r.stdout)
    # the next change after 2024-09-01 is the updates cutoff
    assert re.search(r"2024-09-29T04:00:00Z:.*kaspersky/updates takes effect", r.stdout)


def test_after_every_cutoff_nothing_changes(embargo, bundled):
    r = embargo("check", "-c", bundled, "--at", "2026-01-01")
    assert r.returncode == 0, r.stderr
    assert "none" in r.stdout.split("next changes")[1]


def test_bad_policy_names_file_line_col(embargo, write):
    cfgp = write("embargo.yaml", CONFIG)
    pol = write("policies/acme.yaml", POLICY.replace("action: nxdomain", "action: explode"))
    r = embargo("check", "-c", cfgp)
    assert r.returncode == 1
    assert re.search(re.escape(pol) + r":5:13: .*explode", r.stderr), r.stderr
    assert r.stdout == ""


def test_bad_config_reports_every_error(embargo, write):
    cfgp = write("embargo.yaml", 'listen: ["127.0.0.1:99999"]\ntimeout: 15OOms\nbogus: 1\npolicies: [policies/]\n')
    write("policies/acme.yaml", POLICY)
    r = embargo("check", "-c", cfgp)
    assert r.returncode == 1
    lines = [l for l in r.stderr.splitlines() if l.startswith(cfgp + ":")]
    assert any(l.startswith(cfgp + ":1:") for l in lines), r.stderr
    assert any(l.startswith(cfgp + ":2:10:") for l in lines), r.stderr
    assert any(l.startswith(cfgp + ":3:1:") and "bogus" in l for l in lines), r.stderr


def test_until_before_effective(embargo, write):
    cfgp = write("embargo.yaml", CONFIG)
    pol = write("policies/acme.yaml", POLICY.replace(
        "    action: nxdomain\n", "    until: 2024-01-01\n    action: nxdomain\n"))
    r = embargo("check", "-c", cfgp)
    assert r.returncode == 1
    assert re.search(re.escape(pol) + r":5:12: ", r.stderr), r.stderr


def test_missing_config_file(embargo, tmp_path):
    r = embargo("check", "-c", str(tmp_path / "nope.yaml"))
    assert r.returncode == 1
    assert "nope.yaml" in r.stderr


def test_usage_errors_exit_2(embargo):
    for args in (["check", "--bogus"], ["check", "extra"], ["frobnicate"],
                 ["check", "--at", "yesterday"], ["explain"],
                 ["explain", "a.example", "b.example"], ["explain", "x..example"],
                 ["explain", "a.example", "--type", "NOSUCHTYPE"],
                 ["explain", "a.example", "--client", "300.1.1.1"]):
        r = embargo(*args)
        assert r.returncode == 2, (args, r.stdout, r.stderr)
        assert len(r.stderr.strip().splitlines()) == 1, (args, r.stderr)
        assert r.stderr.startswith("embargo: ")


def test_version_and_help(embargo):
    r = embargo("--version")
    assert r.returncode == 0 and re.match(r"embargo \d+\.\d+\.\d+", r.stdout)
    for cmd in (["--help"], ["check", "--help"], ["explain", "--help"], ["serve", "--help"]):
        r = embargo(*cmd)
        assert r.returncode == 0 and r.stdout.startswith("usage: embargo"), cmd


def test_tls_certificate_is_checked(embargo, write, tmp_path):
    import subprocess
    cert, key = tmp_path / "dot.pem", tmp_path / "dot.key"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                    "-subj", "/CN=dot.test", "-keyout", str(key), "-out", str(cert)],
                   check=True, capture_output=True)
    good = write("good.yaml", f'tls:\n  listen: ["127.0.0.1:8853"]\n  certificate: {cert}\n  key: {key}\n')
    r = embargo("check", "-c", good)
    assert r.returncode == 0, r.stderr
    # a key that is not a key: serve would not start, so check says so
    bad = write("bad.yaml", f'tls:\n  listen: ["127.0.0.1:8853"]\n  certificate: {cert}\n  key: {cert}\n')
    r = embargo("check", "-c", bad)
    assert r.returncode == 1
    assert r.stderr.startswith(bad + ": tls: "), r.stderr
