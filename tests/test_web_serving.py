"""The Serving pages in a real Chromium, over a deployment the embedded agent really runs: the list, a deployment's
page with its traffic split, replicas and revisions, the "try it" form answering through the gateway, the live
request chart drawn from the gateway's figures, and a rollback from the revisions table."""

import json
import time

import pytest
import requests
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from test_web_login import sign_in, wait_for_page

mlflow = pytest.importorskip("mlflow")

MODEL = '''
import numpy as np

class Model:
    inputs = [{"name": "x", "datatype": "FP32", "shape": [-1, 2]}]
    outputs = [{"name": "sum", "datatype": "FP32", "shape": [-1]}]

    def predict(self, batch):
        return {"sum": batch["x"].sum(axis=1).astype(np.float32) + OFFSET}
'''


def register_adder(server, tmp_path, offset):
    """A custom Python model (model.py) logged as a run's `model` folder and registered: the next version of team.web.adder."""
    folder = tmp_path / f"adder-{offset}"
    folder.mkdir()
    (folder / "model.py").write_text(f"OFFSET = {offset}\n" + MODEL)
    (folder / "requirements.txt").write_text("numpy\n")
    client = mlflow.tracking.MlflowClient(server.url)
    mlflow.set_experiment("team/web/adder")
    with mlflow.start_run() as run:
        mlflow.log_artifacts(str(folder), artifact_path="model")
    if not client.search_registered_models(filter_string="name = 'team.web.adder'"):
        client.create_registered_model("team.web.adder")
    return int(client.create_model_version("team.web.adder", f"runs:/{run.info.run_id}/model", run_id=run.info.run_id).version)


def wait_until_serving(api, name, revision, timeout=600):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        deployment = api.get(f"/deployments/{name}").json()["deployment"]
        if (deployment.get("serving_revision") or 0) >= revision and deployment["state"] == "ready":
            return deployment
        time.sleep(0.5)
    raise AssertionError(f"{name} did not serve revision {revision}: {deployment}")


def click(browser, element):
    page = browser.find_element(By.TAG_NAME, "html")
    element.click()
    wait_for_page(browser, page)


def test_deployment_pages_show_the_split_replicas_and_revisions_and_answer_the_try_it_form(browser, server, api, tmp_path, monkeypatch):
    monkeypatch.setenv("MLFLOW_TRACKING_USERNAME", "admin")
    monkeypatch.setenv("MLFLOW_TRACKING_PASSWORD", server.admin_password)
    monkeypatch.setenv("MLFLOW_DISABLE_TELEMETRY", "true")
    mlflow.set_tracking_uri(server.url)
    assert api.post("/namespaces", json={"name": "team"}).status_code == 201
    assert api.post("/namespaces/team/projects", json={"name": "web"}).status_code == 201
    first = register_adder(server, tmp_path, 0)
    second = register_adder(server, tmp_path, 100)
    created = api.post("/namespaces/team/projects/web/deployments",
                       json={"name": "adder", "models": [{"model": "team.web.adder", "version": first}], "description": "sums pairs"})
    assert created.status_code == 201, created.text
    wait_until_serving(api, "adder", 1)
    revised = api.request("PATCH", "/deployments/adder", json={"models": [
        {"model": "team.web.adder", "version": second, "weight": 80}, {"model": "team.web.adder", "version": first, "weight": 20}]})
    assert revised.status_code == 200, revised.text
    wait_until_serving(api, "adder", 2)
    time.sleep(1.5)  # the gateway reads its routes every second

    sign_in(browser, server)
    click(browser, browser.find_element(By.LINK_TEXT, "Deployments"))
    row = browser.find_element(By.CSS_SELECTOR, '#deployments tr[data-deployment="adder"]')
    assert row.get_attribute("data-state") == "ready" and "team/web" in row.text
    click(browser, row.find_element(By.LINK_TEXT, "adder"))

    assert browser.find_element(By.ID, "deployment-state").text == "ready"
    assert "POST /v2/models/adder/infer" in browser.find_element(By.ID, "endpoint").text
    splits = {bar.get_attribute("data-version"): bar.text for bar in browser.find_elements(By.CSS_SELECTOR, "#traffic .split")}
    assert "80% · 1/1 ready" in splits[str(second)] and "20% · 1/1 ready" in splits[str(first)], splits
    replicas = browser.find_elements(By.CSS_SELECTOR, "#replicas tbody tr[data-replica]")
    assert sorted(r.get_attribute("data-state") for r in replicas) == ["ready", "ready"]
    revisions = [r.get_attribute("data-revision") for r in browser.find_elements(By.CSS_SELECTOR, "#revisions tbody tr")]
    assert revisions == ["2", "1"]

    # The form starts with a request made from the model's metadata; send one to version 2 explicitly.
    request = json.loads(browser.find_element(By.ID, "try-request").get_attribute("value"))
    assert request["inputs"][0]["name"] == "x" and request["inputs"][0]["shape"] == [1, 2]
    text = browser.find_element(By.ID, "try-request")
    text.clear()
    text.send_keys(json.dumps({"inputs": [{"name": "x", "datatype": "FP32", "shape": [2, 2], "data": [[1, 2], [3, 4]]}]}))
    browser.find_element(By.CSS_SELECTOR, f'#try select[name="version"] option[value="{second}"]').click()
    click(browser, browser.find_element(By.ID, "try-send"))
    assert browser.find_element(By.ID, "try-status").text.startswith("200")
    answer = json.loads(browser.find_element(By.ID, "try-answer").text)
    assert answer["model_version"] == str(second) and answer["outputs"][0]["data"] == [103, 107]
    # A bad request shows the gateway's sentence.
    text = browser.find_element(By.ID, "try-request")
    text.clear()
    text.send_keys(json.dumps({"inputs": [{"name": "x", "datatype": "FP32", "shape": [1, 3], "data": [1, 2, 3]}]}))
    click(browser, browser.find_element(By.ID, "try-send"))
    assert browser.find_element(By.ID, "try-status").text == "400"
    assert "shape" in browser.find_element(By.ID, "try-answer").text

    # Requests from outside show on the live chart within a refresh.
    token = api.token
    for _ in range(20):
        assert requests.post(server.url + "/v2/models/adder/infer", headers={"Authorization": f"Bearer {token}"}, timeout=30,
                             json={"inputs": [{"name": "x", "datatype": "FP32", "shape": [1, 2], "data": [1, 1]}]}).status_code == 200
    WebDriverWait(browser, 15).until(lambda b: b.find_elements(By.CSS_SELECTOR, "#chart-requests path.chart-line"))
    WebDriverWait(browser, 15).until(lambda b: "requests in the last five minutes" in b.find_element(By.ID, "live-summary").text)
    lines = {p.get_attribute("data-series") for p in browser.find_elements(By.CSS_SELECTOR, "#chart-latency path.chart-line")}
    assert f"v{second} p50" in lines

    # Roll back to revision 1 from the table: a third revision, serving version 1 alone.
    rollback = browser.find_element(By.CSS_SELECTOR, '#revisions tr[data-revision="1"] button')
    click(browser, rollback)
    assert "Rolling back to revision 1" in browser.find_element(By.CSS_SELECTOR, ".flash").text
    assert [r.get_attribute("data-revision") for r in browser.find_elements(By.CSS_SELECTOR, "#revisions tbody tr")] == ["3", "2", "1"]
    deployment = wait_until_serving(api, "adder", 3)
    assert [m["version"] for m in deployment["spec"]["models"]] == [first]
