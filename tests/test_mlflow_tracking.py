"""The stock MLflow client (the mlflow package from PyPI, unchanged) against a running Slipway server:
experiments, runs, params, metrics, tags, inputs, search with MLflow's grammar and page tokens,
metric history, delete/restore, credentials and namespace permissions. On SQLite and PostgreSQL."""

import math
import os
import time

import pytest
import requests

mlflow = pytest.importorskip("mlflow")
from mlflow.entities import Dataset, DatasetInput, InputTag, Metric, Param, RunTag  # noqa: E402
from mlflow.exceptions import MlflowException  # noqa: E402
from mlflow.tracking import MlflowClient  # noqa: E402


@pytest.fixture
def tracking(server, monkeypatch):
    """The mlflow client pointed at the server with the admin's username and password."""
    monkeypatch.setenv("MLFLOW_TRACKING_URI", server.url)
    monkeypatch.setenv("MLFLOW_TRACKING_USERNAME", "admin")
    monkeypatch.setenv("MLFLOW_TRACKING_PASSWORD", server.admin_password)
    monkeypatch.setenv("MLFLOW_DISABLE_TELEMETRY", "true")
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    mlflow.set_tracking_uri(server.url)
    yield MlflowClient(server.url)
    while mlflow.active_run():
        mlflow.end_run()
    # The module keeps the tracking URI and the active experiment in globals: no later test may reach this server.
    mlflow.set_tracking_uri(None)
    mlflow.tracking.fluent._active_experiment_id = None
    os.environ.pop("MLFLOW_EXPERIMENT_ID", None)


def error_code(excinfo):
    return excinfo.value.error_code


def test_fluent_api_logs_runs_params_metrics_and_tags(tracking):
    experiment = mlflow.set_experiment("iris-baseline")
    assert experiment.name == "iris-baseline" and experiment.lifecycle_stage == "active"
    assert mlflow.set_experiment("iris-baseline").experiment_id == experiment.experiment_id

    with mlflow.start_run(run_name="parent") as parent:
        mlflow.log_param("lr", 0.01)
        mlflow.log_params({"depth": 3, "criterion": "gini"})
        for step in range(5):
            mlflow.log_metric("loss", 1.0 / (step + 1), step=step)
        mlflow.log_metrics({"acc": 0.9, "f1": 0.85})
        mlflow.set_tag("team", "vision")
        mlflow.set_tags({"stage": "dev", "owner": "ana"})
        with mlflow.start_run(run_name="child", nested=True) as child:
            mlflow.log_metric("loss", 0.5)

    run = tracking.get_run(parent.info.run_id)
    assert run.info.status == "FINISHED" and run.info.end_time is not None
    assert run.info.run_name == "parent"
    assert run.data.params == {"lr": "0.01", "depth": "3", "criterion": "gini"}
    assert run.data.metrics == {"loss": pytest.approx(0.2), "acc": 0.9, "f1": 0.85}
    assert run.data.tags["team"] == "vision" and run.data.tags["owner"] == "ana"
    assert run.data.tags["mlflow.user"] == "admin"
    child_run = tracking.get_run(child.info.run_id)
    assert child_run.data.tags["mlflow.parentRunId"] == parent.info.run_id

    history = tracking.get_metric_history(parent.info.run_id, "loss")
    assert [(m.step, round(m.value, 4)) for m in history] == [(0, 1.0), (1, 0.5), (2, 0.3333), (3, 0.25), (4, 0.2)]


def test_client_api_batches_inputs_tags_and_lifecycle(tracking):
    experiment_id = tracking.create_experiment("batches", tags={"purpose": "test"})
    with pytest.raises(MlflowException) as exists:
        tracking.create_experiment("batches")
    assert error_code(exists) == "RESOURCE_ALREADY_EXISTS"
    assert tracking.get_experiment(experiment_id).tags["purpose"] == "test"
    assert tracking.get_experiment_by_name("batches").experiment_id == experiment_id
    assert tracking.get_experiment_by_name("no-such-experiment") is None

    run = tracking.create_run(experiment_id, run_name="batch")
    run_id = run.info.run_id
    now = int(time.time() * 1000)
    metrics = [Metric("m", float(i), now + i, i) for i in range(1000)]
    tracking.log_batch(run_id, metrics=metrics, params=[Param("a", "1")], tags=[RunTag("t", "x")])
    tracking.log_batch(run_id, metrics=metrics[:10])  # repeated points are accepted and kept once
    assert len(tracking.get_metric_history(run_id, "m")) == 1000
    tracking.log_metric(run_id, "weird", float("nan"))
    tracking.log_metric(run_id, "big", float("inf"))
    data = tracking.get_run(run_id).data
    assert math.isnan(data.metrics["weird"]) and data.metrics["big"] == math.inf and data.metrics["m"] == 999.0

    with pytest.raises(MlflowException) as changed:
        tracking.log_param(run_id, "a", "2")
    assert error_code(changed) == "INVALID_PARAMETER_VALUE"
    tracking.log_param(run_id, "a", "1")  # the same value again is fine

    tracking.delete_tag(run_id, "t")
    assert "t" not in tracking.get_run(run_id).data.tags
    tracking.set_tag(run_id, "mlflow.runName", "renamed")
    assert tracking.get_run(run_id).info.run_name == "renamed"

    dataset = Dataset(name="iris", digest="abc123", source_type="slipway", source="team/flowers/iris@2", schema='{"x": 1}')
    tracking.log_inputs(run_id, [DatasetInput(dataset, tags=[InputTag("mlflow.data.context", "training")])])
    inputs = tracking.get_run(run_id).inputs.dataset_inputs
    assert inputs[0].dataset.name == "iris" and inputs[0].dataset.source == "team/flowers/iris@2"
    assert inputs[0].tags[0].value == "training"

    tracking.set_terminated(run_id, status="FAILED")
    assert tracking.get_run(run_id).info.status == "FAILED"
    tracking.delete_run(run_id)
    assert tracking.get_run(run_id).info.lifecycle_stage == "deleted"
    assert tracking.search_runs([experiment_id]) == []
    assert [r.info.run_id for r in tracking.search_runs([experiment_id], run_view_type=2)] == [run_id]
    tracking.restore_run(run_id)
    assert [r.info.run_id for r in tracking.search_runs([experiment_id])] == [run_id]

    tracking.delete_experiment(experiment_id)
    assert tracking.get_experiment(experiment_id).lifecycle_stage == "deleted"
    assert "batches" not in [e.name for e in tracking.search_experiments()]
    tracking.restore_experiment(experiment_id)
    tracking.rename_experiment(experiment_id, "batches-renamed")
    assert tracking.get_experiment(experiment_id).name == "batches-renamed"


def test_search_runs_with_filters_ordering_and_pages(tracking):
    experiment_id = tracking.create_experiment("search")
    ids = {}
    for index in range(12):
        run = tracking.create_run(experiment_id, run_name=f"r{index}", tags={"parity": "even" if index % 2 == 0 else "odd"})
        tracking.log_batch(run.info.run_id, metrics=[Metric("acc", index / 10, 0, 0)], params=[Param("lr", str(index % 3))])
        ids[index] = run.info.run_id

    def names(runs):
        return [r.info.run_name for r in runs]

    assert names(tracking.search_runs([experiment_id], "metrics.acc > 0.85", order_by=["metrics.acc DESC"])) == ["r11", "r10", "r9"]
    assert names(tracking.search_runs([experiment_id], "params.lr = '0' and tags.parity = 'odd'", order_by=["metrics.acc"])) == ["r3", "r9"]
    assert names(tracking.search_runs([experiment_id], "attributes.run_name LIKE 'r1%'", order_by=["attributes.run_name ASC"])) == \
        ["r1", "r10", "r11"]
    assert names(tracking.search_runs([experiment_id], f"attributes.run_id IN ('{ids[4]}', '{ids[7]}')",
                                      order_by=["metrics.acc DESC"])) == ["r7", "r4"]
    assert names(tracking.search_runs([experiment_id], "metrics.`acc` <= 0.1", order_by=["metrics.acc"])) == ["r0", "r1"]

    first = tracking.search_runs([experiment_id], order_by=["metrics.acc ASC"], max_results=5)
    assert names(first) == ["r0", "r1", "r2", "r3", "r4"] and first.token
    second = tracking.search_runs([experiment_id], order_by=["metrics.acc ASC"], max_results=5, page_token=first.token)
    third = tracking.search_runs([experiment_id], order_by=["metrics.acc ASC"], max_results=5, page_token=second.token)
    assert names(second) == ["r5", "r6", "r7", "r8", "r9"] and names(third) == ["r10", "r11"] and not third.token

    with pytest.raises(MlflowException) as malformed:
        tracking.search_runs([experiment_id], "metrics.acc >>> 1")
    assert error_code(malformed) == "INVALID_PARAMETER_VALUE"
    with pytest.raises(MlflowException) as replayed:
        tracking.search_runs([experiment_id], "metrics.acc > 0", max_results=5, page_token=first.token)
    assert error_code(replayed) == "INVALID_PARAMETER_VALUE"

    experiments = tracking.search_experiments(filter_string="name LIKE 'sea%'")
    assert [e.name for e in experiments] == ["search"]


def test_search_experiments_with_order_by_and_page_tokens(tracking):
    for index in range(5):
        tracking.create_experiment(f"order-{index}", tags={"parity": "even" if index % 2 == 0 else "odd"})
        time.sleep(0.01)  # distinct creation times

    def names(experiments):
        return [e.name for e in experiments]

    mine = "name LIKE 'order-%'"
    assert names(tracking.search_experiments(filter_string=mine, order_by=["name DESC"])) == [f"order-{i}" for i in (4, 3, 2, 1, 0)]
    assert names(tracking.search_experiments(filter_string=mine, order_by=["creation_time ASC"])) == [f"order-{i}" for i in range(5)]
    assert names(tracking.search_experiments(filter_string=mine)) == [f"order-{i}" for i in (4, 3, 2, 1, 0)], "newest first"
    assert names(tracking.search_experiments(filter_string=mine + " AND tags.parity = 'odd'", order_by=["name"])) == ["order-1", "order-3"]

    first = tracking.search_experiments(filter_string=mine, order_by=["name ASC"], max_results=2)
    assert names(first) == ["order-0", "order-1"] and first.token
    second = tracking.search_experiments(filter_string=mine, order_by=["name ASC"], max_results=2, page_token=first.token)
    third = tracking.search_experiments(filter_string=mine, order_by=["name ASC"], max_results=2, page_token=second.token)
    assert names(second) == ["order-2", "order-3"] and names(third) == ["order-4"] and not third.token
    with pytest.raises(MlflowException) as replayed:
        tracking.search_experiments(filter_string=mine, order_by=["name DESC"], max_results=2, page_token=first.token)
    assert error_code(replayed) == "INVALID_PARAMETER_VALUE"
    with pytest.raises(MlflowException) as bad_order:
        tracking.search_experiments(order_by=["name SIDEWAYS"])
    assert error_code(bad_order) == "INVALID_PARAMETER_VALUE"


def test_fluent_log_input_records_a_pandas_dataset(tracking):
    import json

    pandas = pytest.importorskip("pandas")
    frame = pandas.DataFrame({"length": [5.1, 6.2, 4.7], "species": ["setosa", "versicolor", "setosa"]})
    dataset = mlflow.data.from_pandas(frame, source="data/iris.csv", name="iris-frame", targets="species")
    experiment = mlflow.set_experiment("pandas-inputs")
    with mlflow.start_run() as run:
        mlflow.log_input(dataset, context="training", tags={"split": "train"})

    inputs = tracking.get_run(run.info.run_id).inputs.dataset_inputs
    assert len(inputs) == 1
    logged = inputs[0].dataset
    assert (logged.name, logged.digest, logged.source_type) == ("iris-frame", dataset.digest, dataset.source._get_source_type())
    assert json.loads(logged.profile)["num_rows"] == 3
    assert [column["name"] for column in json.loads(logged.schema)["mlflow_colspec"]] == ["length", "species"]
    assert {t.key: t.value for t in inputs[0].tags} == {"mlflow.data.context": "training", "split": "train"}
    found = tracking.search_runs([experiment.experiment_id], "datasets.name = 'iris-frame' AND datasets.context = 'training'")
    assert [r.info.run_id for r in found] == [run.info.run_id]


def test_bad_input_gets_mlflow_errors_and_changes_nothing(tracking, server):
    experiment_id = tracking.create_experiment("bad-input")
    run_id = tracking.create_run(experiment_id).info.run_id
    with pytest.raises(MlflowException) as unknown:
        tracking.get_run("0" * 32)
    assert error_code(unknown) == "RESOURCE_DOES_NOT_EXIST"
    base = server.url + "/api/2.0/mlflow"
    auth = ("admin", server.admin_password)
    not_number = requests.post(base + "/runs/log-metric", auth=auth, timeout=30,
                               json={"run_id": run_id, "key": "x", "value": "lots", "timestamp": 1})
    assert not_number.status_code == 400 and not_number.json()["error_code"] == "INVALID_PARAMETER_VALUE"
    escaping = requests.post(base + "/runs/log-metric", auth=auth, timeout=30,
                             json={"run_id": run_id, "key": "../x", "value": 1, "timestamp": 1})
    assert escaping.status_code == 400 and escaping.json()["error_code"] == "INVALID_PARAMETER_VALUE"
    # Twenty thousand tags fit in a megabyte but not in one statement of either database: refused, not a 500.
    crowded = requests.post(base + "/experiments/create", auth=auth, timeout=60,
                            json={"name": "crowded", "tags": [{"key": f"k{i}", "value": "v"} for i in range(20_000)]})
    assert crowded.status_code == 400 and crowded.json()["error_code"] == "INVALID_PARAMETER_VALUE", crowded.text
    assert "at most 1000" in crowded.json()["message"]
    assert tracking.get_experiment_by_name("crowded") is None
    missing_route = requests.get(base + "/no/such/route", auth=auth, timeout=30)
    assert missing_route.status_code == 404 and missing_route.json()["error_code"] == "ENDPOINT_NOT_FOUND"
    assert tracking.get_run(run_id).data.metrics == {}

    anonymous = requests.get(base + "/experiments/get", params={"experiment_id": experiment_id}, timeout=30)
    assert anonymous.status_code == 401 and anonymous.json()["error_code"] == "UNAUTHENTICATED"
    wrong = requests.get(base + "/experiments/get", params={"experiment_id": experiment_id}, auth=("admin", "nope"), timeout=30)
    assert wrong.status_code == 401


def test_tokens_namespaces_and_permissions(tracking, server, api, monkeypatch):
    assert api.post("/namespaces", json={"name": "vision"}).status_code == 201
    assert api.post("/namespaces/vision/projects", json={"name": "detector"}).status_code == 201
    experiment_id = tracking.create_experiment("vision/detector/yolo")
    assert tracking.get_experiment(experiment_id).name == "vision/detector/yolo"
    with pytest.raises(MlflowException) as nowhere:
        tracking.create_experiment("nowhere/p/x")
    assert error_code(nowhere) == "RESOURCE_DOES_NOT_EXIST"

    # A user outside the namespace sees nothing of it; a viewer reads but cannot write.
    assert api.post("/users", json={"username": "vic", "password": "password-vic"}).status_code == 201
    vic_token = requests.post(server.url + "/api/v1/auth/token", timeout=30,
                              json={"username": "vic", "password": "password-vic", "name": "mlflow"}).json()["secret"]
    monkeypatch.delenv("MLFLOW_TRACKING_USERNAME")
    monkeypatch.delenv("MLFLOW_TRACKING_PASSWORD")
    monkeypatch.setenv("MLFLOW_TRACKING_TOKEN", vic_token)
    vic = MlflowClient(server.url)
    with pytest.raises(MlflowException) as hidden:
        vic.get_experiment(experiment_id)
    assert error_code(hidden) == "RESOURCE_DOES_NOT_EXIST"
    assert vic.search_experiments() == []
    assert api.put("/namespaces/vision/members/vic", json={"role": "viewer"}).status_code == 200
    assert vic.get_experiment(experiment_id).name == "vision/detector/yolo"
    with pytest.raises(MlflowException) as denied:
        vic.create_run(experiment_id)
    assert error_code(denied) == "PERMISSION_DENIED"
    assert api.put("/namespaces/vision/members/vic", json={"role": "developer"}).status_code == 200
    run = vic.create_run(experiment_id)
    vic.log_metric(run.info.run_id, "map", 0.5)
    assert vic.get_run(run.info.run_id).data.tags["mlflow.user"] == "vic"


def test_artifacts_are_uploaded_listed_and_downloaded_through_the_proxy(tracking, server, tmp_path):
    mlflow.set_experiment("artifacts")
    folder = tmp_path / "outputs"
    (folder / "plots").mkdir(parents=True)
    (folder / "notes.txt").write_text("hello artifacts\n")
    (folder / "plots" / "curve.csv").write_text("step,loss\n0,1.0\n")
    (folder / "empty.bin").write_bytes(b"")
    with mlflow.start_run() as run:
        mlflow.log_artifact(str(folder / "notes.txt"))
        mlflow.log_artifacts(str(folder), artifact_path="bundle")
        mlflow.log_dict({"classes": ["cat", "dog"]}, "config/classes.json")
        mlflow.log_text("some text", "readme.md")
    run_id = run.info.run_id
    assert run.info.artifact_uri.startswith("mlflow-artifacts:/")

    top = sorted((f.path, f.is_dir) for f in tracking.list_artifacts(run_id))
    assert top == [("bundle", True), ("config", True), ("notes.txt", False), ("readme.md", False)]
    bundle = {f.path: f.file_size for f in tracking.list_artifacts(run_id, "bundle")}
    assert bundle == {"bundle/empty.bin": 0, "bundle/notes.txt": 16, "bundle/plots": None}

    target = tmp_path / "download"
    target.mkdir()
    local = mlflow.artifacts.download_artifacts(run_id=run_id, artifact_path="bundle", dst_path=str(target))
    assert (target / "bundle" / "plots" / "curve.csv").read_text() == "step,loss\n0,1.0\n"
    assert (target / "bundle" / "empty.bin").read_bytes() == b"" and local.endswith("bundle")
    assert mlflow.artifacts.load_dict(f"runs:/{run_id}/config/classes.json") == {"classes": ["cat", "dog"]}
    assert mlflow.artifacts.load_text(f"runs:/{run_id}/readme.md") == "some text"

    base = server.url + "/api/2.0/mlflow-artifacts/artifacts"
    auth = ("admin", server.admin_password)
    experiment_id = run.info.experiment_id
    escaping = requests.put(f"{base}/{experiment_id}/{run_id}/artifacts/..%2F..%2Fescape.txt", data=b"x", auth=auth, timeout=30)
    assert escaping.status_code == 400 and escaping.json()["error_code"] == "INVALID_PARAMETER_VALUE"
    missing = requests.get(base, params={"path": f"{experiment_id}/{run_id}/artifacts/nothing-here"}, auth=auth, timeout=30)
    assert missing.status_code == 200 and missing.json() == {}
    unknown_root = requests.put(f"{base}/999999/x.txt", data=b"x", auth=auth, timeout=30)
    assert unknown_root.status_code == 404
    assert requests.delete(f"{base}/{experiment_id}/{run_id}/artifacts/bundle", auth=auth, timeout=30).status_code == 200
    assert [f.path for f in tracking.list_artifacts(run_id, "bundle")] == []

    # Paths are index keys: at most 2048 bytes (UTF-8), said plainly; a path just under fits on both backends.
    prefix = f"{experiment_id}/{run_id}/artifacts/"
    too_long = requests.put(f"{base}/{prefix}{'d' * 3000}.txt", data=b"x", auth=auth, timeout=30)
    assert too_long.status_code == 400 and too_long.json()["error_code"] == "INVALID_PARAMETER_VALUE"
    assert "2048 bytes" in too_long.json()["message"]
    wide = "é" * ((2048 - len(prefix.encode()) - len("/x.txt")) // 2)
    multibyte = requests.put(f"{base}/{prefix}{wide}é/x.txt", data=b"x", auth=auth, timeout=30)
    assert multibyte.status_code == 400, "counted in bytes, not characters"
    fits = requests.put(f"{base}/{prefix}{wide}/x.txt", data=b"fits", auth=auth, timeout=30)
    assert fits.status_code == 200, fits.text
    assert mlflow.artifacts.load_text(f"runs:/{run_id}/{wide}/x.txt") == "fits"
    assert (wide, True) in [(f.path, f.is_dir) for f in tracking.list_artifacts(run_id)]


def test_logged_models_are_created_filled_finalized_and_found(tracking, tmp_path):
    from mlflow.entities import LoggedModelStatus, LoggedModelTag

    experiment_id = tracking.create_experiment("models")
    run = tracking.create_run(experiment_id)
    run_id = run.info.run_id
    model = tracking.create_logged_model(experiment_id, name="classifier", source_run_id=run_id,
                                         tags={"flavor": "sklearn"}, params={"C": "1.0"}, model_type="tabular")
    assert model.model_id.startswith("m-") and model.status == LoggedModelStatus.PENDING
    assert model.artifact_location.startswith("mlflow-artifacts:/") and model.params == {"C": "1.0"}

    weights = tmp_path / "model.pkl"
    weights.write_bytes(b"\x80\x04pretend-pickle")
    from mlflow.store.artifact.artifact_repository_registry import get_artifact_repository
    get_artifact_repository(model.artifact_location, tracking_uri=mlflow.get_tracking_uri()).log_artifact(str(weights))

    tracking.log_batch(run_id, metrics=[Metric("acc", 0.93, 1, 0, model_id=model.model_id, dataset_name="iris", dataset_digest="d1")])
    # MLflow 3's model inputs and outputs of a run are kept and returned with it.
    from mlflow.entities import LoggedModelInput, LoggedModelOutput
    consumer = tracking.create_run(experiment_id).info.run_id
    tracking.log_inputs(consumer, models=[LoggedModelInput(model.model_id)])
    tracking.log_inputs(consumer, models=[LoggedModelInput(model.model_id)])  # again: kept once
    assert [m.model_id for m in tracking.get_run(consumer).inputs.model_inputs] == [model.model_id]
    tracking.log_outputs(run_id, [LoggedModelOutput(model.model_id, 3)])
    assert [(o.model_id, o.step) for o in tracking.get_run(run_id).outputs.model_outputs] == [(model.model_id, 3)]
    with pytest.raises(MlflowException) as unknown_model:
        tracking.log_inputs(consumer, models=[LoggedModelInput("m-" + "0" * 32)])
    assert error_code(unknown_model) == "RESOURCE_DOES_NOT_EXIST"
    ready = tracking.finalize_logged_model(model.model_id, LoggedModelStatus.READY)
    assert ready.status == LoggedModelStatus.READY
    tracking.set_logged_model_tags(model.model_id, {"stage": "candidate"})
    tracking.delete_logged_model_tag(model.model_id, "flavor")
    fetched = tracking.get_logged_model(model.model_id)
    assert fetched.tags == {"stage": "candidate"} and fetched.metrics[0].value == 0.93 and fetched.metrics[0].dataset_name == "iris"

    found = tracking.search_logged_models(experiment_ids=[experiment_id], filter_string="name = 'classifier' AND metrics.acc > 0.9")
    assert [m.model_id for m in found] == [model.model_id]
    assert tracking.search_logged_models(experiment_ids=[experiment_id], filter_string="params.C = '2.0'") == []
    # runs:/<run>/classifier resolves to the logged model of that run and lists its files.
    assert [f.path for f in mlflow.artifacts.list_artifacts(f"runs:/{run_id}/classifier")] == ["classifier/model.pkl"]
    local = mlflow.artifacts.download_artifacts(f"models:/{model.model_id}", dst_path=str(tmp_path / "out"))
    assert open(local + "/model.pkl", "rb").read() == b"\x80\x04pretend-pickle"

    tracking.delete_logged_model(model.model_id)
    assert tracking.search_logged_models(experiment_ids=[experiment_id]) == []


def test_registry_models_versions_aliases_stages_and_loading(tracking, tmp_path):
    mlflow.set_experiment("registry")
    with mlflow.start_run() as run:
        folder = tmp_path / "model"
        folder.mkdir()
        (folder / "MLmodel").write_text("artifact_path: model\nflavors: {}\n")
        (folder / "weights.bin").write_bytes(b"\x00\x01\x02")
        mlflow.log_artifacts(str(folder), artifact_path="model")
    run_id = run.info.run_id

    registered = mlflow.register_model(f"runs:/{run_id}/model", "iris-classifier")
    assert registered.version == "1" and registered.status == "READY" and registered.run_id == run_id
    second = tracking.create_model_version("iris-classifier", f"runs:/{run_id}/model", run_id=run_id, tags={"quality": "good"},
                                           description="retrained")
    assert second.version == "2" and second.tags == {"quality": "good"}
    with pytest.raises(MlflowException) as exists:
        tracking.create_registered_model("iris-classifier")
    assert error_code(exists) == "RESOURCE_ALREADY_EXISTS"

    tracking.set_registered_model_alias("iris-classifier", "champion", "2")
    assert tracking.get_model_version_by_alias("iris-classifier", "champion").version == "2"
    tracking.transition_model_version_stage("iris-classifier", "1", "Production")
    tracking.transition_model_version_stage("iris-classifier", "2", "production", archive_existing_versions=True)
    assert tracking.get_model_version("iris-classifier", "1").current_stage == "Archived"
    assert [v.version for v in tracking.get_latest_versions("iris-classifier", stages=["Production"])] == ["2"]
    tracking.update_model_version("iris-classifier", "2", description="the best one")
    tracking.set_model_version_tag("iris-classifier", "2", "validated", "yes")
    tracking.delete_model_version_tag("iris-classifier", "2", "quality")
    tracking.set_registered_model_tag("iris-classifier", "task", "classification")
    tracking.set_registered_model_tag("iris-classifier", "draft", "yes")
    tracking.delete_registered_model_tag("iris-classifier", "draft")
    with pytest.raises(MlflowException) as no_tag:
        tracking.delete_registered_model_tag("iris-classifier", "draft")
    assert error_code(no_tag) == "RESOURCE_DOES_NOT_EXIST"
    tracking.update_registered_model("iris-classifier", description="Iris species")
    model = tracking.get_registered_model("iris-classifier")
    assert model.description == "Iris species" and model.tags == {"task": "classification"} and model.aliases == {"champion": "2"}

    # Loading back by version and by alias downloads the files.
    by_version = mlflow.artifacts.download_artifacts("models:/iris-classifier/1", dst_path=str(tmp_path / "v1"))
    assert open(by_version + "/weights.bin", "rb").read() == b"\x00\x01\x02"
    by_alias = mlflow.artifacts.download_artifacts("models:/iris-classifier@champion", dst_path=str(tmp_path / "champion"))
    assert open(by_alias + "/MLmodel").read().startswith("artifact_path: model")

    tracking.create_registered_model("other-model", tags={"task": "regression"})
    assert [m.name for m in tracking.search_registered_models(filter_string="name LIKE 'iris%'")] == ["iris-classifier"]
    assert [m.name for m in tracking.search_registered_models(order_by=["name DESC"])] == ["other-model", "iris-classifier"]
    assert sorted(v.version for v in tracking.search_model_versions(f"run_id = '{run_id}'")) == ["1", "2"]

    tracking.rename_registered_model("other-model", "renamed-model")
    assert tracking.get_registered_model("renamed-model").tags == {"task": "regression"}
    tracking.delete_registered_model_alias("iris-classifier", "champion")
    with pytest.raises(MlflowException) as gone:
        tracking.get_model_version_by_alias("iris-classifier", "champion")
    assert error_code(gone) == "RESOURCE_DOES_NOT_EXIST"
    tracking.delete_model_version("iris-classifier", "1")
    assert [v.version for v in tracking.search_model_versions("name = 'iris-classifier'")] == ["2"]
    with pytest.raises(MlflowException) as outside:
        tracking.create_model_version("iris-classifier", "/etc/passwd")
    assert error_code(outside) == "INVALID_PARAMETER_VALUE"
    tracking.delete_registered_model("renamed-model")
    with pytest.raises(MlflowException) as deleted:
        tracking.get_registered_model("renamed-model")
    assert error_code(deleted) == "RESOURCE_DOES_NOT_EXIST"


def test_sklearn_model_is_logged_registered_and_loaded_back(tracking, tmp_path):
    sklearn = pytest.importorskip("sklearn")
    import mlflow.sklearn
    from sklearn.datasets import load_iris
    from sklearn.linear_model import LogisticRegression

    features, labels = load_iris(return_X_y=True)
    model = LogisticRegression(max_iter=500).fit(features, labels)
    mlflow.set_experiment("sklearn")
    with mlflow.start_run() as run:
        mlflow.log_param("max_iter", 500)
        mlflow.log_metric("train_accuracy", model.score(features, labels))
        info = mlflow.sklearn.log_model(model, name="iris-model", registered_model_name="iris-sklearn",
                                        input_example=features[:2])
    assert str(info.registered_model_version) == "1"
    assert tracking.get_logged_model(info.model_id).status.name == "READY"
    tracking.set_registered_model_alias("iris-sklearn", "champion", "1")

    for uri in ("models:/iris-sklearn/1", "models:/iris-sklearn@champion", f"runs:/{run.info.run_id}/iris-model",
                f"models:/{info.model_id}"):
        loaded = mlflow.pyfunc.load_model(uri)
        assert list(loaded.predict(features[:5])) == list(model.predict(features[:5])), uri
    assert mlflow.sklearn.load_model("models:/iris-sklearn/1").score(features, labels) == model.score(features, labels)
    assert tracking.get_model_version("iris-sklearn", "1").run_id == run.info.run_id


def test_register_model_resolves_a_runs_uri_to_the_mlflow3_logged_model_of_that_name(tracking, tmp_path):
    pytest.importorskip("sklearn")
    import mlflow.sklearn
    from mlflow.entities import LoggedModelStatus
    from sklearn.datasets import load_iris
    from sklearn.linear_model import LogisticRegression

    features, labels = load_iris(return_X_y=True)
    model = LogisticRegression(max_iter=300).fit(features, labels)
    experiment_id = tracking.create_experiment("logged-then-registered")
    run_id = tracking.create_run(experiment_id).info.run_id
    # An MLflow 3 logged model of the run whose files live only at the model's own location, not in the run's artifacts.
    logged = tracking.create_logged_model(experiment_id, name="tree", source_run_id=run_id)
    mlflow.sklearn.save_model(model, str(tmp_path / "saved"))
    tracking.log_model_artifacts(logged.model_id, str(tmp_path / "saved"))
    tracking.finalize_logged_model(logged.model_id, LoggedModelStatus.READY)
    from mlflow.store.artifact.artifact_repository_registry import get_artifact_repository
    run_files = get_artifact_repository(tracking.get_run(run_id).info.artifact_uri, tracking_uri=mlflow.get_tracking_uri())
    assert run_files.list_artifacts("tree") == []

    # No MLmodel at runs:/<run>/tree, so the client looks for the run's logged model named "tree" and registers it.
    version = mlflow.register_model(f"runs:/{run_id}/tree", "registered-tree")
    assert version.version == "1" and version.source == f"models:/{logged.model_id}"
    assert version.run_id == run_id
    loaded = mlflow.sklearn.load_model("models:/registered-tree/1")
    assert list(loaded.predict(features[:10])) == list(model.predict(features[:10]))


def test_absolute_artifact_paths_are_refused_and_nothing_is_written(tracking, server, tmp_path):
    experiment_id = tracking.create_experiment("absolute-paths")
    run_id = tracking.create_run(experiment_id).info.run_id
    local = tmp_path / "passwd"
    local.write_text("root:x:0:0\n")
    with pytest.raises(MlflowException):  # the stock client refuses before sending anything
        tracking.log_artifact(run_id, str(local), artifact_path="/etc")

    base = server.url + "/api/2.0/mlflow-artifacts/artifacts"
    auth = ("admin", server.admin_password)
    prefix = f"{experiment_id}/{run_id}/artifacts"
    for path in (f"{prefix}/%2Fetc%2Fpasswd", f"{prefix}//etc/passwd", "%2Fetc%2Fpasswd", f"{prefix}/..%2F..%2F..%2Fetc%2Fpasswd"):
        refused = requests.put(f"{base}/{path}", data=b"planted", auth=auth, timeout=30)
        assert refused.status_code == 400, (path, refused.status_code, refused.text)
        assert refused.json()["error_code"] == "INVALID_PARAMETER_VALUE"
    listing = requests.get(base, params={"path": "/etc"}, auth=auth, timeout=30)
    assert listing.status_code in (400, 404) and listing.json()["error_code"] in ("INVALID_PARAMETER_VALUE", "RESOURCE_DOES_NOT_EXIST")
    assert tracking.list_artifacts(run_id) == []
    assert requests.get(f"{base}/{prefix}/etc/passwd", auth=auth, timeout=30).status_code == 404, "nothing was stored"


def test_dataset_versions_know_the_runs_and_model_versions_that_used_them(tracking, api, server, tmp_path):
    import hashlib

    assert api.post("/namespaces", json={"name": "team"}).status_code == 201
    assert api.post("/namespaces/team/projects", json={"name": "flowers"}).status_code == 201
    assert api.post("/namespaces/team/projects/flowers/datasets", json={"name": "iris", "task_type": "tabular_classification"}).status_code == 201
    table = b"id,length,species\na,5.1,setosa\nb,6.2,versicolor\n"
    digest = hashlib.sha256(table).hexdigest()
    assert api.put(f"/namespaces/team/blobs/{digest}", data=table).status_code == 201
    base = "/namespaces/team/projects/flowers/datasets/iris"
    assert api.post(base + "/versions", json={"source": {"format": "csv", "blob": digest, "label_column": "species"}}).status_code == 201

    experiment_id = tracking.create_experiment("team/flowers/train")
    run = tracking.create_run(experiment_id, run_name="fit-iris")
    dataset = Dataset(name="iris", digest=digest[:36], source_type="slipway", source="team/flowers/iris@1")
    tracking.log_inputs(run.info.run_id, [DatasetInput(dataset, tags=[InputTag("mlflow.data.context", "training")])])
    tracking.log_artifact(run.info.run_id, __file__, "model")
    tracking.create_registered_model("team.flowers.iris-model")
    tracking.create_model_version("team.flowers.iris-model", f"runs:/{run.info.run_id}/model", run_id=run.info.run_id)

    lineage = api.get(base + "/versions/1/lineage").json()
    assert lineage["source"] == "team/flowers/iris@1"
    assert [(r["run_name"], r["experiment_name"], r["context"]) for r in lineage["runs"]] == [("fit-iris", "team/flowers/train", "training")]
    assert lineage["model_versions"] == [{"name": "team.flowers.iris-model", "version": 1, "run_id": run.info.run_id, "stage": "None"}]
    page = requests.get(server.url + "/namespaces/team/projects/flowers/datasets/iris",
                        headers={"Authorization": f"Bearer {api.token}"}, timeout=30)
    assert "fit-iris" in page.text and "team.flowers.iris-model v1" in page.text
    assert f'href="/runs/{run.info.run_id}"' in page.text, "the run is linked to its page"
    assert 'href="/models/team.flowers.iris-model/versions/1"' in page.text, "the model version to its registry page"
