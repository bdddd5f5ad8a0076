"""The model worker as a real process: each runtime loads its model, declares its tensors and predicts what
the model predicts in-process; bad requests get a 400 with a sentence and change nothing; a model's own
failure is a 500 and the worker keeps serving; concurrent connections are all answered right."""

import json
import os
import subprocess
import sys
import textwrap
import threading

import numpy as np
import pytest

RUNTIME_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, RUNTIME_DIR)

from slipway_worker.client import WorkerClient, WorkerError  # noqa: E402

sklearn = pytest.importorskip("sklearn")
from sklearn.datasets import load_iris  # noqa: E402
from sklearn.linear_model import LogisticRegression  # noqa: E402


@pytest.fixture(scope="module")
def iris():
    x, y = load_iris(return_X_y=True)
    model = LogisticRegression(max_iter=500).fit(x.astype(np.float32), y)
    return x.astype(np.float32), model


class Worker:
    def __init__(self, folder, tmp_path, runtime="auto"):
        environment = {**os.environ, "PYTHONPATH": RUNTIME_DIR}
        self.process = subprocess.Popen(
            [sys.executable, "-m", "slipway_worker", "--model", str(folder), "--runtime", runtime, "--name", "m",
             "--listen", f"unix:{tmp_path}/worker-{os.getpid()}-{id(self)}.sock"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=environment)
        line = self.process.stdout.readline()
        if not line:
            raise AssertionError("the worker exited: " + self.process.stderr.read())
        self.announced = json.loads(line)
        self.address = self.announced["address"]

    def client(self):
        return WorkerClient(self.address)

    def stop(self):
        self.process.terminate()
        self.process.wait(timeout=10)


@pytest.fixture
def start(tmp_path):
    workers = []

    def started(folder, runtime="auto"):
        worker = Worker(folder, tmp_path, runtime)
        workers.append(worker)
        return worker

    yield started
    for worker in workers:
        worker.stop()


def test_sklearn_model_serves_its_predictions_and_probabilities(iris, tmp_path, start):
    import joblib
    x, model = iris
    folder = tmp_path / "sk"
    folder.mkdir()
    joblib.dump(model, folder / "model.joblib")
    worker = start(folder)
    assert worker.announced["platform"] == "sklearn"
    client = worker.client()
    meta = client.metadata()
    assert meta["inputs"] == [{"name": "input", "datatype": "FP32", "shape": [-1, 4]}]
    assert [(o["name"], o["datatype"], o["shape"]) for o in meta["outputs"]] == [("predict", "INT64", [-1]), ("predict_proba", "FP64", [-1, 3])]
    out = client.infer({"input": x[:20]})
    assert out["predict"].tolist() == model.predict(x[:20]).tolist()
    np.testing.assert_allclose(out["predict_proba"], model.predict_proba(x[:20]))
    only = client.infer({"input": x[:2]}, outputs=["predict"])
    assert list(only) == ["predict"]


def test_bad_requests_are_refused_with_a_sentence_and_the_worker_keeps_serving(iris, tmp_path, start):
    import joblib
    x, model = iris
    folder = tmp_path / "sk"
    folder.mkdir()
    joblib.dump(model, folder / "model.joblib")
    client = start(folder).client()
    cases = [
        ({"features": x[:2]}, "unknown input 'features'"),
        ({"input": x[:2].astype(np.float64)}, "input 'input' is FP64; the model takes FP32"),
        ({"input": x[:2, :3]}, "has shape [2, 3]; the model takes [-1, 4]"),
        ({"input": x[0]}, "has shape [4]"),
    ]
    for inputs, message in cases:
        with pytest.raises(WorkerError) as error:
            client.infer(inputs)
        assert error.value.status == 400 and message in str(error.value), str(error.value)
    with pytest.raises(WorkerError) as error:
        client.infer({"input": x[:2]}, outputs=["nope"])
    assert error.value.status == 400 and "unknown output 'nope'" in str(error.value)
    # A header whose sizes do not match the body.
    with pytest.raises(WorkerError) as error:
        client.call({"op": "infer", "inputs": [{"name": "input", "datatype": "FP32", "shape": [1, 4], "size": 16}]}, b"\0" * 8)
    assert error.value.status == 400
    with pytest.raises(WorkerError) as error:
        client.call({"op": "infer", "inputs": [{"name": "input", "datatype": "FP32", "shape": [2, 4], "size": 16}]}, b"\0" * 16)
    assert error.value.status == 400 and "needs 32" in str(error.value)
    assert client.infer({"input": x[:3]})["predict"].tolist() == model.predict(x[:3]).tolist(), "still serving"
    assert client.health()["served"] == 1, "refused requests never reached the model"


def test_onnx_model_declares_its_graphs_tensors(iris, tmp_path, start):
    skl2onnx = pytest.importorskip("skl2onnx")
    pytest.importorskip("onnxruntime")
    from skl2onnx.common.data_types import FloatTensorType
    x, model = iris
    folder = tmp_path / "onnx"
    folder.mkdir()
    onnx_model = skl2onnx.convert_sklearn(model, initial_types=[("float_input", FloatTensorType([None, 4]))],
                                          options={id(model): {"zipmap": False}})
    (folder / "model.onnx").write_bytes(onnx_model.SerializeToString())
    worker = start(folder)
    client = worker.client()
    meta = client.metadata()
    assert meta["platform"] == "onnxruntime_onnx"
    assert meta["inputs"] == [{"name": "float_input", "datatype": "FP32", "shape": [-1, 4]}]
    assert {o["name"]: o["datatype"] for o in meta["outputs"]} == {"label": "INT64", "probabilities": "FP32"}
    out = client.infer({"float_input": x[:10]})
    assert out["label"].tolist() == model.predict(x[:10]).tolist()
    np.testing.assert_allclose(out["probabilities"], model.predict_proba(x[:10]), rtol=1e-4, atol=1e-5)


def test_mlflow_pyfunc_model_is_served_from_its_signature(iris, tmp_path, start):
    mlflow = pytest.importorskip("mlflow")
    from mlflow.models import infer_signature
    x, model = iris
    folder = tmp_path / "pyfunc"
    mlflow.sklearn.save_model(model, str(folder), signature=infer_signature(x, model.predict(x)))
    worker = start(folder)
    client = worker.client()
    meta = client.metadata()
    assert meta["platform"] == "mlflow_pyfunc"
    assert meta["inputs"] == [{"name": "input", "datatype": "FP32", "shape": [-1, 4]}]
    assert client.infer({"input": x[:7]})["predict"].tolist() == model.predict(x[:7]).tolist()


def test_custom_python_model_needs_no_serving_code_and_a_failure_is_a_500(tmp_path, start):
    folder = tmp_path / "custom"
    folder.mkdir()
    (folder / "vocabulary.txt").write_text("hello\nworld\n")
    (folder / "model.py").write_text(textwrap.dedent('''
        import numpy as np

        class Model:
            inputs = [{"name": "text", "datatype": "BYTES", "shape": [-1]}]
            outputs = [{"name": "known", "datatype": "BOOL", "shape": [-1]}, {"name": "upper", "datatype": "BYTES", "shape": [-1]}]

            def load(self, folder):
                self.words = set(open(folder + "/vocabulary.txt").read().split())

            def predict(self, batch):
                words = [t.decode() for t in batch["text"]]
                if "explode" in words:
                    raise ValueError("asked to explode")
                return {"known": np.array([w in self.words for w in words]),
                        "upper": np.array([w.upper().encode() for w in words], dtype=object)}
    '''))
    client = start(folder).client()
    out = client.infer({"text": np.array([b"hello", b"zebra", "wörld".encode()], dtype=object)})
    assert out["known"].tolist() == [True, False, False]
    assert out["upper"].tolist() == [b"HELLO", b"ZEBRA", "WÖRLD".encode()]
    with pytest.raises(WorkerError) as error:
        client.infer({"text": np.array([b"explode"], dtype=object)})
    assert error.value.status == 500 and "asked to explode" in str(error.value)
    assert client.infer({"text": np.array([b"world"], dtype=object)})["known"].tolist() == [True], "still serving"


def test_concurrent_connections_are_each_answered_with_their_own_predictions(iris, tmp_path, start):
    import joblib
    x, model = iris
    folder = tmp_path / "sk"
    folder.mkdir()
    joblib.dump(model, folder / "model.joblib")
    worker = start(folder)
    expected = model.predict(x)
    failures = []

    def hammer(offset):
        client = worker.client()
        for i in range(50):
            start_row = (offset * 7 + i) % 140
            got = client.infer({"input": x[start_row:start_row + 10]})["predict"].tolist()
            if got != expected[start_row:start_row + 10].tolist():
                failures.append((offset, i))
        client.close()

    threads = [threading.Thread(target=hammer, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
    assert worker.client().health()["served"] == 400


def test_a_model_that_cannot_load_exits_with_a_clear_message(tmp_path):
    folder = tmp_path / "empty"
    folder.mkdir()
    done = subprocess.run([sys.executable, "-m", "slipway_worker", "--model", str(folder)], capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": RUNTIME_DIR}, timeout=60)
    assert done.returncode == 3
    assert "cannot be loaded" in done.stderr and "holds no model" in done.stderr


def test_a_worker_ends_when_the_agent_that_started_it_is_gone(tmp_path):
    """An agent killed with SIGKILL cannot stop its workers: each watches its parent and exits on its own."""
    import signal
    import time

    folder = tmp_path / "m"
    folder.mkdir()
    (folder / "model.py").write_text("class Model:\n    def predict(self, batch):\n        return batch\n")
    # A stand-in for the agent: a shell that starts the worker with its own pid as the parent, then waits.
    agent = subprocess.Popen(
        ["/bin/sh", "-c", f'{sys.executable} -m slipway_worker --model {folder} --listen tcp:127.0.0.1:0 --parent-pid $$ & echo $!; wait'],
        stdout=subprocess.PIPE, text=True, env={**os.environ, "PYTHONPATH": RUNTIME_DIR})
    worker_pid = int(agent.stdout.readline())
    assert json.loads(agent.stdout.readline())["ready"]
    os.kill(agent.pid, signal.SIGKILL)
    agent.wait()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            with open(f"/proc/{worker_pid}/stat") as stat:
                if stat.read().rsplit(")", 1)[1].split()[0] == "Z":
                    return  # exited; whoever adopted it has not reaped it yet
        except FileNotFoundError:
            return
        time.sleep(0.2)
    os.kill(worker_pid, signal.SIGKILL)
    raise AssertionError("the worker outlived its agent")
