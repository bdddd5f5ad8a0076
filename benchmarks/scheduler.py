#!/usr/bin/env python3
"""Scheduler benchmark: prints figures, asserts nothing.

Measures, with the `slipway` binary on this machine (no server needed):
  * one scheduling decision with --queued queued jobs on --nodes nodes (a busy cluster, see
    `DecisionBenchmark`), per policy: median, min and max milliseconds over --runs runs;
  * the simulator's throughput (trace jobs replayed per second of wall time, parsing excluded);
  * a policy comparison on one synthetic trace (--jobs jobs, --seed, offered load --load) on the standard
    cluster: average and p95 job completion time, makespan, utilization per resource, Jain's fairness
    index across namespaces and the longest wait.

Defaults are the issue's sizes: 10,000 queued jobs on 1,000 nodes, and a 10,000-job trace.
Usage: python3 benchmarks/scheduler.py [--queued 10000] [--nodes 1000] [--runs 7] [--jobs 10000] [--seed 1] [--load 1.0]
                                       [--build release|debug] [--scratch-path DIR] [--binary PATH]
"""

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
POLICIES = ["fifo", "drf"]


def run_json(binary, *arguments):
    """Runs a slipway command that prints JSON; returns the parsed output."""
    process = subprocess.run([binary, *arguments], capture_output=True, text=True)
    if process.returncode != 0:
        sys.exit(f"slipway {' '.join(arguments)} failed:\n{process.stdout}\n{process.stderr}")
    return json.loads(process.stdout)


def hours(seconds):
    return f"{seconds / 3600:8.2f} h"


def percent(value):
    return "     -" if value is None else f"{value * 100:5.1f} %"


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--queued", type=int, default=10_000, help="queued jobs in the decision benchmark")
    parser.add_argument("--nodes", type=int, default=1000, help="nodes in the decision benchmark")
    parser.add_argument("--runs", type=int, default=7, help="timed decisions per policy")
    parser.add_argument("--jobs", type=int, default=10_000, help="jobs in the synthetic trace")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--load", type=float, default=1.0, help="offered load of the trace relative to the cluster")
    parser.add_argument("--build", choices=["release", "debug"], default="release")
    parser.add_argument("--scratch-path", help="SwiftPM scratch folder for the build (default .build)")
    parser.add_argument("--binary", help="Use this slipway binary instead of building one")
    args = parser.parse_args()

    if args.binary:
        binary = args.binary
    else:
        scratch = ["--scratch-path", args.scratch_path] if args.scratch_path else []
        subprocess.run(["swift", "build", "-c", args.build, "--product", "slipway", *scratch], cwd=ROOT, check=True)
        binary = subprocess.run(["swift", "build", "-c", args.build, "--show-bin-path", *scratch], cwd=ROOT, check=True,
                                capture_output=True, text=True).stdout.strip() + "/slipway"

    decisions = {policy: run_json(binary, "simulate", "bench-decision", "--jobs", str(args.queued), "--nodes", str(args.nodes),
                                  "--runs", str(args.runs), "--policy", policy, "--output", "json")
                 for policy in POLICIES}

    work = Path(tempfile.mkdtemp(prefix="slipway-scheduler-bench-"))
    try:
        trace = work / "trace.csv"
        subprocess.run([binary, "simulate", "generate", "--jobs", str(args.jobs), "--seed", str(args.seed), "--load", str(args.load),
                        "--out", str(trace)], check=True, capture_output=True)
        replays = {policy: run_json(binary, "simulate", "run", "--trace", str(trace), "--policy", policy, "--output", "json")
                   for policy in POLICIES}
    finally:
        shutil.rmtree(work, ignore_errors=True)

    build = f"binary {binary}" if args.binary else f"{args.build} build"
    print(f"\nSlipway scheduler benchmark ({build}, {os.cpu_count()} cores)")
    print(f"One scheduling decision, {args.queued:,} queued jobs on {args.nodes:,} nodes ({args.runs} runs):")
    for policy, result in decisions.items():
        print(f"  {policy:5} median {result['median_milliseconds']:8.1f} ms  (min {result['minimum_milliseconds']:.1f}, "
              f"max {result['maximum_milliseconds']:.1f})  placed {result['placed_jobs']:,} jobs, {result['reservations']} reservations")
    cluster = replays["drf"]["report"]["cluster"]
    print(f"Simulator, {args.jobs:,}-job synthetic trace (seed {args.seed}, load {args.load}) on {cluster}:")
    for policy, result in replays.items():
        report = result["report"]
        print(f"  {policy:5} {result['jobs_per_second']:10,.0f} jobs/s  ({result['wall_seconds']:.2f} s, {report['decisions']:,} decisions)")
    print("Policy comparison:")
    header = f"  {'policy':6} {'avg JCT':>10} {'p95 JCT':>10} {'makespan':>10} {'cpu':>7} {'memory':>7} {'gpu':>7} {'Jain':>6} {'longest wait':>12} {'never fit':>9}"
    print(header)
    for policy, result in replays.items():
        report = result["report"]
        utilization = report["utilization"]
        fairness = "     -" if report.get("fairness") is None else f"{report['fairness']:6.3f}"
        print(f"  {policy:6} {hours(report['average_completion_time'])} {hours(report['p95_completion_time'])} {hours(report['makespan'])} "
              f"{percent(utilization.get('cpu'))} {percent(utilization.get('memory'))} {percent(utilization.get('gpu'))} {fairness} "
              f"{hours(report['longest_wait']):>12} {report['never_fit']:9}")


if __name__ == "__main__":
    main()
