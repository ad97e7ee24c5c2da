"""Time: `serve --at` before and after a cutoff (the same name is audited
and forwarded, then blocked), TIME formats, and a pinned clock that runs on
across a cutoff without restart (the timer switches the policy, and the
cache does not keep serving the forwarded answer)."""

import time

import dns.rcode
import pytest

from e2e_util import (BEFORE, CUTOFF, addresses, assert_edns_echo, assert_same_answer,
                      ede_options, kaspersky_ede_text, query)


@pytest.fixture(scope="module")
def before(module_embargo_factory):
    return module_embargo_factory(at=BEFORE)


@pytest.fixture(scope="module", params=[CUTOFF, "2024-09-29T00:00:00-04:00"],
                ids=["cutoff-utc", "cutoff-edt"])
def at_cutoff(module_embargo_factory, request):
    return module_embargo_factory(at=request.param)


@pytest.mark.parametrize("name,rdtype", [("dnl-07.geo.kaspersky.com.", "A"),
                                         ("dnl-07.geo.kaspersky.com.", "AAAA"),
                                         ("s01.upd.kaspersky.com.", "A"),
                                         ("x.ksc.kaspersky.com.", "A"),
                                         ("cloak.e2e.test.", "A")])
def test_before_cutoff_audited_names_are_forwarded(before, nsd, name, rdtype):
    r = before.udp(query(name, rdtype))
    assert_same_answer(r, nsd.query(name, rdtype), f"{name} at {BEFORE}")
    assert not ede_options(r), f"{name}: EDE on an audited (forwarded) answer\n{r}"


def test_before_cutoff_earlier_rule_already_blocks(before):
    """sales took effect in July: at BEFORE it is in force."""
    q = query("store.kaspersky.com.", "A")
    r = before.udp(q)
    assert r.rcode() == dns.rcode.REFUSED, f"\n{r}"
    assert_edns_echo(r, q, 16, kaspersky_ede_text("sales"), "store")


@pytest.mark.parametrize("name,rdtype,addr", [("dnl-07.geo.kaspersky.com.", "A", "0.0.0.0"),
                                              ("dnl-07.geo.kaspersky.com.", "AAAA", "::")])
def test_at_cutoff_same_name_is_blocked(at_cutoff, name, rdtype, addr):
    """effective is inclusive: at exactly 04:00:00Z the rule is in force."""
    q = query(name, rdtype)
    r = at_cutoff.udp(q)
    assert r.rcode() == dns.rcode.NOERROR
    assert addresses(r, r.question[0].rdtype) == [addr], f"at {at_cutoff.at}\n{r}"
    assert_edns_echo(r, q, 16, kaspersky_ede_text("updates"), name)


def test_at_cutoff_services_nxdomain(at_cutoff):
    r = at_cutoff.udp(query("x.ksc.kaspersky.com.", "A"))
    assert r.rcode() == dns.rcode.NXDOMAIN, f"at {at_cutoff.at}\n{r}"


def test_bare_date_is_midnight_utc(embargo_factory, nsd):
    """--at 2024-07-20 is 00:00Z, before sales (04:00Z): store is forwarded."""
    e = embargo_factory(at="2024-07-20")
    r = e.udp(query("store.kaspersky.com.", "A"))
    assert_same_answer(r, nsd.query("store.kaspersky.com.", "A"), "store at 2024-07-20")
    assert not ede_options(r)


def test_pinned_clock_runs_on_across_cutoff(embargo_factory, nsd):
    """--at 4 s before the cutoff: first forwarded (and cached), then, once
    the pinned clock passes 04:00:00Z, blocked by the same process."""
    lead = 4.0
    e = embargo_factory(at="2024-09-29T03:59:56Z")
    name = "dnl-07.geo.kaspersky.com."
    r = e.udp(query(name, "A"))
    elapsed = time.monotonic() - e.started_at
    if elapsed > lead - 0.5:
        pytest.skip(f"startup took {elapsed:.1f}s, too slow to query before the pinned cutoff")
    assert addresses(r) == ["192.0.2.7"], f"before the cutoff:\n{r}"
    assert not ede_options(r)

    deadline = e.started_at + lead + 3.0
    blocked_at = None
    while time.monotonic() < deadline:
        r = e.udp(query(name, "A"))
        if addresses(r) == ["0.0.0.0"]:
            blocked_at = time.monotonic() - e.started_at
            break
        assert addresses(r) == ["192.0.2.7"], f"\n{r}"
        time.sleep(0.1)
    assert blocked_at is not None, \
        f"still forwarded {lead + 3.0:.0f}s after a start pinned {lead:.0f}s before the cutoff"
    # It must not switch before the pinned clock reaches the cutoff.
    assert blocked_at >= lead - 0.3, f"blocked already {blocked_at:.2f}s after start"
    assert ede_options(r) and ede_options(r)[0].code == 16
