"""The clock floor: a wall clock that reads earlier than embargo's floor
(the build time, or the state file's saved or enforced instants) is not
believed, and enforcement runs on from the floor (fail closed). The wall
clock is faked with Debian's libfaketime; a pinned clock (--at) has no floor."""
import glob
import os
import subprocess
import time
from pathlib import Path

import pytest

from e2e_util import Embargo, addresses, ede_options, query, wait_ready

LIBFAKETIME = (glob.glob("/usr/lib/*/faketime/libfaketime.so.1") or [None])[0]
pytestmark = pytest.mark.skipif(LIBFAKETIME is None, reason="libfaketime not installed")

FUTURE_POLICY = """\
vendor: future
basis: a ban that starts in 2029
rules:
  - id: later
    effective: 2029-01-01T00:00:00Z
    action: refuse
    domains: [www.e2e.test]
"""


class FakedEmbargo(Embargo):
    """embargo serve under faketime: the wall clock reads `wall`."""

    def __init__(self, *a, wall, **kw):
        super().__init__(*a, **kw)
        self.wall = wall

    def spawn(self):
        # preloaded into embargo itself (the faketime wrapper would stand
        # between embargo and the test's signals)
        env = dict(os.environ, LD_PRELOAD=LIBFAKETIME, FAKETIME="@" + self.wall,
                   FAKETIME_DONT_FAKE_MONOTONIC="1")
        # ASan must come first among the libraries; faketime preloads itself
        env["ASAN_OPTIONS"] = env.get("ASAN_OPTIONS", "") + ":verify_asan_link_order=0"
        self._err = open(self.stderr_path, "wb")
        self._out = open(self.stdout_path, "wb")
        self.started_at = time.monotonic()
        self.proc = subprocess.Popen(self.argv(), stdout=self._out, stderr=self._err,
                                     stdin=subprocess.DEVNULL, env=env)
        return self


@pytest.fixture
def faked(tmp_path, nsd):
    made = []

    def start(wall, state=None, policies=None, name="faked"):
        d = tmp_path / name
        d.mkdir()
        extra = ""
        if state is not None:
            extra = f"state-file: {state}\n"
        e = FakedEmbargo(d, [nsd.addr], policies=policies, extra_config=extra, name=name,
                         wall=wall)
        made.append(e)
        e.start()
        return e

    yield start
    for e in made:
        e.stop_and_check()


def test_1970_wall_clock_enforces_as_of_build_time(faked):
    e = faked("1970-01-02 00:00:00")
    r = e.udp(query("s01.upd.kaspersky.com.", "A"))
    assert addresses(r) == ["0.0.0.0"], f"a 1970 clock switched the ban off:\n{r}"
    assert ede_options(r)[0].code == 16
    assert "earlier than the clock floor" in e.stderr_path.read_text()


def test_state_file_floor_and_its_update(faked, tmp_path):
    pol = tmp_path / "future.yaml"
    pol.write_text(FUTURE_POLICY)
    kasp = Path(os.environ.get("EMBARGO_SRC", Path(__file__).parents[2])) / "config/policies"
    state = tmp_path / "state"
    # without a state file the 2029 rule only audits: forwarded
    e = faked("2027-01-01 00:00:00", state=state, policies=[str(pol), str(kasp)], name="a")
    assert addresses(e.udp(query("www.e2e.test.", "A"))) == ["192.0.2.1"]
    e.stop_and_check()
    text = state.read_text()
    assert text.startswith("embargo-state 1\n")
    assert "saved-at 2027-01-01T00:0" in text
    assert "enforced 2024-09-29T04:00:00Z" in text  # the newest cutoff in force

    # a state saved in 2030: a wall clock reading 2027 is not believed
    state.write_text("embargo-state 1\nsaved-at 2030-01-01T00:00:00Z\nenforced 2029-01-01T00:00:00Z\n")
    e = faked("2027-01-01 00:00:00", state=state, policies=[str(pol), str(kasp)], name="b")
    r = e.udp(query("www.e2e.test.", "A"))
    assert r.rcode() == 5, f"the 2029 rule is not enforced under a 2030 floor:\n{r}"
    assert "clock floor 2030-01-01T00:00:00Z" in e.stderr_path.read_text()


def test_bad_state_file_is_ignored_with_a_warning(faked, tmp_path):
    state = tmp_path / "state"
    state.write_text("this is not it\n")
    e = faked("1970-01-02 00:00:00", state=state)
    assert addresses(e.udp(query("s01.upd.kaspersky.com.", "A"))) == ["0.0.0.0"]
    assert "ignoring the state" in e.stderr_path.read_text()


def test_pinned_clock_has_no_floor(embargo_factory, tmp_path):
    state = tmp_path / "state"
    state.write_text("embargo-state 1\nsaved-at 2030-01-01T00:00:00Z\nenforced 2029-01-01T00:00:00Z\n")
    e = embargo_factory(at="2024-09-28T00:00:00Z", extra_config=f"state-file: {state}\n")
    r = e.udp(query("dnl-07.geo.kaspersky.com.", "A"))
    assert addresses(r) == ["192.0.2.7"], f"--at before the cutoff must preview it:\n{r}"
    e.stop_and_check()
    assert "2030-01-01" in state.read_text(), "a pinned clock wrote the state"
