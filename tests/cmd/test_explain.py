"""`embargo explain`: the decision for one lookup, against the bundled policy."""
import json


def explain(embargo, bundled, *args):
    r = embargo("explain", "-c", bundled, *args)
    assert r.returncode == 0, r.stderr
    return r.stdout


def explain_json(embargo, bundled, *args):
    return json.loads(explain(embargo, bundled, "--json", *args))


def test_update_host_audited_one_second_before_cutoff(embargo, bundled):
    out = explain(embargo, bundled, "dnl-07.geo.kaspersky.com", "--at", "2024-09-29T03:59:59Z")
    assert "verdict: audit" in out
    assert "rule:    updates" in out
    assert "2024-09-29T04:00:00Z" in out


def test_update_host_blocked_at_cutoff(embargo, bundled):
    out = explain(embargo, bundled, "dnl-07.geo.kaspersky.com", "--at", "2024-09-29T04:00:00Z")
    assert "verdict: block" in out
    assert "action sinkhole" in out
    assert "rule:    updates" in out
    assert "answer:  A 0.0.0.0" in out
    assert "domain geo.kaspersky.com" in out


def test_cutoff_in_other_offset(embargo, bundled):
    # 00:00 EDT is 04:00 UTC
    j = explain_json(embargo, bundled, "DNL-07.Geo.Kaspersky.COM.", "--at", "2024-09-29T00:00:00-04:00")
    assert j["verdict"] == "block"
    assert j["rule"] == "updates" and j["vendor"] == "kaspersky"
    j = explain_json(embargo, bundled, "dnl-07.geo.kaspersky.com", "--at", "2024-09-28T23:59:59-04:00")
    assert j["verdict"] == "audit"


def test_json_fields(embargo, bundled):
    j = explain_json(embargo, bundled, "s01.upd.kaspersky.com", "--type", "AAAA",
                     "--at", "2025-01-01")
    assert j["verdict"] == "block"
    assert j["action"] == "sinkhole"
    assert j["answer"].startswith("AAAA ::")
    assert j["entry"] == "upd.kaspersky.com" and j["entry_kind"] == "domain"
    assert j["effective"] == "2024-09-29T04:00:00Z" and j["until"] is None
    assert j["ede"] == 16
    assert j["ede_text"].startswith("kaspersky/updates: U.S. Commerce BIS")
    assert j["type"] == "AAAA"


def test_sales_refused_from_july(embargo, bundled):
    j = explain_json(embargo, bundled, "store.kaspersky.com", "--at", "2024-07-20T04:00:00Z")
    assert (j["verdict"], j["action"], j["answer"]) == ("block", "refuse", "REFUSED")
    j = explain_json(embargo, bundled, "store.kaspersky.com", "--at", "2024-07-20T03:59:59Z")
    assert j["verdict"] == "audit"


def test_exact_host_does_not_cover_subdomains(embargo, bundled):
    # store.kaspersky.com is a host entry; a name below it falls to the
    # vendor-wide audit rule
    j = explain_json(embargo, bundled, "x.store.kaspersky.com", "--at", "2025-01-01")
    assert j["verdict"] == "audit" and j["rule"] == "vendor-web"


def test_lookalikes_pass(embargo, bundled):
    for name in ("notkaspersky.com", "kaspersky.com.example.net", "kasperskyupdates.com",
                 "example.org", "."):
        j = explain_json(embargo, bundled, name, "--at", "2025-01-01")
        assert j["verdict"] == "pass", (name, j)
        assert j["entry"] is None


def test_allow_entry_passes(embargo, bundled):
    j = explain_json(embargo, bundled, "opentip.kaspersky.com", "--at", "2025-01-01")
    assert j["verdict"] == "pass"
    assert j["allowed_by"] == "kaspersky"
    out = explain(embargo, bundled, "opentip.kaspersky.com", "--at", "2025-01-01")
    assert "allow" in out


def test_group_exemption(embargo, write, bundled):
    import pathlib
    pol = pathlib.Path(bundled).parent / "policies"
    cfgp = write("embargo.yaml", f"""\
policies: ["{pol}"]
groups:
  - name: security-lab
    networks: [10.66.0.0/16, "fd00:66::/32"]
    exempt: [kaspersky/updates]
""")
    j = explain_json(embargo, cfgp, "s01.upd.kaspersky.com", "--client", "10.66.1.2", "--at", "2025-01-01")
    assert j["verdict"] == "exempt" and j["group"] == "security-lab"
    j = explain_json(embargo, cfgp, "s01.upd.kaspersky.com", "--client", "fd00:66::1", "--at", "2025-01-01")
    assert j["verdict"] == "exempt"
    j = explain_json(embargo, cfgp, "s01.upd.kaspersky.com", "--client", "10.67.1.2", "--at", "2025-01-01")
    assert j["verdict"] == "block"
    # the group exempts updates only: sales stays blocked for it
    j = explain_json(embargo, cfgp, "store.kaspersky.com", "--client", "10.66.1.2", "--at", "2025-01-01")
    assert j["verdict"] == "block" and j["rule"] == "sales"
