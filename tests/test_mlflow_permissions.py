"""Namespace permissions as non-admin users meet them through the stock MLflow client: artifacts, MLflow 3
logged models and the registry for an outsider, a viewer, a developer and a maintainer; and MLflow's
Default experiment for users who are not administrators. On SQLite and PostgreSQL."""

import contextlib
import os

import pytest
import requests

mlflow = pytest.importorskip("mlflow")
from mlflow.entities import LoggedModelStatus  # noqa: E402
from mlflow.exceptions import MlflowException  # noqa: E402
from mlflow.store.artifact.artifact_repository_registry import get_artifact_repository  # noqa: E402
from mlflow.tracking import MlflowClient  # noqa: E402


@pytest.fixture
def users(server, api, monkeypatch):
    """Creates users and hands out their API tokens; `as_user(token)` points the mlflow client at one."""
    monkeypatch.setenv("MLFLOW_TRACKING_URI", server.url)
    monkeypatch.setenv("MLFLOW_DISABLE_TELEMETRY", "true")
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    monkeypatch.delenv("MLFLOW_TRACKING_USERNAME", raising=False)
    monkeypatch.delenv("MLFLOW_TRACKING_PASSWORD", raising=False)
    forget_mlflow_state()
    mlflow.set_tracking_uri(server.url)

    class Users:
        admin = api.token

        def create(self, name, namespace=None, role=None):
            assert api.post("/users", json={"username": name, "password": f"password-{name}"}).status_code == 201
            if namespace:
                assert api.put(f"/namespaces/{namespace}/members/{name}", json={"role": role}).status_code == 200
            response = requests.post(server.url + "/api/v1/auth/token", timeout=30,
                                     json={"username": name, "password": f"password-{name}", "name": "mlflow"})
            assert response.status_code == 201, response.text
            return response.json()["secret"]

        @contextlib.contextmanager
        def as_user(self, token):
            """The mlflow client reads its credentials on every request: switch them for the block."""
            monkeypatch.setenv("MLFLOW_TRACKING_TOKEN", token)
            try:
                yield MlflowClient(server.url)
            finally:
                monkeypatch.setenv("MLFLOW_TRACKING_TOKEN", api.token)

    monkeypatch.setenv("MLFLOW_TRACKING_TOKEN", api.token)
    yield Users()
    while mlflow.active_run():
        mlflow.end_run()
    forget_mlflow_state()


def forget_mlflow_state():
    """The mlflow module keeps the tracking URI and the active experiment in globals (and the environment):
    clear them so no test talks to another test's server."""
    mlflow.set_tracking_uri(None)
    mlflow.tracking.fluent._active_experiment_id = None
    os.environ.pop("MLFLOW_EXPERIMENT_ID", None)


def code(excinfo):
    return excinfo.value.error_code


@pytest.fixture
def lab(users, api, tmp_path):
    """Namespace `lab` (project `p`): an experiment with a run and its artifacts, a logged model, and a
    registered model with one version — all made by the admin."""
    assert api.post("/namespaces", json={"name": "lab"}).status_code == 201
    assert api.post("/namespaces/lab/projects", json={"name": "p"}).status_code == 201
    admin = MlflowClient()
    experiment_id = admin.create_experiment("lab/p/exp")
    run_id = admin.create_run(experiment_id).info.run_id
    notes = tmp_path / "notes.txt"
    notes.write_text("secret notes\n")
    admin.log_artifact(run_id, str(notes), "docs")
    model = admin.create_logged_model(experiment_id, name="clf", source_run_id=run_id)
    admin.create_registered_model("lab.p.model")
    admin.create_model_version("lab.p.model", f"runs:/{run_id}/docs", run_id=run_id)
    return {"experiment_id": experiment_id, "run_id": run_id, "model_id": model.model_id,
            "artifact_uri": admin.get_run(run_id).info.artifact_uri, "notes": notes}


def test_an_outsider_can_neither_read_nor_write_artifacts_and_a_viewer_only_reads(users, lab, tmp_path):
    outsider = users.create("olga")
    viewer = users.create("vera", "lab", "viewer")
    docs = lab["artifact_uri"] + "/docs"
    upload = tmp_path / "planted.txt"
    upload.write_text("should not land\n")

    with users.as_user(outsider) as client:
        with pytest.raises(MlflowException) as hidden:
            client.list_artifacts(lab["run_id"])
        assert code(hidden) == "RESOURCE_DOES_NOT_EXIST"
        # Straight to the artifact proxy, past runs/get: the artifact root is not visible to an outsider.
        repository = get_artifact_repository(docs, tracking_uri=mlflow.get_tracking_uri())
        (tmp_path / "stolen").mkdir()
        for attempt in (lambda: repository.list_artifacts(),
                        lambda: repository.download_artifacts("notes.txt", dst_path=str(tmp_path / "stolen")),
                        lambda: repository.log_artifact(str(upload))):
            with pytest.raises(requests.HTTPError) as refused:
                attempt()
            assert refused.value.response.status_code == 404
            assert refused.value.response.json()["error_code"] == "RESOURCE_DOES_NOT_EXIST"
        assert list((tmp_path / "stolen").iterdir()) == []

    with users.as_user(viewer) as client:
        assert [f.path for f in client.list_artifacts(lab["run_id"], "docs")] == ["docs/notes.txt"]
        local = mlflow.artifacts.download_artifacts(artifact_uri=docs + "/notes.txt", dst_path=str(tmp_path / "read"))
        assert open(local).read() == "secret notes\n"
        with pytest.raises(requests.HTTPError) as refused:
            get_artifact_repository(docs, tracking_uri=mlflow.get_tracking_uri()).log_artifact(str(upload))
        assert refused.value.response.status_code == 403
        assert refused.value.response.json()["error_code"] == "PERMISSION_DENIED"

    # Nothing the outsider or the viewer tried was written.
    assert [f.path for f in MlflowClient().list_artifacts(lab["run_id"], "docs")] == ["docs/notes.txt"]


def test_logged_models_follow_their_experiments_namespace(users, lab):
    outsider = users.create("otto")
    viewer = users.create("vito", "lab", "viewer")
    developer = users.create("dana", "lab", "developer")
    model_id, experiment_id = lab["model_id"], lab["experiment_id"]

    with users.as_user(outsider) as client:
        with pytest.raises(MlflowException) as hidden:
            client.get_logged_model(model_id)
        assert code(hidden) == "RESOURCE_DOES_NOT_EXIST"
        with pytest.raises(MlflowException) as unsearchable:
            client.search_logged_models(experiment_ids=[experiment_id])
        assert code(unsearchable) == "RESOURCE_DOES_NOT_EXIST"
        # The client looks the model up first and reports the 404 in its own words.
        with pytest.raises(MlflowException, match="may not have access"):
            client.set_logged_model_tags(model_id, {"planted": "yes"})

    with users.as_user(viewer) as client:
        assert client.get_logged_model(model_id).name == "clf"
        assert [m.model_id for m in client.search_logged_models(experiment_ids=[experiment_id])] == [model_id]
        with pytest.raises(MlflowException) as denied:
            client.set_logged_model_tags(model_id, {"planted": "yes"})
        assert code(denied) == "PERMISSION_DENIED"
        with pytest.raises(MlflowException) as not_creator:
            client.create_logged_model(experiment_id, name="mine")
        assert code(not_creator) == "PERMISSION_DENIED"
        with pytest.raises(MlflowException) as not_finalizer:
            client.finalize_logged_model(model_id, LoggedModelStatus.READY)
        assert code(not_finalizer) == "PERMISSION_DENIED"

    with users.as_user(developer) as client:
        client.set_logged_model_tags(model_id, {"reviewed": "yes"})
        assert client.finalize_logged_model(model_id, LoggedModelStatus.READY).status == LoggedModelStatus.READY
        assert client.create_logged_model(experiment_id, name="dana-model").model_id.startswith("m-")
    assert MlflowClient().get_logged_model(model_id).tags == {"reviewed": "yes"}


def test_a_run_links_only_logged_models_its_author_may_see(users, api, lab):
    """log_outputs and log_inputs name logged models by id: another namespace's model is not found (nothing is
    linked, and nothing tells its existence), the same answer as for an id that does not exist."""
    from mlflow.entities import LoggedModelInput, LoggedModelOutput

    assert api.post("/namespaces", json={"name": "elsewhere"}).status_code == 201
    assert api.post("/namespaces/elsewhere/projects", json={"name": "p"}).status_code == 201
    stranger = users.create("stan", "elsewhere", "developer")
    with users.as_user(stranger) as client:
        run_id = client.create_run(client.create_experiment("elsewhere/p/own")).info.run_id
        for model_id in [lab["model_id"], "m-" + "0" * 32]:
            with pytest.raises(MlflowException) as unseen_output:
                client.log_outputs(run_id, [LoggedModelOutput(model_id, 0)])
            assert code(unseen_output) == "RESOURCE_DOES_NOT_EXIST"
            with pytest.raises(MlflowException) as unseen_input:
                client.log_inputs(run_id, models=[LoggedModelInput(model_id)])
            assert code(unseen_input) == "RESOURCE_DOES_NOT_EXIST"
        run = client.get_run(run_id)
        assert run.outputs.model_outputs == [] and run.inputs.model_inputs == []


def test_the_registry_needs_a_maintainer_to_delete_or_promote_to_production(users, lab):
    outsider = users.create("omar")
    developer = users.create("dev", "lab", "developer")
    maintainer = users.create("mai", "lab", "maintainer")
    name = "lab.p.model"

    with users.as_user(outsider) as client:
        with pytest.raises(MlflowException) as hidden:
            client.get_registered_model(name)
        assert code(hidden) == "RESOURCE_DOES_NOT_EXIST"
        assert [m.name for m in client.search_registered_models()] == []
        with pytest.raises(MlflowException) as nowhere:
            client.create_model_version(name, f"runs:/{lab['run_id']}/docs")
        assert code(nowhere) == "RESOURCE_DOES_NOT_EXIST"

    with users.as_user(developer) as client:
        second = client.create_model_version(name, f"runs:/{lab['run_id']}/docs", run_id=lab["run_id"])
        assert second.version == "2"
        assert client.transition_model_version_stage(name, "2", "Staging").current_stage == "Staging"
        with pytest.raises(MlflowException) as promote:
            client.transition_model_version_stage(name, "2", "Production")
        assert code(promote) == "PERMISSION_DENIED"
        with pytest.raises(MlflowException) as delete_version:
            client.delete_model_version(name, "1")
        assert code(delete_version) == "PERMISSION_DENIED"
        with pytest.raises(MlflowException) as delete_model:
            client.delete_registered_model(name)
        assert code(delete_model) == "PERMISSION_DENIED"
        assert [v.version for v in client.search_model_versions(f"name = '{name}'")] == ["1", "2"]
        assert client.get_model_version(name, "2").current_stage == "Staging", "a refused promotion changes nothing"

    with users.as_user(maintainer) as client:
        assert client.transition_model_version_stage(name, "2", "Production").current_stage == "Production"
        client.delete_model_version(name, "1")
        assert [v.version for v in client.search_model_versions(f"name = '{name}'")] == ["2"]
        client.delete_registered_model(name)
        with pytest.raises(MlflowException) as gone:
            client.get_registered_model(name)
        assert code(gone) == "RESOURCE_DOES_NOT_EXIST"


def test_the_default_experiment_for_users_who_are_not_administrators(users, api):
    """A fresh server: nobody has used the Default experiment ("0") yet, so neither it nor the `default`
    namespace exists. A user outside that namespace is told it does not exist (as MLflow answers for a
    missing experiment) and creates nothing; a developer of the namespace gets a working Default."""
    outsider = users.create("nina")
    with users.as_user(outsider) as client:
        assert client.get_experiment_by_name("Default") is None
        with pytest.raises(MlflowException) as no_default:
            mlflow.start_run()
        assert code(no_default) == "RESOURCE_DOES_NOT_EXIST"
        assert "default" in str(no_default.value)
        assert client.search_experiments() == []
    assert "default" not in [n["namespace"]["name"] for n in api.get("/namespaces").json()["items"]], "the outsider created nothing"

    # The administrator's first use makes the namespace, the project and experiment 0.
    admin = MlflowClient()
    assert admin.get_experiment_by_name("Default").experiment_id == "0"
    with users.as_user(outsider) as client:
        assert client.get_experiment_by_name("Default") is None, "still outside the default namespace"

    viewer = users.create("val", "default", "viewer")
    developer = users.create("deb", "default", "developer")
    with users.as_user(viewer) as client:
        assert client.get_experiment_by_name("Default").experiment_id == "0"
        with pytest.raises(MlflowException) as read_only:
            mlflow.start_run()
        assert code(read_only) == "PERMISSION_DENIED"
    with users.as_user(developer) as client:
        assert client.get_experiment_by_name("Default").experiment_id == "0"
        with mlflow.start_run() as run:
            mlflow.log_metric("loss", 0.25)
        assert run.info.experiment_id == "0"
        assert client.get_run(run.info.run_id).data.metrics == {"loss": 0.25}
