#!/usr/bin/env python3
"""report.py: the parsing and the tables of bench/run.

  report.py load LOG          dnsperf summary -> "qps sent completed lost runtime avg_ms"
  report.py latency LOG       dnsperf -v output -> "qps lost p50_ms p99_ms n p99s_ms"
                              (after the first second; p99s: over every query sent,
                              a lost one counted as later than any answer)
  report.py policy LOG        policy_bench output -> "load_s snapshot_mib peak_mib mlookups_s ns"
  report.py table DIR         DIR/results.tsv (+ policy.tsv, meta.txt, notes.md) -> markdown

results.tsv has one row per server, scenario and run:
  run server scenario qps share lost sent avg_ms lat_qps lat_lost p50_ms p99_ms rss_kib udp_drops p99s_ms
With several runs every figure is the median of the runs, each column on its
own; the per-core figure is the median of the per-run ratios.
"""
import math
import re
import statistics
import sys

SERVERS = ["ceiling", "embargo", "dnsdist", "unbound", "dnsmasq"]
PEERS = ["dnsdist", "unbound", "dnsmasq"]
SCENARIOS = ["hit", "blocked", "miss", "mix"]
COLS = ["qps", "share", "lost", "sent", "avg_ms", "lat_qps", "lat_lost", "p50_ms", "p99_ms", "rss_kib", "udp_drops",
        "p99s_ms"]


def grab(text, pattern, default=float("nan")):
    m = re.search(pattern, text, re.M)
    return float(m.group(1)) if m else default


def parse_load(path):
    t = open(path, errors="replace").read()
    sent = grab(t, r"Queries sent:\s+(\d+)")
    completed = grab(t, r"Queries completed:\s+(\d+)")
    lost = grab(t, r"Queries lost:\s+(\d+)")
    runtime = grab(t, r"Run time \(s\):\s+([\d.]+)")
    qps = grab(t, r"Queries per second:\s+([\d.]+)")
    avg = grab(t, r"Average Latency \(s\):\s+([\d.]+)") * 1000
    print("%.1f %d %d %d %.6f %.4f" % (qps, sent, completed, lost, runtime, avg))


# The first second of a fixed-rate run is left out of the percentiles:
# dnsperf itself stalls about half a second after it starts (the ceiling,
# which does nothing, shows the same 1,000-3,000 late answers there, at
# queries 10,000-15,000), and that stall alone set every server's p99.
WARMUP_S = 1.0


def parse_latency(path):
    t = open(path, errors="replace").read()
    rate = grab(t, r"Command line: .* -Q (\d+)", 0)
    timeout = grab(t, r"Command line: .* -t ([\d.]+)", 5)
    skip = int(WARMUP_S * rate)
    lat = []
    late = 0  # timed out, sent after the warm-up
    idx = 0
    for line in t.splitlines():
        if not line.startswith("> "):
            continue
        idx += 1
        parts = line.split()
        if len(parts) > 1 and parts[1] == "T":
            # printed a timeout after it was sent: its index says when it went out
            if idx > skip + rate * timeout:
                late += 1
            continue
        if idx <= skip:
            continue
        try:
            lat.append(float(parts[-1]))
        except ValueError:
            pass
    lost = grab(t, r"Queries lost:\s+(\d+)", 0)
    qps = grab(t, r"Queries per second:\s+([\d.]+)")
    lat.sort()

    def pct(p, n=None):
        """The p-quantile of n queries of which lat holds the answered ones;
        the rest never came back, so they rank after every answer (inf)."""
        n = len(lat) if n is None else n
        if not n:
            return float("nan")
        i = min(n - 1, max(0, math.ceil(p * n) - 1))
        return lat[i] * 1000 if i < len(lat) else float("inf")

    print("%.1f %d %.4f %.4f %d %.4f" % (qps, lost, pct(0.50), pct(0.99), len(lat),
                                        pct(0.99, len(lat) + late)))


def parse_policy(path):
    t = open(path, errors="replace").read()
    print("%.3f %.1f %.1f %.2f %.0f %.1f" % (
        grab(t, r"load total\s+([\d.]+) s"), grab(t, r"snapshot\s+([\d.]+) MiB"),
        grab(t, r"peak RSS \(load\)\s+([\d.]+) MiB"), grab(t, r"lookups/s \(1 core, CPU time\)\s+([\d.]+) M/s"),
        grab(t, r"per lookup \(CPU time\)\s+([\d.]+) ns"), grab(t, r"RSS after cfg_free\s+([\d.]+) MiB")))


def med(xs):
    xs = [x for x in xs if not math.isnan(x)]
    return statistics.median(xs) if xs else float("nan")


def f_int(x):
    return "n/a" if math.isnan(x) else "{:,.0f}".format(x)


def f_ms(x):
    if math.isinf(x):
        return "lost"
    return "n/a" if math.isnan(x) else "%.3f" % x


def f_pct(x):
    return "n/a" if math.isnan(x) else "%.0f%%" % (100 * x)


def f_ratio(x):
    return "n/a" if math.isnan(x) else "%.2f" % x


def load_results(d):
    rows = {}
    runs = set()
    for line in open(d + "/results.tsv"):
        f = line.split()
        if not f or f[0] == "run":
            continue
        run, server, scen = f[0], f[1], f[2]
        vals = [float(x) for x in f[3:]]
        rec = dict(zip(COLS, vals + [float("nan")] * (len(COLS) - len(vals))))
        rec["core"] = rec["qps"] / rec["share"] if rec["share"] > 0 else float("nan")
        rec["run"] = run
        rows.setdefault((server, scen), []).append(rec)
        runs.add(run)
    agg = {}
    for k, recs in rows.items():
        agg[k] = {c: med([r[c] for r in recs]) for c in COLS + ["core"]}
        agg[k]["n"] = len(recs)
        agg[k]["by_run"] = {r["run"]: r for r in recs}
    return agg, len(runs)


def same_run_ratio(agg, a, b, s, col="core"):
    """The median over runs of a's col / b's col in the same run."""
    x, y = agg.get((a, s)), agg.get((b, s))
    if not x or not y:
        return float("nan")
    return med([x["by_run"][r][col] / y["by_run"][r][col] for r in x["by_run"]
                if r in y["by_run"] and y["by_run"][r][col] > 0])


def table(d):
    agg, nruns = load_results(d)
    out = []
    w = out.append
    try:
        w(open(d + "/meta.txt").read().rstrip() + "\n")
    except OSError:
        pass
    w("## Load (%s)\n" % ("median of %d runs" % nruns if nruns > 1 else "one run"))
    w("Full load: dnsperf unthrottled for the run's time limit (the miss and mix files: one pass at most). "
      "CPU = the server's CPU time over the run / run time: the scheduler's exact run time of all its threads, from /proc/PID/task/*/schedstat (utime+stime in /proc/PID/stat are the same time sampled at 100 ticks a second) (1.0 = CPU 0 fully busy). "
      "QPS/core = QPS / CPU. p50/p99: a separate run at a fixed 20,000 QPS (dnsperf -Q 20000 -v, "
      "every answer's latency after the run's first second, where dnsperf itself stalls); p99 sent: the 99th percentile over every query sent, a lost one counting "
      "as later than any answer (\"lost\" when over 1% were lost), which is what a client sees. RSS: VmRSS at the end of the scenario. UDP drops: the kernel's "
      "RcvbufErrors over both runs, machine-wide (the client's buffers are 4 MiB, so these are mostly the "
      "server's socket overflowing while it lost its CPU).\n")
    w("| scenario | server | QPS | CPU | QPS/core | avg ms | lost | p50 ms @20k | p99 ms @20k | p99 sent @20k | lost @20k | RSS MiB | UDP drops |")
    w("|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|")
    for s in SCENARIOS:
        for srv in SERVERS:
            a = agg.get((srv, s))
            if not a:
                continue
            w("| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %.1f | %s |" % (
                s, "**%s**" % srv if srv == "embargo" else srv, f_int(a["qps"]), f_pct(a["share"]),
                f_int(a["core"]), f_ms(a["avg_ms"]), f_int(a["lost"]), f_ms(a["p50_ms"]), f_ms(a["p99_ms"]),
                f_ms(a["p99s_ms"]), f_int(a["lat_lost"]), a["rss_kib"] / 1024, f_int(a["udp_drops"])))
    w("")
    w("## embargo's ratios (QPS per busy core, same run)\n")
    if nruns > 1:
        w("Each ratio is the median of the %d runs' ratios, so it need not equal the ratio of the medians above.\n"
          % nruns)
    w("| scenario | embargo QPS/core | / ceiling | / dnsdist | / unbound | / dnsmasq |")
    w("|---|--:|--:|--:|--:|--:|")
    for s in SCENARIOS:
        e = agg.get(("embargo", s))
        if not e:
            continue
        cells = [f_ratio(same_run_ratio(agg, "embargo", other, s)) for other in ["ceiling"] + PEERS]
        w("| %s | %s | %s |" % (s, f_int(e["core"]), " | ".join(cells)))
    w("")

    # The targets of issue 4, checked against these figures.

    def ok(b):
        return "yes" if b else "**no**"

    checks = []
    for s in ["blocked", "hit"]:
        r = same_run_ratio(agg, "embargo", "ceiling", s)
        checks.append(("%s: >= 0.92 x ceiling per core" % s, f_ratio(r), ok(r >= 0.92)))
        r = same_run_ratio(agg, "embargo", "dnsdist", s)
        checks.append(("%s: above dnsdist per core" % s, f_ratio(r), ok(r > 1.0)))
    r = same_run_ratio(agg, "embargo", "dnsdist", "miss")
    checks.append(("miss: >= 0.9 x dnsdist per core", f_ratio(r), ok(r >= 0.9)))
    r = same_run_ratio(agg, "embargo", "unbound", "miss")
    checks.append(("miss: >= 3 x unbound per core", f_ratio(r), ok(r >= 3.0)))
    for s in SCENARIOS:
        e = agg.get(("embargo", s))
        if not e:
            continue
        # over every query sent: a peer that loses queries is not faster
        # for it (old results.tsv files lack the column: answered only)
        col = "p99s_ms" if not math.isnan(e["p99s_ms"]) else "p99_ms"
        best = min((agg[(p, s)][col] for p in PEERS if (p, s) in agg), default=float("nan"))
        c = agg.get(("ceiling", s))
        ms = lambda x: f_ms(x) + ("" if math.isinf(x) or math.isnan(x) else " ms")
        checks.append(("%s: p99 %s@20k <= best peer's (%s; the ceiling's: %s)" %
                       (s, "sent " if col == "p99s_ms" else "", ms(best), ms(c[col]) if c else "n/a"),
                       ms(e[col]), ok(e[col] <= best)))
    rss = lambda srv: max((agg[(srv, s)]["rss_kib"] for s in SCENARIOS if (srv, s) in agg), default=float("nan"))
    r = rss("embargo") / rss("dnsmasq")
    checks.append(("RSS (largest after a scenario) <= 0.75 x dnsmasq's (%.1f MiB)" % (rss("dnsmasq") / 1024),
                   "%.1f MiB = %s" % (rss("embargo") / 1024, f_ratio(r)), ok(r <= 0.75)))
    for s in ["hit", "blocked"]:
        e = agg.get(("embargo", s))
        if e:
            checks.append(("%s: no lost queries (full load and 20k)" % s, f_int(e["lost"] + e["lat_lost"]),
                           ok(e["lost"] + e["lat_lost"] == 0)))
    w("## Targets (issue 4)\n")
    w("| target | embargo | met |")
    w("|---|--:|:-:|")
    for c in checks:
        w("| %s | %s | %s |" % c)
    w("")

    try:
        prow = [l.split() for l in open(d + "/policy.tsv") if l.strip()]
    except OSError:
        prow = []
    if prow:
        cols = list(zip(*[[float(x) for x in r] for r in prow]))
        m = [med(list(c)) for c in cols]
        w("## Policy engine (bench/policy_bench, 1,000,000 domains%s)\n" %
          (", median of %d runs" % len(prow) if len(prow) > 1 else ""))
        w("| load (parse + build) | snapshot | RSS after load | peak RSS while loading | lookups/s (1 core) | per lookup |")
        w("|--:|--:|--:|--:|--:|--:|")
        w("| %.2f s | %.1f MiB | %.1f MiB | %.1f MiB | %.2f M | %.0f ns |" % (m[0], m[1], m[5], m[2], m[3], m[4]))
        w("")
    try:
        w(open(d + "/notes.md").read().rstrip() + "\n")
    except OSError:
        pass
    print("\n".join(out))


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    {"load": parse_load, "latency": parse_latency, "policy": parse_policy, "table": table}[sys.argv[1]](sys.argv[2])


if __name__ == "__main__":
    main()
