"""packaging/openwrt/embargo.init: a procd init script. There is no OpenWrt
here, so the script is checked for syntax and then run with procd's shell
functions replaced by recorders: what it asks procd to do is what is tested."""
import subprocess

from conftest import PACKAGING

INIT = PACKAGING / "openwrt" / "embargo.init"

STUBS = r"""
procd_open_instance() { echo "open_instance $*"; }
procd_set_param() { echo "set_param $*"; }
procd_close_instance() { echo "close_instance"; }
procd_send_signal() { echo "send_signal $*"; }
procd_add_interface_trigger() { echo "interface_trigger $*"; }
"""


def run_init(*calls):
    script = STUBS + f". {INIT}\n" + "\n".join(calls) + "\necho START=$START USE_PROCD=$USE_PROCD\n"
    r = subprocess.run(["sh", "-eu", "-c", script], capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r.stderr
    return r.stdout.splitlines()


def test_shell_syntax():
    r = subprocess.run(["sh", "-n", str(INIT)], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert INIT.read_text().startswith("#!/bin/sh /etc/rc.common\n")


def test_start_service_runs_embargo_serve_under_procd():
    out = run_init("start_service")
    assert out[0] == "open_instance "
    assert "set_param command /usr/sbin/embargo serve -c /etc/embargo/embargo.yaml" in out
    assert "set_param respawn 3600 5 5" in out
    assert "set_param stdout 1" in out and "set_param stderr 1" in out
    assert "set_param reload_signal HUP" in out
    assert out.index("close_instance") > out.index("set_param stderr 1")
    assert out[-1] == "START=50 USE_PROCD=1"


def test_reload_sends_hup():
    assert run_init("reload_service")[0] == "send_signal embargo * HUP"


def test_restarts_when_lan_comes_up():
    assert run_init("service_triggers")[0] == \
        "interface_trigger interface.*.up lan /etc/init.d/embargo restart"


def test_readme_points_fw4_at_a_top_level_include():
    text = (PACKAGING / "openwrt" / "README.md").read_text()
    assert "embargo firewall" in text
    assert "/usr/share/nftables.d/ruleset-post/embargo.nft" in text
    assert "/etc/embargo/embargo.yaml" in text
