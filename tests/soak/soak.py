#!/usr/bin/python3
"""Soak: embargo under steady load for a long time, with reloads and
malformed packets, watching for sanitizer reports, lost answers, and
memory or descriptor growth.

    tests/soak/soak.py --binary build-asan/resolver/embargo --duration 600

Steps: nsd on 127.0.0.1 serves soak.test (20,000 names); embargo forwards
to it with a policy blocking two suffixes and a 5,000-entry cache (so that
misses evict). A query file in dnsperf's binary format mixes cache hits
(500 names, 60%), misses (unique names, 20%, half of them NXDOMAIN),
blocked names (19%) and malformed packets (1%). dnsperf first runs
unthrottled for a few seconds to measure capacity, then at half of it for
--duration seconds; every 30 s the policy file changes and embargo gets
SIGHUP. Every 5 s the script samples VmRSS and open descriptors.

Pass: no sanitizer report on embargo's stderr and a clean exit on SIGTERM
(LeakSanitizer runs then), every reload applied, no lost answer apart from
the malformed packets that get none (those that FORMERR cannot be built for),
and RSS and descriptors after warm-up within 5% of their value at the end
of warm-up. Prints one line per sample and a summary (also as JSON with
--json FILE). Exit 0 on pass, 1 on fail.
"""

import argparse
import json
import math
import os
import random
import re
import signal
import struct
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "e2e"))
from e2e_util import Nsd, free_port, write_config  # noqa: E402

ZONE_NAMES = 20000
HOT_NAMES = 500
CACHE_ENTRIES = 5000
SANITIZER = re.compile(r"ERROR: AddressSanitizer|ERROR: LeakSanitizer|runtime error:|"
                       r"SUMMARY: (Address|Undefined|Leak)Sanitizer")


class SoakNsd(Nsd):
    """The tests' nsd, plus soak.test with ZONE_NAMES A records."""

    def write(self):
        super().write()
        lines = ["$ORIGIN soak.test.", "$TTL 300",
                 "@ SOA ns.soak.test. hostmaster.soak.test. 1 3600 600 86400 60",
                 "@ NS ns.soak.test.", "ns A 127.0.0.1"]
        lines += [f"n{i} A 10.{i >> 16 & 255}.{i >> 8 & 255}.{i & 255}" for i in range(ZONE_NAMES)]
        (self.dir / "soak.test.zone").write_text("\n".join(lines) + "\n")
        conf = (self.dir / "nsd.conf").read_text()
        # nsd's response rate limiting (200 answers a second per bucket;
        # every NXDOMAIN of a zone shares one) would drop most of the
        # soak's misses: embargo would then rightly answer SERVFAIL.
        conf = conf.replace("server:\n", "server:\n  rrl-ratelimit: 0\n  rrl-whitelist-ratelimit: 0\n", 1)
        conf += f'zone:\n  name: soak.test\n  zonefile: "{self.dir}/soak.test.zone"\n'
        (self.dir / "nsd.conf").write_text(conf)


POLICY = """\
vendor: soakvendor
name: Soak Vendor
basis: soak test
rules:
  - id: refuse
    effective: 2020-01-01T00:00:00Z
    action: refuse
    domains: [refuse.soak.example]
  - id: sink
    effective: 2020-01-01T00:00:00Z
    action: sinkhole
    domains: [sink.soak.example{extra}]
"""


def wire_query(qid, name, qtype=1, edns=True):
    msg = struct.pack(">HHHHHH", qid, 0x0100, 1, 0, 0, 1 if edns else 0)
    for label in name.rstrip(".").split("."):
        msg += bytes([len(label)]) + label.encode()
    msg += b"\0" + struct.pack(">HH", qtype, 1)
    if edns:
        msg += b"\0" + struct.pack(">HHIH", 41, 1232, 0, 0)
    return msg


def malformed(rng, qid):
    """(packet, answered): a malformed query and whether embargo answers it
    (FORMERR needs a header it can echo; a response or a runt is dropped)."""
    kind = rng.randrange(5)
    if kind == 0:   # truncated inside the question
        return wire_query(qid, "x.soak.test")[:15], True
    if kind == 1:   # two questions
        q = bytearray(wire_query(qid, "y.soak.test", edns=False))
        q[5] = 2
        return bytes(q), True
    if kind == 2:   # a compression pointer loop as the qname
        return struct.pack(">HHHHHH", qid, 0x0100, 1, 0, 0, 0) + b"\xc0\x0c\0\1\0\1", True
    if kind == 3:   # QR set: a response, never answered
        q = bytearray(wire_query(qid, "z.soak.test"))
        q[2] |= 0x80
        return bytes(q), False
    return bytes(rng.randrange(256) for _ in range(rng.randrange(1, 12))), False


def make_queries(path, n, rng):
    """Writes n queries in dnsperf's binary format (2-octet length, wire);
    returns the positions (0-based) of the malformed packets no answer is
    expected for."""
    silent = []
    miss = 0
    with open(path, "wb") as f:
        for i in range(n):
            qid = i & 0xFFFF
            r = rng.random()
            if r < 0.60:
                pkt = wire_query(qid, f"n{rng.randrange(HOT_NAMES)}.soak.test")
            elif r < 0.80:
                miss += 1
                if miss % 2:
                    pkt = wire_query(qid, f"n{HOT_NAMES + miss % (ZONE_NAMES - HOT_NAMES)}.soak.test",
                                     qtype=rng.choice([1, 28]))
                else:
                    pkt = wire_query(qid, f"none{i}.soak.test")
            elif r < 0.99:
                suffix = rng.choice(["refuse.soak.example", "sink.soak.example"])
                pkt = wire_query(qid, f"h{rng.randrange(100000)}.{suffix}", qtype=rng.choice([1, 28, 16]))
            else:
                pkt, answered = malformed(rng, qid)
                if not answered:
                    silent.append(i)
            f.write(struct.pack(">H", len(pkt)) + pkt)
    return silent


def dnsperf(args, port, qfile, seconds, qps=None, log=None):
    cmd = ["dnsperf", "-B", "-s", "127.0.0.1", "-p", str(port), "-d", str(qfile),
           "-l", str(seconds), "-c", "1", "-T", "1", "-t", "2", "-q", "1000", "-b", "4096"]
    if qps:
        cmd += ["-Q", str(int(qps))]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=seconds + 60).stdout
    if log:
        Path(log).write_text(out)
    stats = {}
    for key, pat in (("sent", r"Queries sent:\s+(\d+)"), ("completed", r"Queries completed:\s+(\d+)"),
                     ("lost", r"Queries lost:\s+(\d+)"), ("qps", r"Queries per second:\s+([\d.]+)")):
        m = re.search(pat, out)
        stats[key] = float(m.group(1)) if m else None
    if stats["sent"] is None:
        raise RuntimeError(f"dnsperf printed no statistics:\n{out}")
    return stats


def proc_sample(pid):
    rss = 0
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            rss = int(line.split()[1])
    fds = len(os.listdir(f"/proc/{pid}/fd"))
    return rss, fds


def udp_rcvbuf_errors():
    """The kernel's count of datagrams dropped on full receive buffers,
    machine-wide (a loaded machine starves dnsperf as well)."""
    lines = [ln.split() for ln in Path("/proc/net/snmp").read_text().splitlines() if ln.startswith("Udp:")]
    return int(lines[1][lines[0].index("RcvbufErrors")])


def silent_sent(sent, n_file, silent):
    """How many of the first `sent` queries (dnsperf loops over the file in
    order with one client) were malformed ones no answer is expected for."""
    full, rest = divmod(int(sent), n_file)
    return full * len(silent) + sum(1 for i in silent if i < rest)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--binary", required=True, help="the embargo binary (an ASan build)")
    ap.add_argument("--duration", type=int, default=600, help="seconds at half capacity")
    ap.add_argument("--warmup", type=int, default=None, help="seconds before RSS must be flat "
                    "(default: a third of the duration, at most 120)")
    ap.add_argument("--reload-every", type=int, default=30)
    ap.add_argument("--workdir", default=None)
    ap.add_argument("--json", default=None, help="also write the summary here")
    a = ap.parse_args()
    warmup = a.warmup if a.warmup is not None else min(120, a.duration // 3)

    work = Path(a.workdir or f"/tmp/embargo-soak-{os.getpid()}")
    work.mkdir(parents=True, exist_ok=True)
    rng = random.Random(20241029)
    qfile = work / "queries.bin"
    n_file = 200000
    silent = make_queries(qfile, n_file, rng)

    nsd = SoakNsd(work / "nsd")
    nsd.start()
    pol = work / "soak.yaml"
    pol.write_text(POLICY.format(extra=""))
    port = free_port()
    conf = write_config(work / "embargo.yaml", [f"127.0.0.1:{port}"], [nsd.addr], [str(pol)],
                        timeout="1000ms",
                        extra=f"cache:\n  entries: {CACHE_ENTRIES}\n")
    env = dict(os.environ)
    # A small quarantine, so that ASan's own memory levels off within the warm-up.
    env["ASAN_OPTIONS"] = ":".join(x for x in (env.get("ASAN_OPTIONS", "detect_leaks=1"),
                                             "quarantine_size_mb=16") if x)
    env.setdefault("UBSAN_OPTIONS", "print_stacktrace=1")
    err_path = work / "embargo.stderr"
    err = open(err_path, "wb")
    emb = subprocess.Popen([a.binary, "serve", "-c", str(conf), "--allow-root"], stdout=err,
                           stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env)
    failures = []
    summary = {}
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if emb.poll() is not None:
                raise RuntimeError(f"embargo exited: {err_path.read_text(errors='replace')}")
            out = subprocess.run(["dig", "+short", "+time=1", "+tries=1", "-p", str(port), "@127.0.0.1",
                                  "n1.soak.test", "A"], capture_output=True, text=True).stdout
            if re.match(r"^10\.\d+\.\d+\.\d+$", out.strip()):
                break
            time.sleep(0.2)
        else:
            raise RuntimeError(f"embargo did not answer: {err_path.read_text(errors='replace')}")

        cap = dnsperf(a, port, qfile, 5, log=work / "dnsperf-capacity.txt")
        rate = max(1000, cap["qps"] / 2)
        print(f"soak: capacity {cap['qps']:.0f} QPS (unthrottled, 5 s); soaking at {rate:.0f} QPS "
              f"for {a.duration} s, reload every {a.reload_every} s", flush=True)

        import threading
        result = {}
        t = threading.Thread(target=lambda: result.update(
            dnsperf(a, port, qfile, a.duration, qps=rate, log=work / "dnsperf-soak.txt")))
        t0 = time.monotonic()
        drops0 = udp_rcvbuf_errors()
        t.start()
        samples, reloads, next_reload = [], 0, t0 + a.reload_every
        while t.is_alive():
            time.sleep(0.5)
            now = time.monotonic()
            if emb.poll() is not None:
                failures.append(f"embargo exited with {emb.returncode} during the soak")
                break
            if now >= next_reload and now - t0 < a.duration - 2:
                reloads += 1
                pol.write_text(POLICY.format(extra=f", r{reloads}.soak.example"))
                emb.send_signal(signal.SIGHUP)
                next_reload += a.reload_every
            if not samples or now - t0 - samples[-1][0] >= 5:
                rss, fds = proc_sample(emb.pid)
                samples.append((now - t0, rss, fds))
                print(f"soak: t={now - t0:5.0f}s rss={rss / 1024:.1f}MiB fds={fds}", flush=True)
        t.join()
        udp_drops = udp_rcvbuf_errors() - drops0
        time.sleep(1)  # let the last answers and timers settle
        rss, fds = proc_sample(emb.pid)
        samples.append((time.monotonic() - t0, rss, fds))
        print(f"soak: end rss={rss / 1024:.1f}MiB fds={fds}", flush=True)

        # Every reload applied: the last one's name is blocked (sinkhole).
        if reloads:
            last = f"x.r{reloads}.soak.example"
            out = subprocess.run(["dig", "+short", "+time=2", "-p", str(port), "@127.0.0.1", last, "A"],
                                 capture_output=True, text=True).stdout.split()
            if out != ["0.0.0.0"]:
                failures.append(f"the last reload ({reloads}) was not applied: {last} -> {out}")
        applied = len(re.findall(r"policy \d+ in force", err_path.read_text(errors="replace")))
        if applied < reloads:  # the file watcher may reload too, before the signal
            failures.append(f"{reloads} reloads asked for, {applied} applied")

        allowed = silent_sent(result["sent"], n_file, silent)
        if result["lost"] > allowed:
            failures.append(f"{result['lost']:.0f} queries lost, only {allowed} malformed ones expected "
                            f"unanswered (UDP receive-buffer drops on the machine meanwhile: {udp_drops})")

        post = [s for s in samples if s[0] >= warmup]
        if len(post) >= 2:
            base_rss, base_fds = post[0][1], post[0][2]
            top_rss, end_fds = max(s[1] for s in post), post[-1][2]
            if top_rss > base_rss * 1.05:
                failures.append(f"RSS grew after warm-up: {base_rss} -> {top_rss} KiB")
            # Descriptors move by one or two while a reload reads files, so
            # compare the settled end with the end of warm-up.
            if end_fds > math.ceil(base_fds * 1.05):
                failures.append(f"descriptors grew after warm-up: {base_fds} -> {end_fds}")
        else:
            failures.append("too few samples after warm-up; lengthen --duration")
        summary = {
            "capacity_qps": round(cap["qps"]), "rate_qps": round(rate), "duration_s": a.duration,
            "sent": int(result["sent"]), "completed": int(result["completed"]),
            "lost": int(result["lost"]), "malformed_unanswered_sent": allowed,
            "achieved_qps": round(result["qps"]), "reloads": reloads, "udp_rcvbuf_drops": udp_drops,
            "rss_kib_warm": post[0][1] if post else None, "rss_kib_max": max(s[1] for s in post) if post else None,
            "rss_kib_end": samples[-1][1] if samples else None,
            "fds_warm": post[0][2] if post else None, "fds_end": post[-1][2] if post else None,
            "applied_reloads": applied,
        }
    finally:
        if emb.poll() is None:
            emb.send_signal(signal.SIGTERM)
            try:
                emb.wait(30)
            except subprocess.TimeoutExpired:
                emb.kill()
                emb.wait()
                failures.append("embargo did not stop within 30 s of SIGTERM")
        err.close()
        nsd.stop()
    if emb.returncode not in (0, None) and not failures:
        failures.append(f"embargo exited with {emb.returncode} on SIGTERM")
    text = err_path.read_text(errors="replace")
    m = re.search(r"forwarded (\d+), servfail (\d+)", text)
    if m:
        summary["forwarded"], summary["servfail"] = int(m.group(1)), int(m.group(2))
        if int(m.group(2)) > int(m.group(1)) // 1000:
            failures.append(f"{m.group(2)} SERVFAIL for {m.group(1)} forwarded: the upstream path failed")
    reports = [ln for ln in text.splitlines() if SANITIZER.search(ln)]
    if reports:
        failures.append("sanitizer reports:\n" + "\n".join(reports[:20]) + f"\n(see {err_path})")
    summary["failures"] = failures
    print("soak: " + json.dumps(summary), flush=True)
    if a.json:
        Path(a.json).write_text(json.dumps(summary, indent=2) + "\n")
    if failures:
        print("soak: FAIL\n  " + "\n  ".join(failures), flush=True)
        return 1
    print("soak: pass", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
