"""`embargo check` with an `rpz:` mapping: one summary line about the zone
served to the fleet, and rpz errors as file:line:col like every other key."""
import re

SECRET = "c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0IQ=="


def test_rpz_summary_line(embargo, write):
    cfgp = write("embargo.yaml", f"""\
listen: ["127.0.0.1:5399"]
rpz:
  zone: RPZ.Embargo
  listen: ["127.0.0.1:5354", "::1"]
  allow-transfer: [10.0.0.0/8]
  tsig:
    - name: fleet-key
      algorithm: hmac-sha512
      secret: "{SECRET}"
  notify: [10.0.0.2]
  ttl: 60
""")
    r = embargo("check", "-c", cfgp)
    assert r.returncode == 0, r.stderr
    line = [l for l in r.stdout.splitlines() if l.startswith("rpz:")]
    assert line == ["rpz: zone rpz.embargo., ttl 60, on 127.0.0.1:5354, [::1]:5354; "
                    "transfers from 10.0.0.0/8 signed with fleet-key. (hmac-sha512); "
                    "notify 10.0.0.2:53"], r.stdout


def test_no_rpz_no_line(embargo, write):
    cfgp = write("embargo.yaml", 'listen: ["127.0.0.1:5399"]\n')
    r = embargo("check", "-c", cfgp)
    assert r.returncode == 0, r.stderr
    assert not any(l.startswith("rpz:") for l in r.stdout.splitlines())


def test_rpz_errors_have_positions(embargo, write):
    cfgp = write("embargo.yaml", f"""\
rpz:
  listen: [nowhere]
  tsig:
    - name: k
      algorithm: hmac-md5
      secret: "{SECRET}"
""")
    r = embargo("check", "-c", cfgp)
    assert r.returncode == 1
    assert re.search(re.escape(cfgp) + r":2:12: rpz.listen: bad address", r.stderr), r.stderr
    assert re.search(re.escape(cfgp) + r':5:18: rpz.tsig.algorithm: unknown algorithm "hmac-md5"',
                     r.stderr), r.stderr
    assert re.search(re.escape(cfgp) + r':2:3: missing required key "zone"', r.stderr), r.stderr
