#!/usr/bin/env python3
"""Online serving benchmark: the same scikit-learn digits classifier served three ways on this machine, in one go.

Prints figures, asserts nothing.

  1. Slipway: the model logged and registered with the stock mlflow client, deployed with --workers replicas (one
     model worker process each, MLflow pyfunc runtime), queried through the gateway's Open Inference Protocol
     endpoint (POST /v2/models/digits/infer, JSON tensors, a bearer token), with dynamic batching.
  2. `mlflow models serve` on the same model folder with the same number of workers (POST /invocations).
  3. The limit: --workers processes each calling the loaded pyfunc model's predict() on one request's row in a loop,
     in-process, with no network at all.

Each system is loaded with wrk (one row of 64 pixels per request) at 1, 8 and 64 concurrent connections for
--seconds seconds each; the script prints throughput and p50/p99 latency, the ratios the targets name (Slipway
against mlflow at 64 clients, Slipway against the in-process limit), the gateway's own overhead at one client (its
p50 minus the p50 of calling the worker directly over its socket, and the gateway's server-side time outside the
worker call), and where the time goes (mean batch size, CPU seconds of the server and the workers).

Usage: python3 benchmarks/serving.py [--binary .build/release/slipway] [--python .venv/bin/python]
                                     [--workers 2] [--seconds 10] [--concurrency 1,8,64]
Needs wrk (Debian: apt-get install wrk) and a Python with mlflow, scikit-learn and numpy (the test virtualenv).
"""

import argparse
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

TRAIN = r'''
import json, os, sys
import mlflow, mlflow.sklearn
from sklearn.datasets import load_digits
from sklearn.svm import SVC
url, local = sys.argv[1], sys.argv[2]
x, y = load_digits(return_X_y=True)
model = SVC(gamma=0.001).fit(x, y)
mlflow.set_tracking_uri(url)
mlflow.set_experiment("bench/serving/digits")
with mlflow.start_run():
    info = mlflow.sklearn.log_model(model, name="model", registered_model_name="bench.serving.digits", input_example=x[:2])
mlflow.sklearn.save_model(model, local, input_example=x[:2])
print(json.dumps({"version": int(info.registered_model_version), "row": x[0].tolist()}))
'''

IN_PROCESS = r'''
import json, sys, time
import numpy as np
import mlflow.pyfunc
from sklearn.datasets import load_digits
folder, seconds = sys.argv[1], float(sys.argv[2])
model = mlflow.pyfunc.load_model(folder)
x, _ = load_digits(return_X_y=True)
row = x[:1]
for _ in range(50):
    model.predict(row)
latencies = []
end = time.perf_counter() + seconds
while True:
    start = time.perf_counter()
    if start >= end:
        break
    model.predict(row)
    latencies.append(time.perf_counter() - start)
print(json.dumps({"count": len(latencies), "seconds": seconds, "latencies": sorted(latencies)[:: max(1, len(latencies) // 20000)]}))
'''

DIRECT = r'''
import json, sys, time
import numpy as np
sys.path.insert(0, sys.argv[3])
from slipway_worker.client import WorkerClient
from sklearn.datasets import load_digits
client = WorkerClient(sys.argv[1])
x, _ = load_digits(return_X_y=True)
row = x[:1]
for _ in range(50):
    client.infer({"input": row})
latencies = []
end = time.perf_counter() + float(sys.argv[2])
while time.perf_counter() < end:
    start = time.perf_counter()
    client.infer({"input": row})
    latencies.append(time.perf_counter() - start)
latencies.sort()
print(json.dumps({"p50": latencies[len(latencies) // 2], "count": len(latencies)}))
'''


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def http(method, url, token=None, body=None, timeout=60):
    request = urllib.request.Request(url, method=method, data=json.dumps(body).encode() if body is not None else None)
    request.add_header("Content-Type", "application/json")
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    with urllib.request.urlopen(request, timeout=timeout) as response:
        text = response.read()
        return json.loads(text) if text else None


def wait_for(url, timeout=120):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(url, timeout=2).read()
            return
        except Exception:
            time.sleep(0.3)
    raise SystemExit(f"{url} did not answer within {timeout} s")


def cpu_seconds(pid):
    """User + system CPU seconds of a process and its children that have ended."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        ticks = sum(int(fields[index]) for index in (11, 12, 13, 14))
        return ticks / os.sysconf("SC_CLK_TCK")
    except OSError:
        return 0.0


def wrk(url, body, headers, connections, seconds, workdir):
    """Runs wrk; returns (requests per second, p50 ms, p99 ms, errors)."""
    script = workdir / "post.lua"
    lines = ['wrk.method = "POST"', f"wrk.body = {json.dumps(body)}"]
    for key, value in headers.items():
        lines.append(f'wrk.headers["{key}"] = "{value}"')
    lines.append("""
errors = 0
response = function(status, headers, body)
  if status ~= 200 then errors = errors + 1 end
end
done = function(summary, latency, requests)
  io.write(string.format("NON200 %d\\n", summary.errors.status))
end
""")
    script.write_text("\n".join(lines))
    threads = 1 if connections == 1 else 2
    output = subprocess.run(
        ["wrk", "-t", str(threads), "-c", str(connections), "-d", f"{seconds}s", "--latency", "--timeout", "30s", "-s", str(script), url],
        capture_output=True, text=True).stdout

    def milliseconds(label):
        match = re.search(rf"^\s+{label}%\s+([\d.]+)(us|ms|s)\s*$", output, re.M)
        if not match:
            return float("nan")
        value, unit = float(match.group(1)), match.group(2)
        return value / 1000 if unit == "us" else value * 1000 if unit == "s" else value

    rate = re.search(r"Requests/sec:\s+([\d.]+)", output)
    non200 = re.search(r"NON200 (\d+)", output)
    socket_errors = re.search(r"Socket errors: (.*)", output)
    return (float(rate.group(1)) if rate else 0.0, milliseconds("50"), milliseconds("99"),
            int(non200.group(1)) if non200 else -1, socket_errors.group(1) if socket_errors else "")


def metric_sum(exposition, name, deployment="digits"):
    total = 0.0
    for line in exposition.splitlines():
        if line.startswith(name + "{") and f'deployment="{deployment}"' in line:
            total += float(line.rsplit(" ", 1)[1])
    return total


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--binary", default=str(ROOT / ".build/release/slipway"))
    parser.add_argument("--python", default=str(ROOT / ".venv/bin/python"))
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--concurrency", default="1,8,64")
    parser.add_argument("--max-batch", type=int, default=32)
    arguments = parser.parse_args()
    if not shutil.which("wrk"):
        raise SystemExit("wrk is needed: apt-get install wrk")
    levels = [int(level) for level in arguments.concurrency.split(",")]
    workdir = Path(tempfile.mkdtemp(prefix="slipway-serving-bench-"))
    env_cache = Path(os.environ.get("SLIPWAY_ENV_CACHE_DIR", "/tmp/slipway-bench-envs"))
    processes = []
    try:
        # --- Slipway ---------------------------------------------------------------------------------------------
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        server_env = {**os.environ, "SLIPWAY_ADMIN_PASSWORD": "bench-password-1", "SLIPWAY_BCRYPT_COST": "4",
                      "SLIPWAY_ENV_CACHE_DIR": str(env_cache), "SLIPWAY_LOG_LEVEL": "warning"}
        server = subprocess.Popen([arguments.binary, "serve", "--port", str(port), "--data-dir", str(workdir / "data")],
                                  env=server_env, stdout=open(workdir / "server.log", "wb"), stderr=subprocess.STDOUT)
        processes.append(server)
        wait_for(url + "/readyz")
        token = http("POST", url + "/api/v1/auth/token", body={"username": "admin", "password": "bench-password-1", "name": "bench"})["secret"]
        http("POST", url + "/api/v1/namespaces", token, {"name": "bench"})
        http("POST", url + "/api/v1/namespaces/bench/projects", token, {"name": "serving"})
        local_model = workdir / "model"
        trained = subprocess.run(
            [arguments.python, "-c", TRAIN, url, str(local_model)], capture_output=True, text=True,
            env={**os.environ, "MLFLOW_TRACKING_TOKEN": token, "MLFLOW_DISABLE_TELEMETRY": "true"})
        if trained.returncode != 0:
            raise SystemExit("training failed:\n" + trained.stderr[-3000:])
        facts = json.loads(trained.stdout.strip().splitlines()[-1])
        http("POST", url + "/api/v1/namespaces/bench/projects/serving/deployments", token, {
            "name": "digits", "models": [{"model": "bench.serving.digits", "version": facts["version"]}],
            "min_replicas": arguments.workers, "max_replicas": arguments.workers,
            "resources": {"cpu": 0.5, "memory_bytes": 2 << 30, "gpu": 0},
            "batching": {"max_batch_size": arguments.max_batch, "max_queue_delay_microseconds": 0}})
        started = time.monotonic()
        while True:
            detail = http("GET", url + "/api/v1/deployments/digits", token)
            if detail["deployment"]["state"] == "ready":
                break
            if time.monotonic() - started > 900:
                raise SystemExit("the deployment did not become ready: " + detail["deployment"]["reason"])
            time.sleep(1)
        time.sleep(2)
        replicas = [replica for replica in detail["replicas"] if replica["state"] == "ready"]
        print(f"Slipway: {len(replicas)} replicas ready after {time.monotonic() - started:.0f} s (environment build included on a cold cache)")
        row = facts["row"]
        slipway_body = json.dumps({"inputs": [{"name": "input", "datatype": "FP64", "shape": [1, 64], "data": row}]})
        slipway_headers = {"Content-Type": "application/json", "Authorization": f"Bearer {token}"}
        worker_pids = []
        for replica in replicas:
            port_text = replica["address"].rsplit(":", 1)[1]
            listing = subprocess.run(["ss", "-ltnpH"], capture_output=True, text=True).stdout
            for line in listing.splitlines():
                if line.split()[3].endswith(":" + port_text) and "pid=" in line:
                    worker_pids.append(int(line.split("pid=")[1].split(",")[0]))

        # --- mlflow models serve ---------------------------------------------------------------------------------
        mlflow_port = free_port()
        mlflow_bin = str(Path(arguments.python).parent / "mlflow")
        mlflow_server = subprocess.Popen(
            [mlflow_bin, "models", "serve", "-m", str(local_model), "--env-manager", "local", "--workers", str(arguments.workers),
             "--host", "127.0.0.1", "--port", str(mlflow_port)],
            # It starts uvicorn from PATH: the virtualenv's.
            env={**os.environ, "MLFLOW_DISABLE_TELEMETRY": "true", "PATH": str(Path(arguments.python).parent) + ":" + os.environ.get("PATH", "")},
            stdout=open(workdir / "mlflow.log", "wb"), stderr=subprocess.STDOUT, start_new_session=True)
        processes.append(mlflow_server)
        try:
            wait_for(f"http://127.0.0.1:{mlflow_port}/ping", timeout=180)
        except SystemExit:
            print((workdir / "mlflow.log").read_text()[-3000:])
            raise
        mlflow_body = json.dumps({"inputs": [row]})

        results = {}
        for label, target, body, headers in (
            ("slipway", url + "/v2/models/digits/infer", slipway_body, slipway_headers),
            ("mlflow", f"http://127.0.0.1:{mlflow_port}/invocations", mlflow_body, {"Content-Type": "application/json"}),
        ):
            wrk(target, body, headers, 8, 3, workdir)  # warm-up
            for level in levels:
                exposition_before = urllib.request.urlopen(url + "/metrics").read().decode() if label == "slipway" else ""
                cpu_before = [cpu_seconds(server.pid)] + [cpu_seconds(pid) for pid in worker_pids] if label == "slipway" else []
                results[(label, level)] = wrk(target, body, headers, level, arguments.seconds, workdir)
                if label == "slipway":
                    exposition = urllib.request.urlopen(url + "/metrics").read().decode()
                    calls = metric_sum(exposition, "slipway_inference_batch_size_rows_count") - metric_sum(exposition_before, "slipway_inference_batch_size_rows_count")
                    rows = metric_sum(exposition, "slipway_inference_batch_size_rows_sum") - metric_sum(exposition_before, "slipway_inference_batch_size_rows_sum")
                    request_time = (metric_sum(exposition, "slipway_inference_request_duration_seconds_sum")
                                    - metric_sum(exposition_before, "slipway_inference_request_duration_seconds_sum"))
                    worker_time = (metric_sum(exposition, "slipway_inference_worker_call_duration_seconds_sum")
                                   - metric_sum(exposition_before, "slipway_inference_worker_call_duration_seconds_sum"))
                    cpu_after = [cpu_seconds(server.pid)] + [cpu_seconds(pid) for pid in worker_pids]
                    results[("slipway-detail", level)] = {
                        "batch": rows / calls if calls else float("nan"), "rows": rows,
                        "gateway_ms": (request_time / rows * 1000) if rows else float("nan"),
                        "worker_call_ms": (worker_time / calls * 1000) if calls else float("nan"),
                        "server_cpu": cpu_after[0] - cpu_before[0],
                        "worker_cpu": sum(after - before for after, before in zip(cpu_after[1:], cpu_before[1:])),
                    }

        # --- the gateway's overhead: its p50 at one client against calling the worker directly ---------------------
        direct = subprocess.run([arguments.python, "-c", DIRECT, replicas[0]["address"], str(arguments.seconds), str(ROOT / "runtime")],
                                capture_output=True, text=True)
        direct_p50 = json.loads(direct.stdout)["p50"] * 1000 if direct.returncode == 0 else float("nan")

        # --- the in-process limit ----------------------------------------------------------------------------------
        runs = [subprocess.Popen([arguments.python, "-c", IN_PROCESS, str(local_model), str(arguments.seconds)], stdout=subprocess.PIPE,
                                 text=True) for _ in range(arguments.workers)]
        outputs = [json.loads(run.communicate()[0]) for run in runs]
        in_process_rate = sum(output["count"] / output["seconds"] for output in outputs)
        latencies = sorted(value for output in outputs for value in output["latencies"])
        in_p50 = latencies[len(latencies) // 2] * 1000
        in_p99 = latencies[int(len(latencies) * 0.99)] * 1000

        # --- report --------------------------------------------------------------------------------------------------
        print(f"\nSame model (SVC digits, 64 features, one row per request), {arguments.workers} worker processes each, "
              f"{arguments.seconds} s per point, wrk on this machine ({os.cpu_count()} CPUs).\n")
        print(f"{'clients':>7}  {'system':<8} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'non-200':>7}")
        for level in levels:
            for label in ("slipway", "mlflow"):
                rate, p50, p99, errors, socket_errors = results[(label, level)]
                print(f"{level:>7}  {label:<8} {rate:>9.0f} {p50:>8.2f} {p99:>8.2f} {errors:>7}  {socket_errors}")
        print(f"{'-':>7}  {'in-proc':<8} {in_process_rate:>9.0f} {in_p50:>8.3f} {in_p99:>8.3f}   (predict() on one row, {arguments.workers} processes)")
        print("\nRatios:")
        for level in levels:
            slipway, mlflow = results[("slipway", level)][0], results[("mlflow", level)][0]
            print(f"  {level:>2} clients: Slipway / mlflow = {slipway / mlflow if mlflow else float('nan'):.2f}x;"
                  f" Slipway / in-process limit = {slipway / in_process_rate:.2f}")
        first = levels[0]
        print(f"\nGateway overhead at {first} client: Slipway p50 {results[('slipway', first)][1]:.3f} ms, direct worker call p50 "
              f"{direct_p50:.3f} ms (Python client) -> {results[('slipway', first)][1] - direct_p50:.3f} ms;"
              f" server-side, per request, outside the worker call: "
              f"{results[('slipway-detail', first)]['gateway_ms'] - results[('slipway-detail', first)]['worker_call_ms']:.3f} ms")
        print("\nWhere Slipway's time goes (per concurrency):")
        for level in levels:
            detail = results[("slipway-detail", level)]
            print(f"  {level:>2} clients: mean batch {detail['batch']:.1f} rows, request {detail['gateway_ms']:.2f} ms of which worker call "
                  f"{detail['worker_call_ms']:.2f} ms per batch; CPU: server {detail['server_cpu']:.1f} s, workers {detail['worker_cpu']:.1f} s "
                  f"in {arguments.seconds} s")
    finally:
        for process in reversed(processes):
            try:
                os.killpg(process.pid, 15) if process is not processes[0] else process.terminate()
                process.wait(timeout=30)
            except Exception:
                process.kill()
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
