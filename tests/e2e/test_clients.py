"""Who may ask, and groups: clients outside `access` are refused (EDE 18),
so a router never becomes an open resolver; a group's exempt vendor/rule is
forwarded for its networks and counted as exempt, while other clients stay
blocked. Other clients are other loopback source addresses."""
import json

import dns.query
import dns.rcode

from e2e_util import AFTER, addresses, ede_options, query
from test_http import get, start


def ask(e, name, source, tcp=False):
    q = query(name, "A")
    if tcp:
        return dns.query.tcp(q, e.host, port=e.port, timeout=3, source=source)
    return dns.query.udp(q, e.host, port=e.port, timeout=3, source=source)


def test_access_list_refuses_outside_clients(embargo_factory):
    e = embargo_factory(at=AFTER, extra_config='access: ["127.0.0.1/32", "::1/128"]\n')
    for tcp in (False, True):
        r = ask(e, "www.e2e.test.", "127.0.0.2", tcp)
        assert r.rcode() == dns.rcode.REFUSED, r
        assert [o.code for o in ede_options(r)] == [18], r  # Prohibited
        r = ask(e, "s01.upd.kaspersky.com.", "127.0.0.2", tcp)
        assert r.rcode() == dns.rcode.REFUSED and not r.answer, "a block answer leaked to an outsider"
        r = ask(e, "www.e2e.test.", "127.0.0.1", tcp)
        assert addresses(r) == ["192.0.2.1"], r


def test_group_exemption_forwards_and_counts(embargo_factory):
    e = start(embargo_factory, at=AFTER, more=(
        "groups:\n"
        "  - name: lab\n"
        "    networks: [127.0.0.3/32]\n"
        "    exempt: [kaspersky/updates]\n"))
    # the lab gets the upstream's answer for an update host
    r = ask(e, "s01.upd.kaspersky.com.", "127.0.0.3")
    assert addresses(r) == ["192.0.2.8"] and not ede_options(r), r
    # only updates is exempt: the store stays refused for the lab
    r = ask(e, "store.kaspersky.com.", "127.0.0.3")
    assert r.rcode() == dns.rcode.REFUSED and ede_options(r), r
    # everybody else is blocked
    r = ask(e, "s01.upd.kaspersky.com.", "127.0.0.1")
    assert addresses(r) == ["0.0.0.0"], r
    status, _, body = get(e.http + "/exposure")
    assert status == 200
    rows = {(c["client"], c["vendor"]): c for c in json.loads(body)["clients"]}
    lab = rows[("127.0.0.3", "kaspersky")]
    assert (lab["exempt"], lab["blocked"]) == (1, 1), lab
    assert sorted(lab["rules"]) == ["sales", "updates"]
    assert rows[("127.0.0.1", "kaspersky")]["blocked"] == 1
