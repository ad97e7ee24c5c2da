"""Process lifecycle: startup errors (port in use, bad config, bad --at),
SIGTERM/SIGINT exit 0 promptly even with a query in flight, and the
README's first command (scripts/run) with the bundled config."""

import os
import signal
import socket
import subprocess
import time

import dns.query
import pytest

from fakeupstream import SilentUpstream

from e2e_util import (AFTER, READY_TIMEOUT, addresses, assert_same_answer, ede_options,
                      embargo_src, free_port, kaspersky_ede_text, query, tcp_frame, wait_ready)


def wait_exit(e, timeout=READY_TIMEOUT):
    try:
        return e.proc.wait(timeout)
    except subprocess.TimeoutExpired:
        return None


def stderr_lines(e):
    return [ln for ln in e.stderr_path.read_text(errors="replace").splitlines() if ln.strip()]


@pytest.mark.parametrize("proto", ["udp", "tcp"])
def test_port_in_use_fails_with_one_line(embargo_factory, nsd, proto):
    e = embargo_factory(at=AFTER, start=False)
    if proto == "udp":
        busy = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        busy.bind(("127.0.0.1", e.port))
    else:
        busy = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        busy.bind(("127.0.0.1", e.port))
        busy.listen(1)
    try:
        e.spawn()
        e.expect_exit = True
        rc = wait_exit(e)
        assert rc is not None, f"embargo kept running with {proto} port {e.port} taken"
        assert rc > 0, f"exit code {rc} (a signal or 0) for a busy {proto} port\n{e.diagnostics()}"
        lines = stderr_lines(e)
        assert len(lines) == 1, f"expected one line on stderr, got {lines}"
        assert "127.0.0.1" in lines[0] and str(e.port) in lines[0], \
            f"the error does not name the address 127.0.0.1:{e.port}: {lines[0]!r}"
    finally:
        busy.close()


def test_bad_config_fails(embargo_factory):
    e = embargo_factory(at=AFTER, start=False)
    text = e.config.read_text().replace("timeout: 500ms", "timeout: soon")
    e.config.write_text(text)
    e.spawn()
    e.expect_exit = True
    rc = wait_exit(e)
    assert rc is not None and rc > 0, f"bad config: exit {rc}\n{e.diagnostics()}"
    lines = stderr_lines(e)
    assert lines, "no error message for a bad config"
    assert any(str(e.config) in ln or e.config.name in ln for ln in lines), \
        f"the error does not name the config file: {lines}"


def test_bad_at_fails(embargo_factory):
    e = embargo_factory(at="yesterday", start="spawn")
    e.expect_exit = True
    rc = wait_exit(e)
    assert rc is not None and rc > 0, f"--at yesterday: exit {rc}\n{e.diagnostics()}"
    assert stderr_lines(e), "no error message for a bad --at"


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_signal_exits_0_with_query_in_flight(embargo_factory, sig):
    with SilentUpstream() as silent:
        e = embargo_factory(upstreams=[silent.addr], at=AFTER, timeout="5s")
        # a UDP and a TCP query in flight to the silent upstream
        u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        u.sendto(query("inflight.e2e.test.", "A").to_wire(), (e.host, e.port))
        t = socket.create_connection((e.host, e.port), timeout=2)
        t.sendall(tcp_frame(query("inflight2.e2e.test.", "A").to_wire()))
        time.sleep(0.3)
        assert e.alive()
        rc, took = e.stop(sig)
        u.close()
        t.close()
        assert rc == 0, f"exit code {rc} after {sig.name}\n{e.diagnostics()}"
        assert took < 2.0, f"{sig.name}: took {took:.2f}s to exit"


def test_sigterm_idle_exit_0_and_port_released(embargo_factory):
    e = embargo_factory(at=AFTER)
    port = e.port
    rc, took = e.stop()
    assert rc == 0, e.diagnostics()
    assert took < 2.0
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        s.bind(("127.0.0.1", port))    # the UDP port is free again
    finally:
        s.close()


def test_readme_first_command_scripts_run(tmp_path, nsd):
    """scripts/run with the bundled config, listen and upstreams replaced by
    the environment (comma-separated lists): a Kaspersky update host is
    sinkholed with EDE 16 (the real clock is past 2024-09-29), an allowed
    name comes from the upstream; SIGTERM reaches embargo (the script execs)."""
    run = embargo_src() / "scripts" / "run"
    if not run.exists():
        pytest.skip("scripts/run does not exist")
    p1, p2 = free_port(), free_port()
    env = dict(os.environ)
    env["EMBARGO_LISTEN"] = f"127.0.0.1:{p1},127.0.0.1:{p2}"
    env["EMBARGO_UPSTREAMS"] = f"127.0.0.1:{free_port()},{nsd.addr}"
    out = open(tmp_path / "run.stdout", "wb")
    err = open(tmp_path / "run.stderr", "wb")

    def diagnostics():
        out.flush()
        err.flush()
        return ("--- scripts/run stdout:\n" + (tmp_path / "run.stdout").read_text(errors="replace")
                + "\n--- scripts/run stderr:\n"
                + (tmp_path / "run.stderr").read_text(errors="replace"))

    proc = subprocess.Popen([str(run)], cwd=str(embargo_src()), env=env, stdout=out, stderr=err,
                            stdin=subprocess.DEVNULL)
    try:
        # scripts/run may have to build first: allow more than the usual budget.
        wait_ready(proc, "127.0.0.1", p1, "www.e2e.test.", diagnostics, timeout=120)
        for port in (p1, p2):
            q = query("s01.upd.kaspersky.com.", "A")
            r = dns.query.udp(q, "127.0.0.1", port=port, timeout=3)
            assert addresses(r) == ["0.0.0.0"], f"port {port}\n{r}\n{diagnostics()}"
            edes = ede_options(r)
            assert [o.code for o in edes] == [16], f"{r}\n{diagnostics()}"
            assert edes[0].text == kaspersky_ede_text("updates")
            r = dns.query.udp(query("www.e2e.test.", "A"), "127.0.0.1", port=port, timeout=3)
            assert_same_answer(r, nsd.query("www.e2e.test.", "A"), f"allowed name, port {port}")
            assert not ede_options(r)
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                rc = proc.wait(5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
                rc = None
        else:
            rc = proc.returncode
        out.close()
        err.close()
    assert rc == 0, f"scripts/run: exit {rc} after SIGTERM\n{diagnostics()}"
