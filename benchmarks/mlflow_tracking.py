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

Where the time goes: for each phase the script also reads the CPU seconds the server used (utime + stime
from /proc/<pid>/stat, summed over the server's process tree, so MLflow's worker processes count) and the
CPU seconds of the client process itself (its floor: what the same calls cost the client whatever the
server). Wall time minus the client's CPU is what the server side (its CPU, the database, the loopback)
adds; that part is the one a faster server can remove.

Usage: python3 benchmarks/mlflow_tracking.py [--runs 200] [--params 50] [--metrics 20] [--steps 100]
                                             [--binary PATH] [--venv PATH] [--only slipway|mlflow]
"""

import argparse
import json
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

url, runs, params, metrics, steps, server_pid = sys.argv[1], *map(int, sys.argv[2:7])
TICK = os.sysconf("SC_CLK_TCK")


def server_cpu():
    """CPU seconds (user + system) of the server process and all its descendants."""
    children, cpu = {}, {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(entry))
        cpu[int(entry)] = (int(fields[11]) + int(fields[12])) / TICK
    total, todo = 0.0, [server_pid]
    while todo:
        pid = todo.pop()
        total += cpu.get(pid, 0.0)
        todo.extend(children.get(pid, []))
    return total


phases = {}


class Phase:
    """Wall time, server CPU and this client's own CPU over a `with` block."""

    def __init__(self, name):
        self.name = name

    def __enter__(self):
        self.wall, self.server, self.client = time.monotonic(), server_cpu(), time.process_time()

    def __exit__(self, *exc):
        phases[self.name] = {"wall": time.monotonic() - self.wall, "server_cpu": server_cpu() - self.server,
                             "client_cpu": time.process_time() - self.client}


client = MlflowClient(url)
rng = random.Random(7)
experiment_id = client.create_experiment(f"bench-{int(time.time() * 1000)}")
now = int(time.time() * 1000)
run_ids = []
with Phase("ingest"):
    for index in range(runs):
        run = client.create_run(experiment_id, tags={"team": ["vision", "nlp", "speech"][index % 3]})
        run_id = run.info.run_id
        run_ids.append(run_id)
        client.log_batch(run_id, params=[Param(f"p{j}", str(rng.randint(0, 9))) for j in range(params)])
        points = [Metric(f"m{k}", rng.random(), now + step, step) for k in range(metrics) for step in range(steps)]
        for start in range(0, len(points), 1000):
            client.log_batch(run_id, metrics=points[start:start + 1000])
        client.set_terminated(run_id)

filters = [
    ("metrics.m0 > 0.5", ["metrics.m1 DESC"]),
    ("params.p0 = '3' and tags.team = 'vision'", ["metrics.m2 ASC"]),
    ("metrics.m3 < 0.2 and params.p1 != '0'", ["attributes.start_time DESC"]),
    ("tags.team LIKE 'n%'", ["params.p2"]),
    ("attributes.status = 'FINISHED' and metrics.m4 >= 0.1", ["metrics.m4 DESC"]),
]
found = 0
with Phase("search"):
    for index in range(50):
        text, order = filters[index % len(filters)]
        found += len(client.search_runs([experiment_id], text, order_by=order, max_results=1000))

points = 0
with Phase("history"):
    for run_id in run_ids:
        for k in range(metrics):
            points += len(client.get_metric_history(run_id, f"m{k}"))
print(json.dumps({"phases": phases, "found": found, "points": points}))
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


def run_workload(python, url, env, args, server_pid):
    result = subprocess.run([python, "-c", WORKLOAD, url, str(args.runs), str(args.params), str(args.metrics), str(args.steps),
                             str(server_pid)], env=env, capture_output=True, text=True)
    if result.returncode != 0:
        sys.exit(f"workload against {url} failed:\n{result.stderr[-4000:]}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--params", type=int, default=50)
    parser.add_argument("--metrics", type=int, default=20)
    parser.add_argument("--steps", type=int, default=100)
    parser.add_argument("--binary", help="a slipway binary (default: build release)")
    parser.add_argument("--venv", default="/tmp/slipway-bench-mlflow", help="a virtualenv with the full mlflow package")
    parser.add_argument("--only", choices=["slipway", "mlflow"], help="run one server only (no ratios)")
    args = parser.parse_args()

    python = Path(args.venv) / "bin" / "python"
    if not python.exists():
        subprocess.run([sys.executable, "-m", "venv", args.venv], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "-q", "mlflow==3.17.2"], check=True)
    binary = args.binary
    if not binary and args.only != "mlflow":
        subprocess.run(["swift", "build", "-c", "release", "--product", "slipway"], cwd=ROOT, check=True)
        binary = subprocess.run(["swift", "build", "-c", "release", "--show-bin-path"], cwd=ROOT, check=True,
                                capture_output=True, text=True).stdout.strip() + "/slipway"

    work = Path(tempfile.mkdtemp(prefix="slipway-mlflow-bench-"))
    base_env = {k: v for k, v in os.environ.items() if not k.startswith("MLFLOW_")}
    base_env["MLFLOW_DISABLE_TELEMETRY"] = "true"
    results = {}
    try:
        if args.only != "mlflow":
            port = free_port()
            env = {**base_env, "SLIPWAY_ADMIN_PASSWORD": "benchmark-password", "SLIPWAY_LOG_LEVEL": "warning"}
            server = subprocess.Popen([binary, "serve", "--port", str(port), "--data-dir", str(work / "slipway")], env=env,
                                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            try:
                wait_for(port, server)
                client_env = {**base_env, "MLFLOW_TRACKING_USERNAME": "admin", "MLFLOW_TRACKING_PASSWORD": "benchmark-password"}
                results["slipway"] = run_workload(str(python), f"http://127.0.0.1:{port}", client_env, args, server.pid)
            finally:
                server.terminate()
                server.wait(timeout=30)

        if args.only != "slipway":
            port = free_port()
            server = subprocess.Popen(
                [str(Path(args.venv) / "bin" / "mlflow"), "server", "--host", "127.0.0.1", "--port", str(port),
                 "--backend-store-uri", f"sqlite:///{work / 'mlflow.db'}", "--artifacts-destination", str(work / "mlflow-artifacts")],
                env=base_env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            try:
                wait_for(port, server, seconds=180)
                time.sleep(2)
                results["mlflow"] = run_workload(str(python), f"http://127.0.0.1:{port}", base_env, args, server.pid)
            finally:
                server.terminate()
                server.wait(timeout=30)
    finally:
        shutil.rmtree(work, ignore_errors=True)

    points = args.runs * args.metrics * args.steps
    print(f"\nMLflow client workload, {args.runs} runs x {args.params} params x {args.metrics} metrics x {args.steps} steps "
          f"({points:,} metric points), {os.cpu_count()} cores")
    labels = (("ingest", "ingestion (log_batch)"), ("search", "50 search_runs"), ("history", "get_metric_history, all"))
    print(f"{'phase':<26}{'server':>9}{'wall':>9}{'server CPU':>12}{'client CPU':>12}{'wall-client':>13}")
    for name, result in results.items():
        for phase, label in labels:
            p = result["phases"][phase]
            print(f"{label:<26}{name:>9}{p['wall']:>8.2f}s{p['server_cpu']:>11.2f}s{p['client_cpu']:>11.2f}s"
                  f"{p['wall'] - p['client_cpu']:>12.2f}s")
    if len(results) == 2:
        s, m = results["slipway"]["phases"], results["mlflow"]["phases"]
        print(f"\n{'phase':<26}{'ratio (wall)':>14}{'ratio (server CPU)':>20}{'ratio (wall-client)':>21}")
        for phase, label in labels:
            server_side = (m[phase]["wall"] - m[phase]["client_cpu"]) / max(s[phase]["wall"] - s[phase]["client_cpu"], 1e-9)
            print(f"{label:<26}{m[phase]['wall'] / s[phase]['wall']:>13.1f}x"
                  f"{m[phase]['server_cpu'] / max(s[phase]['server_cpu'], 1e-9):>19.1f}x{server_side:>20.1f}x")
        print(f"ingestion throughput: slipway {points / s['ingest']['wall']:,.0f} points/s, "
              f"mlflow {points / m['ingest']['wall']:,.0f} points/s")
        print(f"both found the same runs: {results['slipway']['found'] == results['mlflow']['found']} "
              f"({results['slipway']['found']} vs {results['mlflow']['found']}); "
              f"history points: {results['slipway']['points']} vs {results['mlflow']['points']}")
    print(json.dumps(results))


if __name__ == "__main__":
    main()
