"""`embargo rpz`: the bundled policy as a Response Policy Zone, checked by
BIND's named-checkzone and Knot's kzonecheck, either side of the cutoffs."""
import os
import pathlib
import re
import shutil
import subprocess

import pytest

SRC = pathlib.Path(os.environ.get("EMBARGO_SRC", pathlib.Path(__file__).resolve().parent.parent.parent))

CUTOFF = "2024-09-29T04:00:00Z"   # kaspersky/updates and the rest take effect
CUTOFF_UNIX = 1727582400
SALES_UNIX = 1721448000           # 2024-07-20T00:00:00-04:00


def rpz(embargo, *args):
    r = embargo("rpz", *args)
    assert r.returncode == 0, r.stderr
    return r.stdout


def records(text):
    """(owner, type, rdata) of every record line, comments dropped."""
    out = []
    for line in text.splitlines():
        if not line or line.startswith((";", "$")):
            continue
        fields = line.split(";", 1)[0].split("\t")
        out.append((fields[0], fields[3], fields[4].strip()))
    return out


def owners(text):
    return {o for o, _, _ in records(text)}


@pytest.fixture
def zonefile(tmp_path):
    def _write(text):
        p = tmp_path / "rpz.zone"
        p.write_text(text)
        return str(p)
    return _write


@pytest.mark.parametrize("at", ["2024-07-01", "2024-09-28", CUTOFF, "2025-06-01"])
def test_named_checkzone_and_kzonecheck_accept(embargo, bundled, zonefile, at):
    path = zonefile(rpz(embargo, "-c", bundled, "--at", at))
    r = subprocess.run(["named-checkzone", "-k", "fail", "-n", "fail", "rpz.embargo", path],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "OK" in r.stdout
    r = subprocess.run(["kzonecheck", "-o", "rpz.embargo.", path],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stdout + r.stderr


def test_update_hosts_only_after_cutoff(embargo, bundled):
    before = rpz(embargo, "-c", bundled, "--at", "2024-09-29T03:59:59Z")
    after = rpz(embargo, "-c", bundled, "--at", CUTOFF)
    for name in ["upd.kaspersky.com.rpz.embargo.", "*.upd.kaspersky.com.rpz.embargo.",
                 "*.geo.kaspersky.com.rpz.embargo.", "ds.kaspersky.com.rpz.embargo."]:
        assert name not in owners(before)
        assert name in owners(after)
    recs = records(after)
    assert ("*.upd.kaspersky.com.rpz.embargo.", "A", "0.0.0.0") in recs
    assert ("*.upd.kaspersky.com.rpz.embargo.", "AAAA", "::") in recs
    # a host entry is its name only
    assert "*.ds.kaspersky.com.rpz.embargo." not in owners(after)
    # services: nxdomain
    assert ("*.ksc.kaspersky.com.rpz.embargo.", "CNAME", ".") in recs
    # sales is in force on both sides: refuse served as NXDOMAIN
    for text in (before, after):
        assert ("store.kaspersky.com.rpz.embargo.", "CNAME", ".") in records(text)
    # before July nothing blocks: only the allow list
    early = rpz(embargo, "-c", bundled, "--at", "2024-07-01")
    assert {t for _, t, r in records(early) if t == "CNAME"} <= {"CNAME"}
    assert all(r == "rpz-passthru." for _, t, r in records(early) if t == "CNAME")


def test_audit_rules_absent(embargo, bundled):
    out = rpz(embargo, "-c", bundled, "--at", "2025-01-01")
    # vendor-web audits kaspersky.com and friends: never a trigger
    for name in ["kaspersky.com", "kaspersky-labs.com", "kaspersky.ru", "kaspersky.co.uk"]:
        assert name + ".rpz.embargo." not in owners(out)
        assert "*." + name + ".rpz.embargo." not in owners(out)
    assert "vendor-web" not in out


def test_comments_name_rule_and_basis(embargo, bundled):
    out = rpz(embargo, "-c", bundled, "--at", CUTOFF)
    basis = "U.S. Commerce BIS Final Determination ICTS-2021-002 (89 FR 52434)"
    line = next(l for l in out.splitlines() if l.startswith("*.upd.kaspersky.com.rpz.embargo.\t"))
    assert line.endswith("; kaspersky/updates: " + basis)
    line = next(l for l in out.splitlines() if l.startswith("store.kaspersky.com.rpz.embargo.\t"))
    assert "; kaspersky/sales: " + basis in line
    assert "RPZ has no REFUSED, NXDOMAIN is served" in line
    line = next(l for l in out.splitlines() if l.startswith("support.kaspersky.com.rpz.embargo.\t"))
    assert "\tCNAME\trpz-passthru.\t; kaspersky (allow): " in line
    # every trigger carries a comment
    for l in out.splitlines():
        if l and not l.startswith((";", "$")) and "\tSOA\t" not in l and "\tNS\t" not in l:
            assert "\t; kaspersky" in l, l


def test_options(embargo, bundled):
    out = rpz(embargo, "-c", bundled, "--at", CUTOFF, "--origin", "Fleet.Example",
              "--serial", "4294967295", "--ttl", "60")
    assert "$ORIGIN fleet.example.\n" in out
    soa = next(l for l in out.splitlines() if "\tSOA\t" in l)
    assert soa == "fleet.example.\t60\tIN\tSOA\tlocalhost. hostmaster.localhost. 4294967295 3600 600 86400 60"
    assert "upd.kaspersky.com.fleet.example.\t60\tIN\tA\t0.0.0.0\t; kaspersky/updates" in out


def serial_of(text):
    soa = next(l for l in text.splitlines() if "\tSOA\t" in l)
    return int(soa.split("\t")[4].split()[2])


def test_default_serial_grows_with_cutoffs_and_edits(embargo, tmp_path):
    pol = tmp_path / "policies"
    pol.mkdir()
    shutil.copy(SRC / "config" / "policies" / "kaspersky.yaml", pol / "kaspersky.yaml")
    conf = tmp_path / "embargo.yaml"
    conf.write_text("policies: [policies/]\n")
    old = 1704067200  # 2024-01-01: files older than every cutoff
    for p in (pol / "kaspersky.yaml", pol, conf):
        os.utime(p, (old, old))
    # the latest rule instant at or before --at
    assert serial_of(rpz(embargo, "-c", str(conf), "--at", "2024-09-28")) == SALES_UNIX
    assert serial_of(rpz(embargo, "-c", str(conf), "--at", CUTOFF)) == CUTOFF_UNIX
    assert serial_of(rpz(embargo, "-c", str(conf), "--at", "2025-01-01")) == CUTOFF_UNIX
    # an edit after the cutoff: the file's mtime
    later = CUTOFF_UNIX + 86400
    os.utime(pol / "kaspersky.yaml", (later, later))
    assert serial_of(rpz(embargo, "-c", str(conf), "--at", "2025-01-01")) == later
    # a removed file shows in its folder's mtime
    os.utime(pol, (later + 5, later + 5))
    assert serial_of(rpz(embargo, "-c", str(conf), "--at", "2025-01-01")) == later + 5


def test_origin_from_config(embargo, tmp_path):
    conf = tmp_path / "embargo.yaml"
    conf.write_text("policies: [%s]\nrpz:\n  zone: policy.fleet.example.\n  ttl: 120\n"
                    % (SRC / "config" / "policies"))
    out = rpz(embargo, "-c", str(conf), "--at", CUTOFF)
    assert "$ORIGIN policy.fleet.example.\n" in out
    assert "upd.kaspersky.com.policy.fleet.example.\t120\tIN\tA" in out
    # the command line wins
    out = rpz(embargo, "-c", str(conf), "--at", CUTOFF, "--origin", "other.example.")
    assert "$ORIGIN other.example.\n" in out


@pytest.mark.parametrize("args", [
    ["--origin", "a..b"], ["--origin", "."], ["--origin", "*.rpz.example"], ["--origin", ""],
    ["--at", "yesterday"], ["--at", "2024-13-01"], ["--serial", "-1"], ["--serial", "4294967296"],
    ["--serial", "12x"], ["--ttl", "2147483648"], ["--origin"], ["--bogus"], ["extra"],
])
def test_usage_errors_exit_2(embargo, bundled, args):
    r = embargo("rpz", "-c", bundled, *args)
    assert r.returncode == 2, (r.returncode, r.stdout, r.stderr)
    assert r.stdout == ""
    assert len(r.stderr.strip().splitlines()) == 1 and r.stderr.startswith("embargo:")


def test_invalid_config_exit_1(embargo, write):
    conf = write("embargo.yaml", "policies: [policies/]\n")
    write("policies/acme.yaml", "vendor: acme\nrules:\n  - id: x\n    effective: 2024-01-01\n"
                                "    action: explode\n    domains: [acme.example]\n")
    r = embargo("rpz", "-c", conf)
    assert r.returncode == 1
    assert re.search(r"acme\.yaml:\d+:\d+: ", r.stderr)


def test_help(embargo):
    r = embargo("rpz", "--help")
    assert r.returncode == 0
    assert "--serial N" in r.stdout and "only grows" in r.stdout
