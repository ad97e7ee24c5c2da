"""packaging/container: Containerfile, entrypoint.sh, healthcheck.

No container engine runs here. What can be tested is: the scripts' syntax;
that the entrypoint execs embargo (same PID, so SIGTERM from `docker stop`
reaches embargo) with the right arguments, using a stub binary and then the
real one; that the healthcheck tells a live embargo from a dead port or a
non-DNS service; and the Containerfile's structure: its stages, the runtime
packages against what the binary links, non-root USER, HEALTHCHECK, and that
the build stage's sources and meson command build the daemon."""
import json
import os
import re
import shlex
import shutil
import signal
import socket
import subprocess
import threading
import time

import pytest

from conftest import BIN, PACKAGING, SRC

CONTAINER = PACKAGING / "container"
ENTRYPOINT = CONTAINER / "entrypoint.sh"
HEALTHCHECK = CONTAINER / "healthcheck"
CONTAINERFILE = CONTAINER / "Containerfile"
BUNDLED = SRC / "config" / "embargo.yaml"

RUNTIME_PKGS = {"libldns3", "libevent-2.1-7", "libevent-openssl-2.1-7", "libevent-pthreads-2.1-7",
                "libyaml-0-2", "libssl3"}

STUB = """#!/bin/sh
echo "pid=$$"
for a in "$@"; do echo "arg=$a"; done
env | grep '^EMBARGO_' | sort
"""


def clean_env(**extra):
    env = {k: v for k, v in os.environ.items() if not k.startswith("EMBARGO_")}
    env.update(extra)
    return env


@pytest.fixture
def stub(tmp_path):
    path = tmp_path / "embargo-stub"
    path.write_text(STUB)
    path.chmod(0o755)
    return str(path)


def run_entrypoint(stub, *args, **env):
    p = subprocess.Popen(["sh", str(ENTRYPOINT), *args], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True, env=clean_env(EMBARGO_BIN=stub, **env))
    out, err = p.communicate(timeout=30)
    assert p.returncode == 0, err
    lines = out.splitlines()
    return p.pid, int(lines[0].removeprefix("pid=")), \
        [l[4:] for l in lines if l.startswith("arg=")], [l for l in lines if l.startswith("EMBARGO_")]


# ---- scripts --------------------------------------------------------------

def test_script_syntax():
    assert subprocess.run(["sh", "-n", str(ENTRYPOINT)]).returncode == 0
    assert subprocess.run(["bash", "-n", str(HEALTHCHECK)]).returncode == 0
    assert os.access(ENTRYPOINT, os.X_OK) and os.access(HEALTHCHECK, os.X_OK)
    if shutil.which("dash"):   # /bin/sh of Debian: no bashisms in the entrypoint
        assert subprocess.run(["dash", "-n", str(ENTRYPOINT)]).returncode == 0


def test_entrypoint_execs_serve_with_the_config(stub):
    shell_pid, embargo_pid, args, _ = run_entrypoint(stub)
    assert embargo_pid == shell_pid          # exec: embargo replaced the shell (PID 1 in a container)
    assert args == ["serve", "-c", "/etc/embargo/embargo.yaml"]


def test_entrypoint_passes_arguments_and_config(stub):
    _, _, args, _ = run_entrypoint(stub, "--at", "2024-09-28", EMBARGO_CONFIG="/cfg/e.yaml")
    assert args == ["serve", "-c", "/cfg/e.yaml", "--at", "2024-09-28"]
    _, _, args, _ = run_entrypoint(stub, "check", "--at", "2024-09-28")
    assert args == ["check", "-c", "/etc/embargo/embargo.yaml", "--at", "2024-09-28"]
    _, _, args, _ = run_entrypoint(stub, "firewall", "--lan-if", "eth0")
    assert args == ["firewall", "-c", "/etc/embargo/embargo.yaml", "--lan-if", "eth0"]
    _, _, args, _ = run_entrypoint(stub, "--version")
    assert args == ["--version"]
    _, _, args, _ = run_entrypoint(stub, "--at", "a b")          # no word splitting
    assert args[-1] == "a b"


def test_entrypoint_drops_empty_overrides(stub):
    _, _, _, env = run_entrypoint(stub, EMBARGO_LISTEN="", EMBARGO_UPSTREAMS="192.0.2.1",
                                  EMBARGO_HTTP="")
    assert "EMBARGO_UPSTREAMS=192.0.2.1" in env
    assert not any(e.startswith(("EMBARGO_LISTEN=", "EMBARGO_HTTP=")) for e in env), env


def healthcheck(**env):
    return subprocess.run(["bash", str(HEALTHCHECK)], capture_output=True, text=True, timeout=30,
                          env=clean_env(**env))


def test_entrypoint_runs_embargo_and_sigterm_stops_it(free_port):
    """The real binary through the entrypoint: the healthcheck sees it live,
    SIGTERM to the entrypoint's PID stops embargo cleanly (exit 0)."""
    listen = f"127.0.0.1:{free_port},[::1]:{free_port}"
    p = subprocess.Popen(["sh", str(ENTRYPOINT), "--at", "2024-10-01T00:00:00Z"],
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                         env=clean_env(EMBARGO_BIN=BIN, EMBARGO_CONFIG=str(BUNDLED),
                                       EMBARGO_LISTEN=listen))
    try:
        deadline = time.monotonic() + 10
        while True:
            h = healthcheck(EMBARGO_LISTEN=listen)
            if h.returncode == 0 or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        assert h.returncode == 0, h.stdout + h.stderr
        assert h.stdout.startswith("healthy: 127.0.0.1 port")
        # a wildcard listen address is checked on loopback, IPv6 too
        assert healthcheck(EMBARGO_LISTEN=f"0.0.0.0:{free_port}").returncode == 0
        h6 = healthcheck(EMBARGO_LISTEN=f"[::]:{free_port}")
        assert h6.returncode == 0 and "::1" in h6.stdout, h6.stdout
        assert healthcheck(EMBARGO_HEALTH_ADDR="::1", EMBARGO_HEALTH_PORT=str(free_port)).returncode == 0
        p.send_signal(signal.SIGTERM)
        out, _ = p.communicate(timeout=15)
    finally:
        if p.poll() is None:
            p.kill()
    assert p.returncode == 0, out
    assert "SIGTERM: stopping" in out
    # and now nothing answers
    dead = healthcheck(EMBARGO_LISTEN=f"127.0.0.1:{free_port}")
    assert dead.returncode == 1 and dead.stdout.startswith("unhealthy"), dead.stdout


def test_healthcheck_wants_a_dns_answer(free_port):
    """A TCP service that is not DNS (here: one that says HTTP and closes) is unhealthy."""
    srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("127.0.0.1", free_port))
    srv.listen(4)

    def serve():
        try:
            while True:
                c, _ = srv.accept()
                c.recv(512)
                c.sendall(b"HTTP/1.0 400 Bad Request\r\n\r\n")
                c.close()
        except OSError:
            pass
    t = threading.Thread(target=serve, daemon=True)
    t.start()
    try:
        h = healthcheck(EMBARGO_LISTEN=f"127.0.0.1:{free_port}", EMBARGO_HEALTH_TIMEOUT="2")
    finally:
        srv.close()
    assert h.returncode == 1, h.stdout
    assert "no DNS answer" in h.stdout


# ---- Containerfile --------------------------------------------------------

def instructions():
    """[(KEYWORD, args)] with continuation lines joined and comments dropped."""
    out, cur = [], ""
    for line in CONTAINERFILE.read_text().splitlines():
        if not cur and (not line.strip() or line.lstrip().startswith("#")):
            continue
        if line.rstrip().endswith("\\"):
            cur += line.rstrip()[:-1] + " "
            continue
        cur += line
        kw, _, rest = cur.strip().partition(" ")
        out.append((kw.upper(), rest.strip()))
        cur = ""
    assert not cur, "dangling continuation"
    return out


def stages():
    result = []
    for kw, args in instructions():
        if kw == "FROM":
            result.append({"from": args, "steps": []})
        else:
            assert result, f"{kw} before FROM"
            result[-1]["steps"].append((kw, args))
    return result


def apt_packages(stage):
    pkgs = set()
    for kw, args in stage["steps"]:
        if kw == "RUN" and "apt-get install" in args:
            after = args.split("apt-get install", 1)[1].split("&&", 1)[0]
            pkgs |= {w for w in after.split() if not w.startswith("-")}
    return pkgs


def test_two_stages_build_then_slim():
    st = stages()
    assert [s["from"] for s in st] == ["debian:12 AS build", "debian:12-slim"]
    build = apt_packages(st[0])
    assert {"gcc", "meson", "ninja-build", "pkg-config", "libldns-dev", "libevent-dev",
            "libyaml-dev", "libssl-dev"} <= build
    runtime = apt_packages(st[1])
    assert runtime == RUNTIME_PKGS | {"ca-certificates"}, runtime
    assert not any(p.endswith("-dev") or p in ("gcc", "meson") for p in runtime)


def test_runtime_packages_cover_what_the_binary_links():
    """Every shared library the built binary loads belongs to a package the
    runtime stage installs (or to libc6, which every image has)."""
    if not shutil.which("dpkg") or not shutil.which("ldd"):
        pytest.skip("needs dpkg and ldd (Debian)")
    ldd = subprocess.run(["ldd", BIN], capture_output=True, text=True, check=True).stdout
    # The image is built without sanitizers; an ASan/UBSan test build links their runtimes.
    libs = [l for l in re.findall(r"=> (/\S+)", ldd)
            if not re.search(r"/lib(asan|ubsan|lsan|tsan|stdc\+\+|gcc_s)\.so", l)]
    assert libs, ldd
    owners = set()
    for lib in libs:
        real = os.path.realpath(lib)
        candidates = {lib, real, "/usr" + lib if not lib.startswith("/usr") else lib,
                      "/usr" + real if not real.startswith("/usr") else real}
        for c in candidates:
            r = subprocess.run(["dpkg", "-S", c], capture_output=True, text=True)
            if r.returncode == 0:
                owners.add(r.stdout.split(":")[0])
                break
        else:
            pytest.fail(f"no package owns {lib}")
    installed = dependency_closure(RUNTIME_PKGS)   # what apt-get install brings along
    assert owners - {"libc6"} <= installed, owners - installed


def dependency_closure(pkgs):
    """pkgs and everything they depend on, from the local dpkg database."""
    seen, todo = set(), list(pkgs)
    while todo:
        pkg = todo.pop()
        if pkg in seen:
            continue
        r = subprocess.run(["dpkg-query", "-W", "-f=${Depends},${Pre-Depends}", pkg],
                           capture_output=True, text=True)
        if r.returncode != 0:
            continue   # not installed here: its own name still counts
        seen.add(pkg)
        for dep in r.stdout.split(","):
            name = dep.split("|")[0].strip().split(" ")[0].split(":")[0]
            if name:
                todo.append(name)
    return seen | set(pkgs)


def test_runs_unprivileged_with_healthcheck_and_exec_entrypoint():
    final = dict()
    for kw, args in stages()[-1]["steps"]:
        final.setdefault(kw, []).append(args)
    user = final["USER"][-1]
    assert user.split(":")[0] not in ("root", "0", ""), user
    assert set(final["EXPOSE"][-1].split()) == {"5335/udp", "5335/tcp"}
    assert any(e.startswith("EMBARGO_LISTEN=") for e in final["ENV"])
    hc = final["HEALTHCHECK"][-1]
    m = re.search(r"CMD (\[.*\])", hc)
    assert m, hc
    hc_cmd = json.loads(m.group(1))
    entry = json.loads(final["ENTRYPOINT"][-1])       # exec form: no shell in between
    copies = {}
    for args in final["COPY"]:
        words = [w for w in args.split() if not w.startswith("--")]
        copies[words[-1]] = words[0]
    assert copies[hc_cmd[0]] == "packaging/container/healthcheck"
    assert copies[entry[0]] == "packaging/container/entrypoint.sh"
    assert copies["/usr/local/bin/embargo"] == "/build/resolver/embargo"
    assert any("--from=build" in a for a in final["COPY"])


def test_copied_sources_exist():
    for st in stages():
        for kw, args in st["steps"]:
            if kw != "COPY" or "--from=" in args:
                continue
            for src in args.split()[:-1]:
                assert (SRC / src).exists(), src


def test_build_stage_recipe_builds_the_daemon(tmp_path):
    """Runs the build stage's meson command on a tree made of only what it
    COPYs: the list is complete, and the binary looks for /etc/embargo."""
    if not shutil.which("meson") or not shutil.which("ninja"):
        pytest.skip("needs meson and ninja")
    tree = tmp_path / "src"
    tree.mkdir()
    build = stages()[0]
    for kw, args in build["steps"]:
        if kw == "COPY":
            *srcs, dest = args.split()
            for s in srcs:
                target = tree / dest / os.path.basename(s.rstrip("/")) if dest.endswith("/") and not s.endswith("/") else tree / dest
                if (SRC / s).is_dir():
                    shutil.copytree(SRC / s, tree / dest, dirs_exist_ok=True)
                else:
                    target.parent.mkdir(parents=True, exist_ok=True)
                    shutil.copy(SRC / s, target)
    run = next(a for k, a in build["steps"] if k == "RUN" and "meson setup" in a)
    setup = shlex.split(run.split("meson setup", 1)[1].split("&&", 1)[0])
    assert setup[0] == "/build"
    bdir = tmp_path / "build"
    r = subprocess.run(["meson", "setup", str(bdir), *setup[1:]], cwd=tree, capture_output=True,
                       text=True, timeout=300)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    r = subprocess.run(["ninja", "-C", str(bdir), "resolver/embargo"], capture_output=True, text=True,
                       timeout=600)
    assert r.returncode == 0, r.stdout[-3000:]
    h = subprocess.run([str(bdir / "resolver" / "embargo"), "--help"], capture_output=True, text=True)
    assert "/etc/embargo/embargo.yaml" in h.stdout, h.stdout
