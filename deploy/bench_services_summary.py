#!/usr/bin/env python3
"""Summary table of deploy/bench_services.sh: reads corvid-loadgen's JSON reports.

usage: bench_services_summary.py OUT_DIR OVERLOAD MODEL...
Writes OUT_DIR/summary.json and prints the table.
"""
import glob
import json
import os
import statistics
import sys


def load(path):
    with open(path) as f:
        return json.load(f)


def paired(res, phase):
    """(a) or (a2): per-repeat in-process vs services figures, and their medians."""
    rows = []
    for ip_path in sorted(glob.glob(os.path.join(res, phase + "_inprocess_*.json"))):
        sv_path = ip_path.replace("_inprocess_", "_services_")
        if not os.path.exists(sv_path):
            continue
        ip, sv = load(ip_path), load(sv_path)
        cpu_path = ip_path.replace("_inprocess_", "_services_cpu_").replace(".json", ".txt")
        with open(cpu_path) as f:
            tok_cpu, wk_cpu, sc_cpu = (float(x) for x in f.read().split())
        rows.append({
            "inprocess_tok_s": ip["output_throughput"],
            "services_tok_s": sv["output_throughput"],
            "ratio": sv["output_throughput"] / ip["output_throughput"]
                     if ip["output_throughput"] > 0 else 0.0,
            "inprocess_itl_p50_ms": ip["itl_ms"]["p50"],
            "services_itl_p50_ms": sv["itl_ms"]["p50"],
            "itl_p50_added_ms": sv["itl_ms"]["p50"] - ip["itl_ms"]["p50"],
            "inprocess_tpot_p50_ms": ip["tpot_ms"]["p50"],
            "services_tpot_p50_ms": sv["tpot_ms"]["p50"],
            "tpot_p50_added_ms": sv["tpot_ms"]["p50"] - ip["tpot_ms"]["p50"],
            "services_failed": sv["failed"],
            "services_multi_token_chunks": sv["multi_token_chunks"],
            "services_chunks": sv["chunks"],
            "loadgen_cpu_s": sv["process_cpu_s"],
            "inprocess_cpu_s": ip["process_cpu_s"],
            "tokenizer_cpu_s": tok_cpu,
            "worker_cpu_s": wk_cpu,
            "scheduler_cpu_s": sc_cpu,
            # Same tokens both ways, so the ratio of tokens per CPU second is the ratio of CPU
            # seconds: robust to how much of the machine each mode was given.
            "cpu_efficiency_ratio": ip["process_cpu_s"] / (tok_cpu + wk_cpu + sc_cpu +
                                                           sv["process_cpu_s"]),
            "inprocess_engine_share": ip["process_cpu_s"] / ip["duration_s"],
            "services_worker_share": wk_cpu / sv["duration_s"],
            "services_duration_s": sv["duration_s"],
        })
    med = {k: statistics.median(r[k] for r in rows) for k in rows[0]} if rows else {}
    return rows, med


def overload(res, factor):
    """(b): saturation, then open loop at 1x and factor x."""
    sat = load(os.path.join(res, "b_saturation.json"))
    with open(os.path.join(res, "b_params.txt")) as f:
        rate, deadline, slo_ttft, slo_tpot = (float(x) for x in f.read().split())
    out = {"saturation_rps": rate, "saturation_tok_s": sat["output_throughput"],
           "deadline_ms": deadline, "slo_ttft_ms": slo_ttft, "slo_tpot_ms": slo_tpot}
    for f in ("1", factor):
        r = load(os.path.join(res, "b_open_%sx.json" % f))
        rej = r["errors"].get("RESOURCE_EXHAUSTED", {"count": 0, "latency_ms": {"p99": 0}})
        out["open_%sx" % f] = {
            "rate": rate * float(f),
            "sent": r["sent"],
            "succeeded": r["succeeded"],
            "goodput_rps": r["goodput"],
            "throughput_rps": r["request_throughput"],
            "rejected": rej["count"],
            "rejection_p99_ms": rej["latency_ms"]["p99"],
            "deadline_exceeded": r["errors"].get("DEADLINE_EXCEEDED", {"count": 0})["count"],
            "other_errors": {k: v["count"] for k, v in r["errors"].items()
                             if k not in ("RESOURCE_EXHAUSTED", "DEADLINE_EXCEEDED")},
            "admitted_ttft_p99_ms": r["streamed_ttft_ms"]["p99"],
            "admitted_ttft_max_ms": r["streamed_ttft_ms"]["max"],
            "first_token_after_deadline": r["first_token_after_deadline"],
            "send_lag_p99_ms": r["send_lag_ms"]["p99"],
        }
    o1, ox = out["open_1x"], out["open_%sx" % factor]
    out["goodput_ratio_vs_1x"] = ox["goodput_rps"] / o1["goodput_rps"] if o1["goodput_rps"] else 0
    out["goodput_ratio_vs_saturation"] = ox["goodput_rps"] / rate if rate else 0
    return out


def paired_lines(title, rows, med):
    lines = ["%s: in-process vs services (per repeat)" % title]
    lines.append("    %10s %10s %7s %9s %9s %9s %9s %9s" % (
        "in-proc", "services", "ratio", "ITLp50 ip", "ITLp50 sv", "ITL +ms", "TPOT +ms",
        "lg CPU s"))
    for r in rows + ([med] if med else []):
        lines.append("    %10.1f %10.1f %7.3f %9.3f %9.3f %9.3f %9.3f %9.2f%s" % (
            r["inprocess_tok_s"], r["services_tok_s"], r["ratio"], r["inprocess_itl_p50_ms"],
            r["services_itl_p50_ms"], r["itl_p50_added_ms"], r["tpot_p50_added_ms"],
            r["loadgen_cpu_s"], "  <- median" if r is med else ""))
    if not med:
        return lines
    lines.append("    CPU s during the run (median): in-process %.2f | services: worker %.2f, "
                 "scheduler %.2f, tokenizer %.2f, loadgen %.2f" % (
                     med["inprocess_cpu_s"], med["worker_cpu_s"], med["scheduler_cpu_s"],
                     med["tokenizer_cpu_s"], med["loadgen_cpu_s"]))
    lines.append("    engine CPU share of one core (median): in-process %.2f, worker %.2f; tokens "
                 "per CPU second, services / in-process: %.3f" % (
                     med["inprocess_engine_share"], med["services_worker_share"],
                     med["cpu_efficiency_ratio"]))
    lines.append("    throughput ratio %.3f (target >= 0.95: %s); added ITL p50 %.3f ms "
                 "(target <= 0.5: %s)" % (
                     med["ratio"], "met" if med["ratio"] >= 0.95 else "MISSED",
                     med["itl_p50_added_ms"],
                     "met" if med["itl_p50_added_ms"] <= 0.5 else "MISSED"))
    return lines


def main():
    out_dir, factor, models = sys.argv[1], sys.argv[2], sys.argv[3:]
    summary = {}
    lines = []
    for m in models:
        res = os.path.join(out_dir, m)
        if not os.path.exists(os.path.join(res, "b_params.txt")):
            lines.append("%s: no results" % m)
            continue
        ov = overload(res, factor)
        summary[m] = {"overload": ov}
        lines.append("== %s" % m)
        for phase, title in (("a", "(a) closed loop"), ("a2", "(a2) backlog, all at once")):
            rows, med = paired(res, phase)
            summary[m][phase] = {"runs": rows, "median": med}
            lines.extend(paired_lines(title, rows, med))
        lines.append("(b) saturation %.2f req/s (%.1f tok/s); deadline %.1f ms; SLO TTFT <= %.1f "
                     "ms, TPOT <= %.3f ms" % (ov["saturation_rps"], ov["saturation_tok_s"],
                                               ov["deadline_ms"], ov["slo_ttft_ms"],
                                               ov["slo_tpot_ms"]))
        lines.append("    %6s %8s %6s %6s %9s %8s %9s %8s %11s %9s" % (
            "load", "rate", "sent", "ok", "goodput", "rejected", "rej p99", "deadl.x",
            "adm TTFTp99", "late 1st"))
        for f in ("1", factor):
            o = ov["open_%sx" % f]
            lines.append("    %5sx %8.2f %6d %6d %9.2f %8d %9.2f %8d %11.1f %9d" % (
                f, o["rate"], o["sent"], o["succeeded"], o["goodput_rps"], o["rejected"],
                o["rejection_p99_ms"], o["deadline_exceeded"], o["admitted_ttft_p99_ms"],
                o["first_token_after_deadline"]))
            if o["other_errors"]:
                lines.append("           other errors: %s" % o["other_errors"])
        lines.append("    goodput at %sx / at 1x = %.3f; / saturation rate = %.3f" % (
            factor, ov["goodput_ratio_vs_1x"], ov["goodput_ratio_vs_saturation"]))
    with open(os.path.join(out_dir, "summary.json"), "w") as f:
        json.dump(summary, f, indent=2)
    print("\n".join(lines))


if __name__ == "__main__":
    main()
