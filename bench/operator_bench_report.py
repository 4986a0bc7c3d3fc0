"""The operator bench's printed table (from the results' dict, so a saved JSON can be printed again)."""

import json
import os
import subprocess
from typing import Any

import operator_bench_scale as scale
from operator_bench_procs import REPO


def report(results: dict[str, Any]) -> str:
    lines = [
        f"operator bench: status interval {results['status_interval_s']:g} s, {os.cpu_count()} CPUs, "
        f"kube-apiserver v1.20.2 on 127.0.0.1 (no kubelet); load average {results['loadavg_start'][0]:.2f} at the "
        f"start, {results['loadavg_end'][0]:.2f} at the end; commit {results['commit']}"
        + (" (operator/ modified)" if results["operator_tree_dirty"] else ""),
        "applied = the create/patch call returned; times are when this process's watches saw the change",
        "",
        f"{'scenario':<18} {'create calls':>12}  {'applied -> Deployment ms':>26}  {'applied -> status ms':>26}"
        f"  {'all done':>9}",
        f"{'':<18} {'s':>12}  {'p50':>8} {'p95':>8} {'max':>8}  {'p50':>8} {'p95':>8} {'max':>8}  {'s':>9}",
    ]
    for group in results["scenarios"]:
        deployment, status = group["to_deployment_ms"], group["to_status_ms"]
        runs = group["runs"]
        name = f"{group['channels']} ch" + (f" x {len(runs)} runs" if len(runs) > 1 else "")
        create = max(run["create_calls_s"] for run in runs)
        done = max(run["all_done_s"] for run in runs)
        lines.append(
            f"{name:<18} {create:>12.3f}  {deployment['p50']:>8.0f} {deployment['p95']:>8.0f} {deployment['max']:>8.0f}"
            f"  {status['p50']:>8.0f} {status['p95']:>8.0f} {status['max']:>8.0f}  {done:>9.3f}"
        )
    lines += [
        "",
        f"{'spec change (everyNFrames 1->2)':<34} {'-> template hash ms':>20}  {'-> observedGeneration 2 ms':>27}",
    ]
    for group in results["scenarios"]:
        for run in group["runs"]:
            lines.append(
                f"{'1 of ' + str(run['channels']) + ' ch (' + run['namespace'] + ')':<34} "
                f"{run['update_to_template_s'] * 1000:>20.0f}  {run['update_to_status_s'] * 1000:>27.0f}"
            )
    cpu = ", ".join(
        f"{g['channels']} ch {sum(r['operator_cpu_s'] for r in g['runs']):.2f} s" for g in results["scenarios"]
    )
    idle = results["idle"]
    end = results["operator_idle_end"]
    lines += [
        "",
        f"operator CPU during the runs (create + change, all repeats): {cpu}",
        f"operator idle with {idle['channels']} channels: {idle['cpu_s']:.2f} CPU s in {idle['seconds']:.0f} s "
        f"({idle['cpu_percent']:.1f} % of a core); RSS {end['rss_mib']:.0f} MiB (peak {end['peak_rss_mib']:.0f}), "
        f"{end['threads']} threads, {end['cpu_s']:.1f} CPU s since its start ({end['uptime_s']:.0f} s up)",
        *scale.report_lines(results),
        f"log lines by severity {json.dumps(results['operator_log_severities'], sort_keys=True)}, "
        f"{results['operator_log_lost_races']} 'lost a race' (a 409 on a child, left to the refresher)",
    ]
    return "\n".join(lines)


def git(*args: str) -> str:
    done = subprocess.run(["git", *args], cwd=REPO, capture_output=True, text=True)
    return done.stdout.strip() if done.returncode == 0 else "?"


def severities(text: str) -> dict[str, int]:
    counts: dict[str, int] = {}
    for line in filter(str.strip, text.splitlines()):
        try:
            severity = str(json.loads(line).get("severity", "?"))
        except (json.JSONDecodeError, AttributeError):
            severity = "not json"
        counts[severity] = counts.get(severity, 0) + 1
    return counts
