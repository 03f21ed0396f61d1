#!/usr/bin/env python3
"""Writes the small synthetic replay traces checked in beside this script (deterministic; no
randomness). Run from anywhere: python3 tests/data/traces/make_synthetic.py"""
import math
import os

HERE = os.path.dirname(os.path.abspath(__file__))
MI = 1024 * 1024
T0 = 1767225600  # 2026-01-01T00:00:00Z


def saw(x, amp, period):
    return amp * ((x / period) - math.floor(x / period))


def write(name, header, rows):
    with open(os.path.join(HERE, name), "w") as f:
        f.write(",".join(header) + "\n")
        for r in rows:
            f.write(",".join(str(v) for v in r) + "\n")


# 1. A linear leak under a GC sawtooth, 512 MiB limit, 30 s sampling, 8 h: 200 MiB base plus
#    40 MiB/h; the peaks reach the limit after about 7 h.
rows = []
for i in range(0, 8 * 120 + 1):
    x = i * 30
    ws = 200 * MI + saw(x, 24 * MI, 150) + 40 * MI * x / 3600
    rows.append((T0 + x, int(ws + 8 * MI), 512 * MI, int(ws)))
write("synth_leak_limit.csv", ["timestamp", "usage_bytes", "limit_bytes", "working_set_bytes"],
      rows)

# 2. A fast leak that is OOM-killed twice (cumulative oom_kill counter, restarted flag), 256 MiB
#    limit, 10 s sampling: each incarnation climbs from 60 MiB at 300 MiB/h and dies at the top.
rows = []
kills = 0
age = 0
x = 0
restarted = 0
while x <= 3 * 3600:
    ws = 60 * MI + saw(age, 10 * MI, 60) + 300 * MI * age / 3600
    if ws >= 256 * MI:
        kills += 1
        age = 0
        restarted = 1
        x += 30  # the container is down for 30 s
        continue
    rows.append((T0 + x, int(ws), 256 * MI, int(ws), kills, restarted))
    restarted = 0
    age += 10
    x += 10
write("synth_oom_cycles.csv",
      ["timestamp", "usage_bytes", "limit_bytes", "working_set_bytes", "oom_kill", "restarted"], rows)

# 3. Healthy without a limit: warm-up that levels off plus a deploy step, 60 s sampling, 12 h,
#    fractional timestamps, an extra column the reader ignores.
rows = []
for i in range(0, 12 * 60 + 1):
    x = i * 60
    ws = 150 * MI + 80 * MI * (1 - math.exp(-x / 1800)) + saw(x, 20 * MI, 300)
    if x >= 6 * 3600:
        ws += 30 * MI * (1 - math.exp(-(x - 6 * 3600) / 300))
    rows.append((f"{T0 + x + 0.25:.2f}", int(ws), "", "web"))
write("synth_healthy_nolimit.csv", ["timestamp", "usage_bytes", "limit_bytes", "container"], rows)
