"""Online services end to end, with the real clients: a scikit-learn digits classifier logged and registered with
the stock mlflow client (served by the MLflow pyfunc runtime) and an ONNX model made with skl2onnx (served by
onnxruntime), deployed with the CLI and queried through the gateway with `tritonclient[http]` (JSON and binary
tensors, concurrent requests, bad requests) and the `kserve` REST client; a canary split and a rollback; and a
worker killed under load, after which only the requests it had in flight have failed."""

import collections
import json
import os
import signal
import subprocess
import threading
import time

import numpy as np
import pytest
import requests

mlflow = pytest.importorskip("mlflow")
httpclient = pytest.importorskip("tritonclient.http")
from tritonclient.utils import InferenceServerException  # noqa: E402
from sklearn.datasets import load_digits  # noqa: E402
from sklearn.linear_model import LogisticRegression  # noqa: E402
from sklearn.svm import SVC  # noqa: E402

from test_jobs import cli  # noqa: E402

DIGITS_X, DIGITS_Y = load_digits(return_X_y=True)


@pytest.fixture
def tracking(server, monkeypatch):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", server.url)
    monkeypatch.setenv("MLFLOW_TRACKING_USERNAME", "admin")
    monkeypatch.setenv("MLFLOW_TRACKING_PASSWORD", server.admin_password)
    monkeypatch.setenv("MLFLOW_DISABLE_TELEMETRY", "true")
    mlflow.set_tracking_uri(server.url)
    yield mlflow.tracking.MlflowClient(server.url)
    while mlflow.active_run():
        mlflow.end_run()


def register_digits(name="team.vision.digits", gamma=0.001):
    """Trains the digits classifier and registers it with the stock client: the next version of `name`."""
    import mlflow.sklearn

    model = SVC(gamma=gamma).fit(DIGITS_X, DIGITS_Y)
    mlflow.set_experiment("team/vision/digits")
    with mlflow.start_run():
        info = mlflow.sklearn.log_model(model, name="model", registered_model_name=name, input_example=DIGITS_X[:2])
    return model, int(info.registered_model_version)


def register_onnx(tracking, tmp_path, name="team.vision.digits-onnx"):
    """A logistic regression converted by skl2onnx, its .onnx file logged as the run's `model` folder and registered."""
    from skl2onnx import to_onnx

    model = LogisticRegression(max_iter=2000).fit(DIGITS_X.astype(np.float32), DIGITS_Y)
    onnx = to_onnx(model, DIGITS_X[:1].astype(np.float32), options={id(model): {"zipmap": False}})
    folder = tmp_path / "onnx-model"
    folder.mkdir()
    (folder / "model.onnx").write_bytes(onnx.SerializeToString())
    mlflow.set_experiment("team/vision/digits-onnx")
    with mlflow.start_run() as run:
        mlflow.log_artifacts(str(folder), artifact_path="model")
    tracking.create_registered_model(name)
    version = tracking.create_model_version(name, f"runs:/{run.info.run_id}/model", run_id=run.info.run_id)
    return model, int(version.version)


def deploy(slipway_bin, server, token, name, *args):
    done = cli(slipway_bin, server, token, "deploy", "create", "team/vision", name, *args, "--wait", "--output", "json", timeout=900)
    assert done.returncode == 0, done.stderr + done.stdout
    return json.loads(done.stdout)


def triton(server):
    return httpclient.InferenceServerClient(server.url.removeprefix("http://"), network_timeout=120, connection_timeout=30)


def infer_input(x, binary=True, datatype="FP64", name="input"):
    tensor = httpclient.InferInput(name, list(x.shape), datatype)
    tensor.set_data_from_numpy(x, binary_data=binary)
    return tensor


def project(api):
    assert api.post("/namespaces", json={"name": "team"}).status_code == 201
    assert api.post("/namespaces/team/projects", json={"name": "vision"}).status_code == 201


def test_tritonclient_and_kserve_serve_an_mlflow_sklearn_model_and_an_onnx_model(server, api, tracking, slipway_bin, tmp_path):
    project(api)
    svc, version = register_digits()
    onnx_model, onnx_version = register_onnx(tracking, tmp_path)
    # tritonclient writes Inference-Header-Content-Length into the headers it is given: each call gets its own dict.
    def auth():
        return {"Authorization": f"Bearer {api.token}"}

    deployed = deploy(slipway_bin, server, api.token, "digits", "--model", f"team.vision.digits:{version}", "--max-batch", "32")
    assert deployed["deployment"]["state"] == "ready", deployed
    assert [r["state"] for r in deployed["replicas"]] == ["ready"]
    deploy(slipway_bin, server, api.token, "digits-onnx", "--model", f"team.vision.digits-onnx:{onnx_version}", "--public")

    client = triton(server)
    assert client.is_server_live() and client.is_server_ready()
    assert client.is_model_ready("digits", headers=auth())
    metadata = client.get_model_metadata("digits", headers=auth())
    assert metadata["name"] == "digits" and metadata["versions"] == [str(version)]
    assert metadata["platform"] == "mlflow_pyfunc"
    assert metadata["inputs"] == [{"name": "input", "datatype": "FP64", "shape": [-1, 64]}]
    assert metadata["outputs"][0]["name"] == "predict"
    assert "binary_tensor_data" in client.get_server_metadata()["extensions"]

    # Binary tensors (tritonclient's default) and JSON tensors give what the model gives in-process.
    sample = DIGITS_X[:20]
    answer = client.infer("digits", [infer_input(sample)], headers=auth())
    assert answer.as_numpy("predict").tolist() == svc.predict(sample).tolist()
    assert answer.get_response()["model_version"] == str(version)
    answer = client.infer(
        "digits", [infer_input(sample, binary=False)], outputs=[httpclient.InferRequestedOutput("predict", binary_data=False)], headers=auth())
    assert answer.as_numpy("predict").tolist() == svc.predict(sample).tolist()
    assert "data" in answer.get_response()["outputs"][0], "asked as JSON, answered as JSON"
    answer = client.infer("digits", [infer_input(sample)], model_version=str(version), headers=auth())
    assert answer.as_numpy("predict").tolist() == svc.predict(sample).tolist()

    # Concurrent requests, one row each, are batched by the gateway and each gets its own answer.
    wrong, done = [], []

    def hammer(start):
        own = triton(server)
        for index in range(start, 1797, 16):
            result = own.infer("digits", [infer_input(DIGITS_X[index:index + 1])], headers=auth())
            if result.as_numpy("predict")[0] != svc.predict(DIGITS_X[index:index + 1])[0]:
                wrong.append(index)
            done.append(index)

    threads = [threading.Thread(target=hammer, args=(start,)) for start in range(16)]
    [thread.start() for thread in threads]
    [thread.join() for thread in threads]
    assert len(done) == 1797 and not wrong
    exposition = requests.get(server.url + "/metrics", timeout=30).text
    batch_sum = next(line for line in exposition.splitlines() if line.startswith('slipway_inference_batch_size_rows_count{deployment="digits"'))
    assert float(batch_sum.split()[-1]) < 1797 + 4, "concurrent requests shared calls to the model"
    assert 'slipway_inference_requests_total{deployment="digits",version="%d",code="200"}' % version in exposition
    assert 'slipway_inference_request_duration_seconds_bucket{deployment="digits"' in exposition

    # The ONNX model (public: no token needed), through tritonclient and through kserve's REST client.
    onnx_answer = client.infer("digits-onnx", [infer_input(sample.astype(np.float32), datatype="FP32", name="X")])
    names = [output["name"] for output in client.get_model_metadata("digits-onnx")["outputs"]]
    assert "label" in names and "probabilities" in names
    assert onnx_answer.as_numpy("label").tolist() == onnx_model.predict(sample.astype(np.float32)).tolist()
    kserve_labels = kserve_infer(server.url, "digits-onnx", sample.astype(np.float32))
    if kserve_labels is not None:
        assert kserve_labels == onnx_model.predict(sample.astype(np.float32)).tolist()

    # Client mistakes are 4xx with {"error": …}, and the service keeps answering.
    for bad_input in (infer_input(DIGITS_X[:2, :10]), infer_input(DIGITS_X[:2].astype(np.int64), datatype="INT64")):
        with pytest.raises(InferenceServerException) as failure:
            client.infer("digits", [bad_input], headers=auth())
        assert failure.value.status() == "400", failure.value
    with pytest.raises(InferenceServerException) as failure:
        unknown = httpclient.InferInput("pixels", [1, 64], "FP64")
        unknown.set_data_from_numpy(DIGITS_X[:1])
        client.infer("digits", [unknown], headers=auth())
    assert failure.value.status() == "400" and "pixels" in failure.value.message()
    with pytest.raises(InferenceServerException) as failure:
        client.infer("nobody", [infer_input(sample)], headers=auth())
    assert failure.value.status() == "404"
    raw = requests.post(server.url + "/v2/models/digits/infer", data=b'{"inputs": [{"name": "input", "shape": [1, 64], "datatype": "FP64", "data": [1, 2]}]}',
                        headers=auth(), timeout=30)
    assert raw.status_code == 400 and "64" in raw.json()["error"]
    assert requests.post(server.url + "/v2/models/digits/infer", data=b"{", headers=auth(), timeout=30).json()["error"]
    unauthenticated = requests.post(server.url + "/v2/models/digits/infer", json={"inputs": []}, timeout=30)
    assert unauthenticated.status_code == 401 and "token" in unauthenticated.json()["error"]
    assert requests.get(server.url + "/v2/health/ready", timeout=30).json() == {"ready": True}
    assert client.infer("digits", [infer_input(DIGITS_X[:1])], headers=auth()).as_numpy("predict")[0] == DIGITS_Y[0]

    # slipway predict reads the metadata and answers the same.
    predicted = cli(slipway_bin, server, api.token, "predict", "digits", "--input", "input=" + json.dumps(DIGITS_X[:3].tolist()), "--output", "json")
    assert predicted.returncode == 0, predicted.stderr
    assert json.loads(predicted.stdout)["outputs"][0]["data"] == svc.predict(DIGITS_X[:3]).tolist()


def kserve_infer(url, model, x):
    """The labels kserve's REST client gets, or None when kserve is not installed."""
    try:
        import asyncio

        from kserve import InferenceRESTClient, InferInput, InferRequest, RESTConfig
    except ImportError:
        return None

    async def run():
        client = InferenceRESTClient(RESTConfig(protocol="v2", timeout=60))
        tensor = InferInput(name="X", shape=list(x.shape), datatype="FP32")
        tensor.set_data_from_numpy(x, binary_data=False)
        try:
            assert await client.is_server_live(url)
            assert await client.is_model_ready(url, model)
            response = await client.infer(url, InferRequest(model_name=model, infer_inputs=[tensor]), model_name=model)
            return next(output for output in response.outputs if output.name == "label").as_numpy().tolist()
        finally:
            await client.close()

    return asyncio.run(run())


@pytest.mark.parametrize("server", ["sqlite"], indirect=True)
def test_a_canary_split_rolls_out_beside_the_serving_revision_and_rolls_back(server, api, tracking, slipway_bin):
    project(api)
    _, first = register_digits()
    deploy(slipway_bin, server, api.token, "digits", "--model", f"team.vision.digits:{first}")
    _, second = register_digits(gamma=0.002)
    updated = cli(slipway_bin, server, api.token, "deploy", "update", "digits", "--model", f"team.vision.digits:{second}=75",
                  "--model", f"team.vision.digits:{first}=25", "--wait", "--output", "json", timeout=900)
    assert updated.returncode == 0, updated.stderr
    detail = json.loads(updated.stdout)
    assert detail["deployment"]["serving_revision"] == 2
    first_replica = [r for r in detail["replicas"] if r["version"] == first]
    assert first_replica and first_replica[0]["revision"] == 2 and first_replica[0]["restarts"] == 0, "version 1's replica was carried over"

    client = triton(server)
    # Gateways read routes every second: until then this one routes revision 1, where version 1 keeps answering.
    time.sleep(2)
    # tritonclient writes Inference-Header-Content-Length into the headers it is given: each call gets its own dict.
    def auth():
        return {"Authorization": f"Bearer {api.token}"}
    served = collections.Counter(
        client.infer("digits", [infer_input(DIGITS_X[:1])], headers=auth()).get_response()["model_version"] for _ in range(200))
    # The split is kept exactly over every run of 100 requests (the counter is shared, so the window may be offset).
    assert set(served) == {str(first), str(second)} and abs(served[str(second)] - 150) <= 2, served

    back = cli(slipway_bin, server, api.token, "deploy", "rollback", "digits", "--wait", "--output", "json", timeout=900)
    assert back.returncode == 0, back.stderr
    detail = json.loads(back.stdout)
    assert detail["deployment"]["revision"] == 3 and detail["deployment"]["serving_revision"] == 3
    assert [m["version"] for m in detail["deployment"]["spec"]["models"]] == [first]
    # Gateways read routes every second: after that, only version 1 answers.
    time.sleep(2)
    assert {client.infer("digits", [infer_input(DIGITS_X[:1])], headers=auth()).get_response()["model_version"] for _ in range(20)} == {str(first)}
    listed = cli(slipway_bin, server, api.token, "deploy", "list")
    assert "digits" in listed.stdout and "ready" in listed.stdout


def worker_pid(address):
    port = address.rsplit(":", 1)[1]
    for line in subprocess.run(["ss", "-ltnpH"], capture_output=True, text=True).stdout.splitlines():
        if line.split()[3].endswith(":" + port) and "pid=" in line:
            return int(line.split("pid=")[1].split(",")[0])
    raise AssertionError(f"no process listens on {address}")


@pytest.mark.parametrize("server", ["sqlite"], indirect=True)
def test_a_worker_killed_under_load_is_replaced_and_only_its_in_flight_requests_fail(server, api, tracking, slipway_bin):
    project(api)
    svc, version = register_digits()
    deploy(slipway_bin, server, api.token, "digits", "--model", f"team.vision.digits:{version}", "--max-batch", "8")
    # tritonclient writes Inference-Header-Content-Length into the headers it is given: each call gets its own dict.
    def auth():
        return {"Authorization": f"Bearer {api.token}"}
    outcomes = collections.Counter()
    stop = threading.Event()

    def load():
        own = triton(server)
        while not stop.is_set():
            try:
                own.infer("digits", [infer_input(DIGITS_X[:1])], headers=auth())
                outcomes["ok"] += 1
            except InferenceServerException as error:
                outcomes[error.status()] += 1

    threads = [threading.Thread(target=load) for _ in range(8)]
    [thread.start() for thread in threads]
    time.sleep(3)
    before = outcomes["ok"]
    replica = api.get("/deployments/digits").json()["replicas"][0]
    os.kill(worker_pid(replica["address"]), signal.SIGKILL)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        now = api.get("/deployments/digits").json()["replicas"][0]
        if now["restarts"] >= 1 and now["state"] == "ready":
            break
        time.sleep(0.5)
    recovered_at = outcomes["ok"]
    time.sleep(3)
    stop.set()
    [thread.join() for thread in threads]
    assert before > 0
    assert now["restarts"] == 1 and now["state"] == "ready", now
    assert outcomes["ok"] > recovered_at, f"the service answers again after the restart: {dict(outcomes)}"
    failed = sum(count for key, count in outcomes.items() if key != "ok")
    # The gateway keeps at most two calls in flight per replica, of at most 8 requests each.
    assert 0 < failed <= 16 and set(outcomes) <= {"ok", "502"}, dict(outcomes)


@pytest.mark.parametrize("server", ["sqlite"], indirect=True)
def test_a_hung_worker_fails_its_health_checks_and_is_replaced(server, api, tracking, slipway_bin):
    server.stop()
    server.env.update({"SLIPWAY_WORKER_HEALTH_INTERVAL": "0.5", "SLIPWAY_WORKER_HEALTH_TIMEOUT": "1",
                       "SLIPWAY_GATEWAY_MAX_REQUEST_BYTES": "4096"})
    server.start()
    token = requests.post(server.url + "/api/v1/auth/token", timeout=30,
                          json={"username": "admin", "password": server.admin_password, "name": "hung"}).json()["secret"]
    api.session.headers["Authorization"] = f"Bearer {token}"
    project(api)
    svc, version = register_digits()
    deploy(slipway_bin, server, token, "digits", "--model", f"team.vision.digits:{version}")
    replica = api.get("/deployments/digits").json()["replicas"][0]
    hung = worker_pid(replica["address"])
    os.kill(hung, signal.SIGSTOP)  # alive, but answers nothing
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            now = api.get("/deployments/digits").json()["replicas"][0]
            if now["restarts"] >= 1 and now["state"] == "ready":
                break
            time.sleep(0.5)
        assert now["restarts"] == 1 and now["state"] == "ready" and now["address"] != replica["address"], now
        with pytest.raises(ProcessLookupError):
            os.kill(hung, 0)  # the hung process was killed, not left behind
    finally:
        try:
            os.kill(hung, signal.SIGKILL)
        except ProcessLookupError:
            pass
    time.sleep(1.5)
    answer = triton(server).infer("digits", [infer_input(DIGITS_X[:2])], headers={"Authorization": f"Bearer {token}"})
    assert answer.as_numpy("predict").tolist() == svc.predict(DIGITS_X[:2]).tolist()
    # A body over the gateway's limit is refused before anything is decoded.
    big = requests.post(server.url + "/v2/models/digits/infer", data=b"x" * 10_000, headers={"Authorization": f"Bearer {token}"}, timeout=30)
    assert big.status_code == 413 and "4096" in big.json()["error"]


@pytest.mark.parametrize("server", ["sqlite"], indirect=True)
def test_a_worker_killed_at_every_start_ends_failed_and_says_why(server, api, tracking, tmp_path):
    """A model whose worker dies while loading (as under the kernel's OOM killer: a signal, no exit code) is
    restarted with backoff a few times, then the replica is failed with the reason, and the deployment says so
    instead of waiting for ever."""
    project(api)
    folder = tmp_path / "doomed"
    folder.mkdir()
    (folder / "model.py").write_text(
        "import os, signal\n\n"
        "class Model:\n"
        "    def load(self):\n"
        "        os.kill(os.getpid(), signal.SIGKILL)\n\n"
        "    def predict(self, batch):\n"
        "        return batch\n")
    mlflow.set_experiment("team/vision/doomed")
    with mlflow.start_run() as run:
        mlflow.log_artifacts(str(folder), artifact_path="model")
    tracking.create_registered_model("team.vision.doomed")
    tracking.create_model_version("team.vision.doomed", f"runs:/{run.info.run_id}/model", run_id=run.info.run_id)
    created = api.post("/namespaces/team/projects/vision/deployments",
                       json={"name": "doomed", "models": [{"model": "team.vision.doomed", "version": 1}]})
    assert created.status_code == 201, created.text
    # Each replica fails after five quick endings; after three failed replicas the deployment stops making more.
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline:
        deployment = api.get("/deployments/doomed").json()["deployment"]
        if "failed 3 times" in deployment["reason"]:
            break
        time.sleep(1)
    assert "failed 3 times" in deployment["reason"], deployment
    assert "ended 5 times in a row" in deployment["reason"] and "signal" in deployment["reason"], deployment
    assert deployment.get("serving_revision") is None and deployment["state"] != "ready", deployment
