#!/usr/bin/env python3
"""MLflow tracking benchmark: the same stock-client workload against Slipway and against `mlflow server`.

Prints figures, asserts nothing. Both servers run on this machine, one after the other, with the same
client code (MlflowClient from the `mlflow` package), in one go:

  1. ingestion: --runs runs, each with --params params and --metrics metrics x --steps steps, logged with
     log_batch (the client's limits: 1000 metrics, 100 params per call);
  2. search: 50 search_runs calls with filters on metrics, params and tags, and ordering;
  3. history: get_metric_history for every metric of every run.

Slipway runs `slipway serve` (release build, SQLite, local disk); MLflow runs `mlflow server` with a
SQLite backend store and its default workers. The script needs the full `mlflow` package (for the
server): pass --venv with it installed (default: creates /tmp/slipway-bench-mlflow and installs it).

Usage: python3 benchmarks/mlflow_tracking.py [--runs 200] [--params 50] [--metrics 20] [--steps 100]
                                             [--binary PATH] [--venv PATH]
"""

import argparse
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

WORKLOAD = r'''
import os, random, sys, time, json
from mlflow.tracking import MlflowClient
from mlflow.entities import Metric, Param, RunTag

url, runs, params, metrics, steps = sys.argv[1], *map(int, sys.argv[2:6])
client = MlflowClient(url)
rng = random.Random(7)
experiment_id = client.create_experiment(f"bench-{int(time.time() * 1000)}")
now = int(time.time() * 1000)
run_ids = []
started = time.monotonic()
for index in range(runs):
    run = client.create_run(experiment_id, tags={"team": ["vision", "nlp", "speech"][index % 3]})
    run_id = run.info.run_id
    run_ids.append(run_id)
    client.log_batch(run_id, params=[Param(f"p{j}", str(rng.randint(0, 9))) for j in range(params)])
    points = [Metric(f"m{k}", rng.random(), now + step, step) for k in range(metrics) for step in range(steps)]
    for start in range(0, len(points), 1000):
        client.log_batch(run_id, metrics=points[start:start + 1000])
    client.set_terminated(run_id)
ingest = time.monotonic() - started

filters = [
    ("metrics.m0 > 0.5", ["metrics.m1 DESC"]),
    ("params.p0 = '3' and tags.team = 'vision'", ["metrics.m2 ASC"]),
    ("metrics.m3 < 0.2 and params.p1 != '0'", ["attributes.start_time DESC"]),
    ("tags.team LIKE 'n%'", ["params.p2"]),
    ("attributes.status = 'FINISHED' and metrics.m4 >= 0.1", ["metrics.m4 DESC"]),
]
started = time.monotonic()
found = 0
for index in range(50):
    text, order = filters[index % len(filters)]
    found += len(client.search_runs([experiment_id], text, order_by=order, max_results=1000))
search = time.monotonic() - started

started = time.monotonic()
points = 0
for run_id in run_ids:
    for k in range(metrics):
        points += len(client.get_metric_history(run_id, f"m{k}"))
history = time.monotonic() - started
print(json.dumps({"ingest": ingest, "search": search, "history": history, "found": found, "points": points}))
'''


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(port, process, seconds=120):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            sys.exit(f"the server exited early with {process.returncode}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.2)
    sys.exit("the server did not start")


def run_workload(python, url, env, args):
    result = subprocess.run([python, "-c", WORKLOAD, url, str(args.runs), str(args.params), str(args.metrics), str(args.steps)],
                            env=env, capture_output=True, text=True)
    if result.returncode != 0:
        sys.exit(f"workload against {url} failed:\n{result.stderr[-4000:]}")
    import json
    return json.loads(result.stdout.strip().splitlines()[-1])


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--params", type=int, default=50)
    parser.add_argument("--metrics", type=int, default=20)
    parser.add_argument("--steps", type=int, default=100)
    parser.add_argument("--binary", help="a slipway binary (default: build release)")
    parser.add_argument("--venv", default="/tmp/slipway-bench-mlflow", help="a virtualenv with the full mlflow package")
    args = parser.parse_args()

    python = Path(args.venv) / "bin" / "python"
    if not python.exists():
        subprocess.run([sys.executable, "-m", "venv", args.venv], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "-q", "mlflow==3.17.2"], check=True)
    binary = args.binary
    if not binary:
        subprocess.run(["swift", "build", "-c", "release", "--product", "slipway"], cwd=ROOT, check=True)
        binary = subprocess.run(["swift", "build", "-c", "release", "--show-bin-path"], cwd=ROOT, check=True,
                                capture_output=True, text=True).stdout.strip() + "/slipway"

    work = Path(tempfile.mkdtemp(prefix="slipway-mlflow-bench-"))
    base_env = {k: v for k, v in os.environ.items() if not k.startswith("MLFLOW_")}
    base_env["MLFLOW_DISABLE_TELEMETRY"] = "true"
    results = {}
    try:
        # Slipway.
        port = free_port()
        env = {**base_env, "SLIPWAY_ADMIN_PASSWORD": "benchmark-password", "SLIPWAY_LOG_LEVEL": "warning"}
        server = subprocess.Popen([binary, "serve", "--port", str(port), "--data-dir", str(work / "slipway")], env=env,
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            wait_for(port, server)
            client_env = {**base_env, "MLFLOW_TRACKING_USERNAME": "admin", "MLFLOW_TRACKING_PASSWORD": "benchmark-password"}
            results["slipway"] = run_workload(str(python), f"http://127.0.0.1:{port}", client_env, args)
        finally:
            server.terminate()
            server.wait(timeout=30)

        # MLflow's own server.
        port = free_port()
        server = subprocess.Popen(
            [str(Path(args.venv) / "bin" / "mlflow"), "server", "--host", "127.0.0.1", "--port", str(port),
             "--backend-store-uri", f"sqlite:///{work / 'mlflow.db'}", "--artifacts-destination", str(work / "mlflow-artifacts")],
            env=base_env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            wait_for(port, server, seconds=180)
            time.sleep(2)
            results["mlflow"] = run_workload(str(python), f"http://127.0.0.1:{port}", base_env, args)
        finally:
            server.terminate()
            server.wait(timeout=30)
    finally:
        shutil.rmtree(work, ignore_errors=True)

    s, m = results["slipway"], results["mlflow"]
    points = args.runs * args.metrics * args.steps
    print(f"\nMLflow client workload, {args.runs} runs x {args.params} params x {args.metrics} metrics x {args.steps} steps "
          f"({points:,} metric points), {os.cpu_count()} cores")
    print(f"{'phase':<28}{'slipway':>12}{'mlflow':>12}{'ratio':>10}")
    for phase, label in (("ingest", "ingestion (log_batch)"), ("search", "50 search_runs"), ("history", "get_metric_history, all")):
        print(f"{label:<28}{s[phase]:>11.2f}s{m[phase]:>11.2f}s{m[phase] / s[phase]:>9.1f}x")
    print(f"ingestion throughput: slipway {points / s['ingest']:,.0f} points/s, mlflow {points / m['ingest']:,.0f} points/s")
    print(f"both found the same runs: {s['found'] == m['found']} ({s['found']} vs {m['found']}); "
          f"history points: {s['points']} vs {m['points']}")


if __name__ == "__main__":
    main()
