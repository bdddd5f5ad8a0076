"""A job as a whole training run, with real processes and the stock mlflow client: code packed and uploaded by
the CLI, a dataset version materialized for it, its MLflow run (metrics logged by the job itself), its output
folder as the run's artifacts, the lineage from the dataset to the run, the job's token held to its own
namespace; quota enforcement by the scheduler; and a clear failure for a container image on a node without
docker or podman."""

import hashlib
import json
import shutil
import subprocess
import sys
import textwrap
import time

import pytest
import requests

from test_jobs import JOBS, cli, project, submit, wait_for

mlflow = pytest.importorskip("mlflow")

TRAIN = textwrap.dedent("""
    import csv, json, os, urllib.request, urllib.error
    import mlflow

    data = os.path.join(os.environ["SLIPWAY_INPUT_TRAIN"], "data.csv")
    with open(data) as f:
        rows = list(csv.DictReader(f))
    print(f"read {len(rows)} rows from {data}")
    with mlflow.start_run() as run:           # resumes the job's run (MLFLOW_RUN_ID)
        mlflow.log_param("rows", len(rows))
        for step, loss in enumerate([0.9, 0.5, 0.2]):
            mlflow.log_metric("loss", loss, step=step)
        print("run", run.info.run_id)
    out = os.environ["SLIPWAY_OUTPUT_DIR"]
    os.makedirs(os.path.join(out, "model"), exist_ok=True)
    with open(os.path.join(out, "model", "weights.json"), "w") as f:
        json.dump({"rows": len(rows), "helper": open("helper.txt").read().strip()}, f)

    # The job's token is held to its own namespace.
    def status(path):
        request = urllib.request.Request(os.environ["SLIPWAY_URL"] + "/api/v1" + path,
                                         headers={"Authorization": "Bearer " + os.environ["SLIPWAY_TOKEN"]})
        try:
            return urllib.request.urlopen(request).status
        except urllib.error.HTTPError as error:
            return error.code
    print("own namespace", status("/namespaces/team/projects"))
    print("other namespace", status("/namespaces/other/projects"))
    print("users", status("/users"))
""")


def push_csv(api, text):
    data = text.encode()
    digest = hashlib.sha256(data).hexdigest()
    assert api.put(f"/namespaces/team/blobs/{digest}", data=data).status_code == 201
    created = api.post("/namespaces/team/projects/vision/datasets/flowers/versions",
                       json={"source": {"format": "csv", "blob": digest, "label_column": "species", "id_column": "id"}, "message": "v"})
    assert created.status_code == 201, created.text


def test_a_job_trains_from_its_code_and_dataset_and_records_an_mlflow_run_with_outputs_and_lineage(
        server, api, slipway_bin, tmp_path, monkeypatch):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", server.url)
    monkeypatch.setenv("MLFLOW_TRACKING_USERNAME", "admin")
    monkeypatch.setenv("MLFLOW_TRACKING_PASSWORD", server.admin_password)
    monkeypatch.setenv("MLFLOW_DISABLE_TELEMETRY", "true")
    project(api)
    assert api.post("/namespaces", json={"name": "other"}).status_code == 201
    assert api.post("/namespaces/other/projects", json={"name": "secret"}).status_code == 201
    assert api.post("/namespaces/team/projects/vision/datasets",
                    json={"name": "flowers", "task_type": "tabular_classification"}).status_code == 201
    push_csv(api, "id,length,species\n" + "".join(f"r{i},{i / 10},{'ab'[i % 2]}\n" for i in range(30)))
    push_csv(api, "id,length,species\n" + "".join(f"r{i},{i / 10},{'ab'[i % 2]}\n" for i in range(42)))

    code = tmp_path / "code"
    code.mkdir()
    (code / "train.py").write_text(TRAIN)
    (code / "helper.txt").write_text("from the code folder\n")
    (code / "checkpoints").mkdir()
    (code / "checkpoints" / "huge.bin").write_bytes(b"x" * 1000)
    (code / ".slipwayignore").write_text("# not code\ncheckpoints/\n")
    (code / "__pycache__").mkdir()
    (code / "__pycache__" / "train.cpython-311.pyc").write_bytes(b"cache")
    spec = tmp_path / "job.yaml"
    spec.write_text(textwrap.dedent(f"""
        name: train-flowers
        command: {sys.executable} train.py && test ! -e checkpoints && test ! -e __pycache__
        code: code
        resources: {{cpu: 0.5, memory: 512MiB}}
        inputs:
          - {{name: train, dataset: flowers, version: 1}}
        experiment: flowers-training
        env: {{MLFLOW_DISABLE_TELEMETRY_X: "1"}}
    """))
    token = api.session.headers["Authorization"].split(" ", 1)[1]
    bad = cli(slipway_bin, server, token, "job", "submit", "team/vision", "--file", str(spec))
    assert bad.returncode == 1 and "set by Slipway itself" in bad.stderr, bad.stderr
    spec.write_text(spec.read_text().replace('env: {MLFLOW_DISABLE_TELEMETRY_X: "1"}', 'env: {TRAIN_SEED: "7"}'))
    done = cli(slipway_bin, server, token, "job", "submit", "team/vision", "--file", str(spec), "--follow", "--output", "json", timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "read 30 rows" in done.stdout, "version 1 was pulled, not the latest"
    assert "[slipway] code " in done.stdout and "3 files" in done.stdout, "train.py, helper.txt, .slipwayignore"
    assert "own namespace 200" in done.stdout
    assert "other namespace 404" in done.stdout, "a job's token cannot see other namespaces"
    assert "users 403" in done.stdout, "nor manage users"
    assert "uploaded 1 output files" in done.stdout

    job = api.get("/jobs?state=succeeded").json()["items"][0]
    assert job["spec"]["inputs"][0]["version"] == 1
    run_id, experiment_id = job["run_id"], job["experiment_id"]
    client = mlflow.tracking.MlflowClient()
    run = client.get_run(run_id)
    assert run.info.status == "FINISHED"
    assert run.info.experiment_id == experiment_id
    assert client.get_experiment(experiment_id).name == "team/vision/flowers-training"
    assert run.data.params["rows"] == "30"
    assert [m.value for m in client.get_metric_history(run_id, "loss")] == [0.9, 0.5, 0.2]
    assert run.data.tags["slipway.job"] == job["id"].lower()
    assert run.data.tags["slipway.code.digest"] == job["spec"]["code"]["sha256"]
    assert [f.path for f in client.list_artifacts(run_id, "model")] == ["model/weights.json"]
    weights = json.loads(open(client.download_artifacts(run_id, "model/weights.json", str(tmp_path))).read())
    assert weights == {"rows": 30, "helper": "from the code folder"}

    # The dataset version knows the run that trained on it, and the run knows its data and job.
    lineage = api.get("/namespaces/team/projects/vision/datasets/flowers/versions/1/lineage").json()
    assert run_id in [use["run_id"] for use in lineage["runs"]]
    view = api.get(f"/runs/{run_id}").json()
    assert view["job"] == job["id"].lower()
    assert view["code"]["snapshot_digest"] == job["spec"]["code"]["sha256"]
    assert [(i["source"], i["dataset"]["version"]) for i in view["inputs"]] == [("team/vision/flowers@1", 1)]

    # Submitting the same code again uploads nothing; the node reuses its cached archive and dataset.
    again = cli(slipway_bin, server, token, "job", "submit", "team/vision", "--file", str(spec), "--follow", timeout=300)
    assert again.returncode == 0, again.stdout + again.stderr
    assert "already uploaded" in again.stderr
    assert "(0 downloaded)" in again.stdout


def test_bad_inputs_and_code_are_refused_before_anything_is_queued(server, api):
    project(api)
    base = {"name": "x", "command": "true", "resources": {"cpu": 0.5, "memory_bytes": 64 << 20, "gpu": 0}}
    missing = api.post(JOBS, json={**base, "inputs": [{"name": "train", "dataset": "nope"}]})
    assert missing.status_code == 404 and "nope" in missing.json()["error"]["message"]
    code = api.post(JOBS, json={**base, "code": {"sha256": "a" * 64, "size_bytes": 10}})
    assert code.status_code == 400 and code.json()["error"]["code"] == "code_missing"
    both = api.post(JOBS, json={**base, "environment": {"image": "python:3.11-slim", "requirements": ["numpy"]}})
    assert both.status_code == 400 and "either an image or a Python version" in both.json()["error"]["message"]
    elsewhere = api.post(JOBS, json={**base, "experiment": "other/project/exp"})
    assert elsewhere.status_code == 400
    assert api.get("/jobs").json()["items"] == [], "nothing was queued"


def test_quota_keeps_a_namespaces_second_job_waiting_with_the_reason_until_the_first_ends(server, api):
    project(api)
    assert api.put("/namespaces/team/quota", json={"cpu": 1}).status_code == 200
    too_big = api.post(JOBS, json={"name": "big", "command": "true", "resources": {"cpu": 2, "memory_bytes": 64 << 20, "gpu": 0}})
    assert too_big.status_code == 400 and too_big.json()["error"]["code"] == "exceeds_quota"
    assert "cpu 2 > 1" in too_big.json()["error"]["message"], "the sentence names what is over the quota"
    first = submit(api, "first", "sleep 3", cpu=1, memory=64 << 20)
    wait_for(api, first, {"running"})
    second = submit(api, "second", "echo second", cpu=1, memory=64 << 20)
    deadline = time.monotonic() + 20
    while True:
        job = api.get(f"/jobs/{second}").json()["job"]
        if "quota" in job["reason"] or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert job["state"] == "queued" and job["reason"].startswith("waiting: exceeds namespace quota"), job
    assert api.get(f"/jobs/{first}").json()["job"]["state"] == "running", "the quota, not the node, holds it back"
    finished = wait_for(api, second, {"succeeded", "failed"}, timeout=60)
    assert finished["state"] == "succeeded"
    first_done = api.get(f"/jobs/{first}").json()["job"]
    assert first_done["finished_at"] <= finished["started_at"], "the second started only when the first ended"


def container_runtime_works():
    runtime = shutil.which("docker") or shutil.which("podman")
    return bool(runtime) and subprocess.run([runtime, "info"], capture_output=True, timeout=30).returncode == 0


@pytest.mark.skipif(container_runtime_works(), reason="this machine can run containers (and has no images to test with offline)")
def test_a_container_job_on_a_node_that_cannot_run_containers_fails_saying_why(server, api):
    project(api)
    job = submit(api, "boxed", "python -c 'print(1)'", environment={"image": "python:3.11-slim"})
    failed = wait_for(api, job, {"failed", "succeeded"}, timeout=60)
    assert failed["state"] == "failed"
    assert "the job runs in the image python:3.11-slim, but" in failed["reason"], failed
    assert "neither docker nor podman" in failed["reason"] or "cannot run containers here" in failed["reason"], failed
