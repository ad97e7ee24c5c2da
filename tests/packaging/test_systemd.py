"""packaging/systemd/embargo.service: systemd itself checks the unit
(`systemd-analyze verify`, with ExecStart pointed at the built binary, since
verify wants the binary to exist) and rates its sandbox
(`systemd-analyze security --offline`)."""
import configparser
import re
import shutil
import subprocess

import pytest

from conftest import BIN, PACKAGING

UNIT = PACKAGING / "systemd" / "embargo.service"

needs_analyze = pytest.mark.skipif(not shutil.which("systemd-analyze"),
                                   reason="systemd-analyze missing (Debian package systemd)")


def unit_with_binary(tmp_path, text=None):
    """A copy of the unit whose ExecStart runs the built binary."""
    text = (text or UNIT.read_text()).replace("/usr/local/bin/embargo", BIN)
    path = tmp_path / "embargo.service"
    path.write_text(text)
    return path


def verify(path):
    r = subprocess.run(["systemd-analyze", "verify", str(path)], capture_output=True, text=True,
                       timeout=60)
    # verify exits 0 for unknown keys and bad values ("..., ignoring"): what it
    # says about this unit is the verdict. Lines about other units are not ours.
    ours = [l for l in r.stderr.splitlines() if path.name in l or str(path) in l]
    return r.returncode, ours


def directives():
    cp = configparser.ConfigParser(strict=False, interpolation=None, delimiters=("=",))
    cp.optionxform = str
    cp.read_string(UNIT.read_text())
    return cp


@needs_analyze
def test_unit_verifies(tmp_path):
    rc, complaints = verify(unit_with_binary(tmp_path))
    assert rc == 0 and complaints == [], complaints


@needs_analyze
def test_verify_would_catch_a_mistake(tmp_path):
    """The check above is not vacuous: a misspelt key and a bad value are reported."""
    text = UNIT.read_text().replace("ProtectHome=yes", "ProtectHme=yes") \
                           .replace("ProtectSystem=strict", "ProtectSystem=sometimes")
    rc, complaints = verify(unit_with_binary(tmp_path, text))
    assert any("ProtectHme" in l for l in complaints), complaints
    assert any("sometimes" in l or "ProtectSystem" in l for l in complaints), complaints


@needs_analyze
def test_unit_is_well_sandboxed(tmp_path):
    r = subprocess.run(["systemd-analyze", "security", "--offline=yes", "--no-pager",
                        str(unit_with_binary(tmp_path))], capture_output=True, text=True, timeout=60)
    m = re.search(r"Overall exposure level for \S+: (\d+\.\d+)", r.stdout)
    assert m, r.stdout + r.stderr
    assert float(m.group(1)) <= 2.0, r.stdout   # systemd's scale: 0 (best) .. 10; <= 2 is "OK"


def test_hardening_directives():
    s = directives()["Service"]
    assert s["ExecStart"] == "/usr/local/bin/embargo serve -c /etc/embargo/embargo.yaml"
    assert s["ExecReload"] == "/bin/kill -HUP $MAINPID"
    assert s["Restart"] == "on-failure"
    assert s["DynamicUser"] == "yes" and s["StateDirectory"] == "embargo"
    assert s["CapabilityBoundingSet"] == "CAP_NET_BIND_SERVICE"
    assert s["AmbientCapabilities"] == "CAP_NET_BIND_SERVICE"
    for key in ("NoNewPrivileges", "ProtectHome", "PrivateTmp", "PrivateDevices",
                "ProtectKernelTunables", "ProtectKernelModules", "ProtectKernelLogs",
                "MemoryDenyWriteExecute", "LockPersonality", "RestrictNamespaces"):
        assert s[key] == "yes", key
    assert s["ProtectSystem"] == "strict"
    assert set(s["RestrictAddressFamilies"].split()) == {"AF_INET", "AF_INET6", "AF_UNIX", "AF_NETLINK"}
    assert "@system-service" in UNIT.read_text()
    # a user namespace would void CAP_NET_BIND_SERVICE for the host's network
    assert "PrivateUsers" not in s
    assert directives()["Install"]["WantedBy"] == "multi-user.target"
