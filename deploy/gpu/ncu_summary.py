#!/usr/bin/env python3
"""Summarises an `ncu --csv --metrics gpu__time_duration.sum` log of a few decode steps
(corvid-bench --profile_steps N): time per kernel family per step, and the step's kernel sum.

   python3 ncu_summary.py LOG STEPS
"""
import collections
import csv
import re
import sys


def family(name):
    """Short kernel name: template arguments and parameters dropped, cuBLAS kernels grouped."""
    n = name.replace("(anonymous namespace)::", "").replace("<unnamed>::", "")
    n = re.sub(r"^void ", "", n)
    n = re.sub(r"\(.*", "", n)
    n = re.sub(r"<.*", "", n)
    n = n.split("::")[-1]
    if n.startswith(("sm90_", "sm80_", "cutlass", "nvjet", "gemv", "gemmk", "splitK")):
        return "cublas:" + n[:48]
    return n


def main():
    path, steps = sys.argv[1], int(sys.argv[2])
    rows = []
    with open(path, newline="") as f:
        lines = [l for l in f if l.startswith('"')]
    for r in csv.DictReader(lines):
        if r.get("Metric Name") != "gpu__time_duration.sum":
            continue
        v = float(r["Metric Value"].replace(",", ""))
        unit = r.get("Metric Unit", "ns")
        us = v / 1000.0 if unit in ("nsecond", "ns") else v * 1000.0 if unit in ("msecond", "ms") else v
        rows.append((family(r["Kernel Name"]), r.get("Grid Size", ""), us))
    total = sum(us for _, _, us in rows)
    agg = collections.OrderedDict()
    for fam, grid, us in rows:
        key = (fam, grid)
        c, t = agg.get(key, (0, 0.0))
        agg[key] = (c + 1, t + us)
    print(f"{len(rows)} kernels over {steps} steps; kernel time per step {total / steps:.1f} us")
    print(f"{'kernel':58s} {'grid':>16s} {'n/step':>7s} {'us/call':>9s} {'us/step':>9s} {'%':>6s}")
    for (fam, grid), (c, t) in sorted(agg.items(), key=lambda kv: -kv[1][1]):
        print(f"{fam[:58]:58s} {grid:>16s} {c / steps:7.1f} {t / c:9.2f} {t / steps:9.1f} "
              f"{100 * t / total:5.1f}%")


if __name__ == "__main__":
    main()
