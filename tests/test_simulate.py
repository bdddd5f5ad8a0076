"""`slipway simulate` end to end: the real binary generates a small trace, replays it through both policies and
prints the measures the issue asks for; a hand-made trace checks the figures against what they must be."""

import csv
import json
import os
import subprocess

import pytest


def simulate(slipway_bin, *args):
    environment = {k: v for k, v in os.environ.items() if not k.startswith("SLIPWAY_")}
    return subprocess.run([slipway_bin, "simulate", *args], capture_output=True, text=True, env=environment, timeout=300)


def figures(table):
    """The FIGURE/VALUE rows of the printed table, by figure."""
    rows = {}
    for line in table.splitlines():
        parts = line.split("  ")
        parts = [part.strip() for part in parts if part.strip()]
        if len(parts) >= 2:
            rows[parts[0]] = parts[1]
    return rows


@pytest.mark.parametrize("policy", ["fifo", "drf"])
def test_a_generated_trace_replays_with_every_measure_printed(slipway_bin, tmp_path, policy):
    trace = tmp_path / "trace.csv"
    generated = simulate(slipway_bin, "generate", "--jobs", "300", "--seed", "7", "--load", "1.2", "--nodes", "4x64/512/8,2x64/256/0",
                         "--out", str(trace))
    assert generated.returncode == 0, generated.stderr
    assert "wrote 300 jobs" in generated.stderr
    with trace.open() as handle:
        jobs = list(csv.DictReader(handle))
    assert len(jobs) == 300
    # The same seed gives the same trace.
    again = simulate(slipway_bin, "generate", "--jobs", "300", "--seed", "7", "--load", "1.2", "--nodes", "4x64/512/8,2x64/256/0")
    assert again.stdout == trace.read_text()

    arguments = ["--trace", str(trace), "--policy", policy, "--nodes", "4x64/512/8,2x64/256/0"]
    table = simulate(slipway_bin, *arguments)
    assert table.returncode == 0, table.stderr
    assert table.stdout.startswith(f"Policy {policy} on ")
    printed = figures(table.stdout)
    for figure in ["average job completion time", "p95 job completion time", "makespan", "utilization: cpu", "utilization: memory",
                   "utilization: gpu", "fairness (Jain's index)", "longest wait"]:
        assert figure in printed, f"{figure} missing from:\n{table.stdout}"
    # The namespaces of the trace each have a row.
    for namespace in {job["namespace"] for job in jobs}:
        assert f"\n{namespace} " in table.stdout

    result = json.loads(simulate(slipway_bin, *arguments, "--output", "json").stdout)
    report = result["report"]
    assert report["jobs"] == 300
    assert report["completed"] + report["never_fit"] == 300
    durations = [float(job["duration"]) for job in jobs]
    submits = [float(job["submit_time"]) for job in jobs]
    # No job finishes before it could: completion time is at least the duration, the makespan spans the submissions.
    assert report["average_completion_time"] >= min(durations)
    assert report["p95_completion_time"] >= 0
    assert report["makespan"] >= max(submits) - min(submits)
    assert report["makespan"] >= max(durations)
    for resource in ("cpu", "memory", "gpu"):
        assert 0 < report["utilization"][resource] <= 1
    assert report["fairness"] is None or 1 / 4 - 1e-9 <= report["fairness"] <= 1 + 1e-9
    assert report["longest_wait"] >= 0
    assert result["jobs_per_second"] > 0
    # The printed table says the same as the JSON.
    assert printed["makespan"].startswith(f"{round(report['makespan'])} s")


def test_a_hand_made_trace_gives_the_figures_it_must(slipway_bin, tmp_path):
    # One 4-core node. a (4 cores, 100 s) and b (4 cores, 50 s) arrive at 0, c (2 cores, 10 s) at 10.
    # FIFO: a 0–100, b 100–150, c 150–160 (behind b). JCTs 100, 150, 150; makespan 160; longest wait c, 140 s.
    trace = tmp_path / "hand.csv"
    trace.write_text(
        "# a tiny trace\n"
        "job_id,submit_time,duration,cpu,memory_gib,gpu,namespace\n"
        "a,0,100,4,1,0,x\n"
        "b,0,50,4,1,0,y\n"
        "\n"
        "c,10,10,2,1,0,x\n")
    result = simulate(slipway_bin, "--trace", str(trace), "--policy", "fifo", "--nodes", "1x4/16/0", "--output", "json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)["report"]
    assert report["jobs"] == 3 and report["completed"] == 3
    assert report["average_completion_time"] == pytest.approx((100 + 150 + 150) / 3)
    assert report["p95_completion_time"] == pytest.approx(150)
    assert report["makespan"] == pytest.approx(160)
    assert report["utilization"]["cpu"] == pytest.approx((4 * 100 + 4 * 50 + 2 * 10) / (4 * 160))
    assert report["longest_wait"] == pytest.approx(140)
    assert report["longest_wait_job_id"] == "c"
    table = figures(simulate(slipway_bin, "--trace", str(trace), "--policy", "fifo", "--nodes", "1x4/16/0").stdout)
    assert table["makespan"].startswith("160 s")
    assert table["longest wait"] == "140 s (2 min) (c)"
    assert table["utilization: cpu"] == "96.9 %"

    # A bad row is refused with its line, and nothing is printed as if it had worked.
    bad = tmp_path / "bad.csv"
    bad.write_text("submit_time,duration,cpu,memory_gib,gpu,namespace\n0,10,abc,1,0,x\n")
    refused = simulate(slipway_bin, "--trace", str(bad))
    assert refused.returncode == 1
    assert "line 2" in refused.stderr and "abc" in refused.stderr
    assert refused.stdout == ""
    unknown = simulate(slipway_bin, "--trace", str(trace), "--policy", "lottery")
    assert unknown.returncode != 0 and "fifo" in unknown.stderr and "drf" in unknown.stderr
