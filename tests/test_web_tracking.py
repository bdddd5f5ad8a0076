"""Tracking and registry pages in a real Chromium, over runs the stock mlflow client logged: the runs table
(filter, sort, columns), comparing runs, a run's charts and artifact previews, and a model version's lineage."""

import struct
import zlib

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from test_web_login import sign_in, wait_for_page

mlflow = pytest.importorskip("mlflow")


def tiny_png(width=3, height=2) -> bytes:
    """A valid RGB PNG made with the standard library."""

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    rows = b"".join(b"\x00" + b"\xff\x00\x00" * width for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b"")


def click(browser, element):
    page = browser.find_element(By.TAG_NAME, "html")
    element.click()
    wait_for_page(browser, page)


def run_names(browser):
    return [row.find_elements(By.TAG_NAME, "td")[1].text for row in browser.find_elements(By.CSS_SELECTOR, "#runs tbody tr[data-run]")]


def test_runs_table_compare_run_page_and_model_lineage(browser, server, api, monkeypatch, tmp_path):
    assert api.post("/namespaces", json={"name": "team"}).status_code == 201
    assert api.post("/namespaces/team/projects", json={"name": "flowers"}).status_code == 201
    monkeypatch.setenv("MLFLOW_TRACKING_USERNAME", "admin")
    monkeypatch.setenv("MLFLOW_TRACKING_PASSWORD", server.admin_password)
    monkeypatch.setenv("MLFLOW_DISABLE_TELEMETRY", "true")
    mlflow.set_tracking_uri(server.url)
    experiment = mlflow.set_experiment("team/flowers/tuning")
    ids = {}
    for name, lr, optimizer in [("slow", 0.001, "adam"), ("fast", 0.1, "adam"), ("plain", 0.01, "sgd")]:
        with mlflow.start_run(run_name=name) as run:
            mlflow.log_params({"lr": lr, "optimizer": optimizer})
            for step in range(10):
                mlflow.log_metric("loss", 1.0 / (1 + step * lr * 10), step=step)
            ids[name] = run.info.run_id
    with mlflow.start_run(run_id=ids["fast"]):
        mlflow.log_text("hello from the run\n", "notes/readme.txt")
        mlflow.log_dict({"depth": 3, "kind": "tree"}, "config.json")
        image = tmp_path / "sample.png"
        image.write_bytes(tiny_png())
        mlflow.log_artifact(str(image), "images")
    client = mlflow.tracking.MlflowClient(server.url)
    client.create_registered_model("team.flowers.tuned")
    client.create_model_version("team.flowers.tuned", f"runs:/{ids['fast']}/config.json", run_id=ids["fast"])

    sign_in(browser, server)
    browser.get(server.url + "/experiments")
    click(browser, browser.find_element(By.LINK_TEXT, "team/flowers/tuning"))
    assert sorted(run_names(browser)) == ["fast", "plain", "slow"]

    # Filter with MLflow's grammar, then sort by clicking a column header.
    box = browser.find_element(By.NAME, "filter")
    box.send_keys("params.optimizer = 'adam'")
    click(browser, browser.find_element(By.CSS_SELECTOR, "#run-filter button[type=submit]"))
    assert sorted(run_names(browser)) == ["fast", "slow"]
    click(browser, browser.find_element(By.CSS_SELECTOR, "#runs thead a[href*='order_by=metrics.%60loss%60']"))
    assert run_names(browser) == ["slow", "fast"], "loss descending: the slow learner ends higher"
    assert "▼" in browser.find_element(By.CSS_SELECTOR, "#runs thead").text

    # A filter that does not parse is explained on the page.
    box = browser.find_element(By.NAME, "filter")
    box.clear()
    box.send_keys("metrics.loss >> 1")
    click(browser, browser.find_element(By.CSS_SELECTOR, "#run-filter button[type=submit]"))
    assert browser.find_element(By.ID, "filter-error").text

    # Compare two runs: the differing param is highlighted and both lines share one chart.
    browser.get(f"{server.url}/experiments/{experiment.experiment_id}")
    for run_id in (ids["slow"], ids["plain"]):
        browser.find_element(By.CSS_SELECTOR, f"tr[data-run='{run_id}'] input[type=checkbox]").click()
    click(browser, browser.find_element(By.CSS_SELECTOR, "#compare-form button[type=submit]"))
    assert browser.find_element(By.CSS_SELECTOR, "tr.differs[data-key='optimizer']")
    assert browser.find_element(By.CSS_SELECTOR, "tr.differs[data-key='lr']")
    assert len(browser.find_elements(By.CSS_SELECTOR, "figure[data-metric='loss'] polyline")) == 2

    # The run page: a chart per metric, and the artifact browser with previews.
    browser.get(f"{server.url}/runs/{ids['fast']}")
    assert browser.find_elements(By.CSS_SELECTOR, "#charts svg polyline")
    click(browser, browser.find_element(By.LINK_TEXT, "notes/"))
    click(browser, browser.find_element(By.LINK_TEXT, "readme.txt"))
    assert "hello from the run" in browser.find_element(By.CSS_SELECTOR, "#artifact-preview pre").text
    click(browser, browser.find_element(By.LINK_TEXT, "artifacts"))
    click(browser, browser.find_element(By.LINK_TEXT, "config.json"))
    assert '"depth" : 3' in browser.find_element(By.CSS_SELECTOR, "#artifact-preview pre").text
    click(browser, browser.find_element(By.LINK_TEXT, "images/"))
    click(browser, browser.find_element(By.LINK_TEXT, "sample.png"))
    picture = browser.find_element(By.CSS_SELECTOR, "#artifact-preview img")
    WebDriverWait(browser, 10).until(lambda b: b.execute_script("return arguments[0].complete", picture))
    assert browser.execute_script("return arguments[0].naturalWidth", picture) == 3
    assert "team.flowers.tuned v1" in browser.find_element(By.ID, "model-versions").text

    # The registry: the model, its version, and back to the run it came from.
    browser.get(server.url + "/models")
    click(browser, browser.find_element(By.LINK_TEXT, "team.flowers.tuned"))
    click(browser, browser.find_element(By.LINK_TEXT, "v1"))
    assert "not approved" in browser.find_element(By.TAG_NAME, "h1").text
    click(browser, browser.find_element(By.ID, "lineage-run"))
    assert browser.current_url.endswith(f"/runs/{ids['fast']}")
