#!/usr/bin/env python3
"""gen.py: the data bench/run measures with, written into one work folder.

  gen.py DIR [--names N] [--suffixes N] [--seed S]

Writes, deterministically (a fixed seed, so every run sees the same data):
  up.example.zone   the upstream zone nsd serves: N names n<i>.up.example
                    (A, TTL 3600), plus ready.up.example for readiness probes
  suffixes.txt      N blocked suffixes, one a line (dnsdist reads this)
  policy/bench.yaml the same suffixes as an embargo policy (action refuse)
  unbound-block.conf  local-zone: "<suffix>." always_refuse
  dnsmasq-block.conf  address=/<suffix>/   (NXDOMAIN: dnsmasq cannot REFUSE)
  q-hit.txt         1,000 zone names, repeated by dnsperf (-l)
  q-blocked.txt     500,000 random names one or two labels under a suffix
  q-miss.txt        every zone name once, shuffled (one pass: each a miss)
  q-mix.txt         500,000: 70% hit names, 20% blocked, 10% distinct zone
                    names outside the hit set (one pass: each of those a miss)
"""
import argparse
import os
import random

TLDS = ["com", "net", "org", "io", "ru", "cn", "info", "biz", "de", "co.uk"]
WORDS = ["ads", "track", "metrics", "cdn", "telemetry", "update", "stat", "pixel", "api", "beacon",
         "log", "collect", "sync", "push", "edge", "dl", "auth", "store", "ksn", "geo"]
ALNUM = "abcdefghijklmnopqrstuvwxyz0123456789"


def label(rng, lo=4, hi=12):
    return "".join(rng.choice(ALNUM) for _ in range(rng.randint(lo, hi)))


def suffix(rng, i):
    """A blocked suffix: two to four labels, varied, all distinct (i is in it)."""
    base = "%s%d-%s.%s" % (rng.choice(WORDS), i, label(rng, 3, 6), rng.choice(TLDS))
    if rng.random() < 0.3:
        base = "%s.%s" % (rng.choice(WORDS), base)
    return base


def write_lines(path, lines):
    with open(path, "w") as f:
        f.write("\n".join(lines))
        f.write("\n")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("dir")
    ap.add_argument("--names", type=int, default=100000)
    ap.add_argument("--suffixes", type=int, default=100000)
    ap.add_argument("--seed", type=int, default=20240929)
    a = ap.parse_args()
    rng = random.Random(a.seed)
    d = a.dir
    os.makedirs(os.path.join(d, "policy"), exist_ok=True)

    # The upstream zone.
    with open(os.path.join(d, "up.example.zone"), "w") as f:
        f.write("$ORIGIN up.example.\n$TTL 3600\n")
        f.write("@ IN SOA ns.up.example. hostmaster.up.example. 1 3600 900 604800 3600\n")
        f.write("@ IN NS ns.up.example.\nns IN A 127.0.0.1\nready IN A 127.0.0.1\n")
        for i in range(a.names):
            f.write("n%d IN A 10.%d.%d.%d\n" % (i, (i >> 16) & 255, (i >> 8) & 255, i & 255))

    # The policy, in each server's own form.
    sfx = [suffix(rng, i) for i in range(a.suffixes)]
    write_lines(os.path.join(d, "suffixes.txt"), sfx)
    with open(os.path.join(d, "policy", "bench.yaml"), "w") as f:
        f.write("vendor: bench\nname: Generated benchmark policy\nbasis: bench/gen.py\nede: 15\n")
        f.write("rules:\n  - id: blocked\n    effective: 2020-01-01T00:00:00Z\n    action: refuse\n")
        f.write("    domains:\n")
        for s in sfx:
            f.write("      - %s\n" % s)
    write_lines(os.path.join(d, "unbound-block.conf"), ['local-zone: "%s." always_refuse' % s for s in sfx])
    write_lines(os.path.join(d, "dnsmasq-block.conf"), ["address=/%s/" % s for s in sfx])

    # Query files (dnsperf format: NAME TYPE).
    hit = ["n%d.up.example A" % i for i in range(1000)]
    write_lines(os.path.join(d, "q-hit.txt"), hit)

    def blocked_name():
        s = rng.choice(sfx)
        if rng.random() < 0.25:
            return "%s.%s.%s" % (label(rng), label(rng, 2, 5), s)
        return "%s.%s" % (label(rng), s)

    write_lines(os.path.join(d, "q-blocked.txt"),
                ["%s %s" % (blocked_name(), "AAAA" if rng.random() < 0.2 else "A") for _ in range(500000)])

    miss = ["n%d.up.example A" % i for i in range(a.names)]
    rng.shuffle(miss)
    write_lines(os.path.join(d, "q-miss.txt"), miss)

    fresh = ["n%d.up.example A" % i for i in range(1000, a.names)]
    rng.shuffle(fresh)
    fresh_it = iter(fresh)
    mix = []
    for _ in range(500000):
        r = rng.random()
        if r < 0.7:
            mix.append(rng.choice(hit))
        elif r < 0.9:
            mix.append("%s A" % blocked_name())
        else:
            mix.append(next(fresh_it, None) or rng.choice(hit))
    write_lines(os.path.join(d, "q-mix.txt"), mix)


if __name__ == "__main__":
    main()
