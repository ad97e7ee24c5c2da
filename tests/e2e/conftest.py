"""Fixtures of the end-to-end tests.

One nsd per session (authoritative for e2e.test. and kaspersky.com.), and
`embargo serve` processes started per module or per test where the config
differs. Every embargo process is stopped with SIGTERM at teardown and must
exit 0; its stderr is attached to the report of a failed test.
"""

import pytest

from e2e_util import AFTER, Embargo, Nsd, ipv6_available


class EmbargoFactory:
    """Starts embargo processes and stops them all at teardown."""

    def __init__(self, tmp_path_factory, nsd, label):
        self.tmp_path_factory = tmp_path_factory
        self.nsd = nsd
        self.label = label
        self.procs = []

    def __call__(self, upstreams=None, start=True, **kw):
        """start: True waits until it answers, "spawn" only starts the
        process, False only writes the config (call .spawn() later)."""
        if upstreams is None:
            upstreams = [self.nsd.addr]
        d = self.tmp_path_factory.mktemp(self.label)
        e = Embargo(d, upstreams, name=f"embargo{len(self.procs)}", **kw)
        self.procs.append(e)
        if start is True:
            e.start()
        elif start == "spawn":
            e.spawn()
        return e

    def teardown(self):
        errors = []
        for e in self.procs:
            if e.proc is None:
                continue
            if e.proc.poll() is not None and getattr(e, "expect_exit", False):
                e._close()
                continue
            try:
                rc, _ = e.stop()
            except AssertionError as exc:
                errors.append(str(exc))
                continue
            if rc != 0:
                errors.append(f"{e.name} exited with {rc} after SIGTERM (expected 0)\n"
                              f"{e.diagnostics()}")
        if errors:
            pytest.fail("\n\n".join(errors), pytrace=False)

    def diagnostics(self):
        return "\n\n".join(e.diagnostics() for e in self.procs)


@pytest.fixture(scope="session")
def nsd(tmp_path_factory):
    n = Nsd(tmp_path_factory.mktemp("nsd"))
    try:
        n.start()
    except Exception as e:  # noqa: BLE001
        pytest.fail(f"nsd fixture: {e}", pytrace=False)
    yield n
    n.stop()


@pytest.fixture
def embargo_factory(tmp_path_factory, nsd):
    """Starts embargo per test: embargo_factory(upstreams=..., at=..., ...)."""
    f = EmbargoFactory(tmp_path_factory, nsd, "embargo")
    yield f
    f.teardown()


@pytest.fixture(scope="module")
def module_embargo_factory(tmp_path_factory, nsd):
    f = EmbargoFactory(tmp_path_factory, nsd, "embargo-mod")
    yield f
    f.teardown()


@pytest.fixture(scope="module")
def embargo(module_embargo_factory):
    """The standard daemon of a module: upstream nsd, bundled Kaspersky policy
    plus the test policy, clock pinned after every Kaspersky cutoff; listens
    on 127.0.0.1 and, where available, ::1."""
    return module_embargo_factory(at=AFTER, listen6=ipv6_available())


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    if rep.when != "call" or not rep.failed:
        return
    seen = set()
    for value in getattr(item, "funcargs", {}).values():
        procs = []
        if isinstance(value, Embargo):
            procs = [value]
        elif isinstance(value, EmbargoFactory):
            procs = value.procs
        for e in procs:
            if id(e) in seen:
                continue
            seen.add(id(e))
            rep.sections.append((f"embargo process {e.name}", e.diagnostics()))
        if isinstance(value, Nsd):
            rep.sections.append(("nsd", value.diagnostics()))
