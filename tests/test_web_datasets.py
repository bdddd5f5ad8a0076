"""The Data area's pages in a real Chromium: a dataset's versions and statistics, the record browser, the diff."""

import hashlib
import json

from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from test_web_login import sign_in, wait_for_page


def push(api, base, text, message):
    data = text.encode()
    digest = hashlib.sha256(data).hexdigest()
    assert api.put(f"/namespaces/team/blobs/{digest}", data=data).status_code == 201
    created = api.post(base + "/versions", json={"source": {"format": "csv", "blob": digest, "label_column": "species", "id_column": "id"},
                                                 "message": message})
    assert created.status_code == 201, created.text


def test_dataset_page_shows_versions_statistics_records_and_diff(browser, server, api):
    assert api.post("/namespaces", json={"name": "team"}).status_code == 201
    assert api.post("/namespaces/team/projects", json={"name": "flowers"}).status_code == 201
    base = "/namespaces/team/projects/flowers/datasets/iris"
    assert api.post("/namespaces/team/projects/flowers/datasets",
                    json={"name": "iris", "task_type": "tabular_classification", "description": "Three species"}).status_code == 201
    rows = [f"r{i},{4 + i % 40 / 10},{['setosa', 'versicolor', 'virginica'][i % 3]}" for i in range(120)]
    push(api, base, "id,length,species\n" + "\n".join(rows) + "\n", "first")
    push(api, base, "id,length,species\n" + "\n".join(rows[10:] + ["new1,5.5,setosa"]) + "\n", "second")

    sign_in(browser, server)
    browser.get(server.url + "/namespaces/team/projects/flowers")
    browser.find_element(By.LINK_TEXT, "iris").click()
    assert "Three species" in browser.page_source
    versions = [row.text for row in browser.find_elements(By.CSS_SELECTOR, "#versions tbody tr")]
    assert versions[0].startswith("v2") and versions[1].startswith("v1")
    bars = browser.find_elements(By.CSS_SELECTOR, "#class-balance .bar-row")
    assert sorted(bar.find_element(By.CLASS_NAME, "bar-label").text for bar in bars) == ["setosa", "versicolor", "virginica"]
    assert "length" in browser.find_element(By.ID, "fields").text

    # The visibility control changes who sees the dataset, as the API does.
    assert "private" in browser.find_element(By.TAG_NAME, "h1").text
    from selenium.webdriver.support.ui import Select
    Select(browser.find_element(By.CSS_SELECTOR, "#visibility-form select")).select_by_value("public")
    page = browser.find_element(By.TAG_NAME, "html")
    browser.find_element(By.CSS_SELECTOR, "#visibility-form button").click()
    wait_for_page(browser, page)
    assert "public" in browser.find_element(By.TAG_NAME, "h1").text
    assert api.get(base).json()["visibility"] == "public"

    page = browser.find_element(By.TAG_NAME, "html")
    browser.find_element(By.CSS_SELECTOR, "#diff-form button").click()
    wait_for_page(browser, page)
    summary = browser.find_element(By.ID, "diff-summary").text
    assert "Added\n1" in summary and "Removed\n10" in summary and "Unchanged\n110" in summary

    browser.get(server.url + base + "/versions/1/records")
    first_page = [row.find_element(By.TAG_NAME, "code").text for row in browser.find_elements(By.CSS_SELECTOR, "#records tbody tr")]
    assert first_page[:2] == ["r0", "r1"] and len(first_page) == 50
    browser.find_element(By.ID, "next-page").click()
    second_page = [row.find_element(By.TAG_NAME, "code").text for row in browser.find_elements(By.CSS_SELECTOR, "#records tbody tr")]
    assert second_page[0] == "r50"


def test_record_browser_shows_image_thumbnails_with_their_boxes(browser, server, api):
    from test_datasets import png

    assert api.post("/namespaces", json={"name": "team"}).status_code == 201
    assert api.post("/namespaces/team/projects", json={"name": "det"}).status_code == 201
    base = "/namespaces/team/projects/det/datasets/boxes"
    assert api.post("/namespaces/team/projects/det/datasets", json={"name": "boxes", "task_type": "object_detection"}).status_code == 201
    image = png(64, 48, seed=3)
    digest = hashlib.sha256(image).hexdigest()
    assert api.put(f"/namespaces/team/blobs/{digest}", data=image).status_code == 201
    record = {"id": "img-1", "file": {"sha256": digest, "size": len(image), "media_type": "image/png", "path": "img-1.png"},
              "fields": {"width": 64, "height": 48},
              "annotations": [{"kind": "box", "label": "cat", "box": {"x": 8, "y": 6, "width": 30, "height": 20},
                               "source": {"kind": "human", "user": "admin"}}]}
    lines = (json.dumps(record) + "\n").encode()
    lines_digest = hashlib.sha256(lines).hexdigest()
    assert api.put(f"/namespaces/team/blobs/{lines_digest}", data=lines).status_code == 201
    assert api.post(base + "/versions", json={"source": {"format": "jsonl", "blob": lines_digest}}).status_code == 201

    sign_in(browser, server)
    browser.get(server.url + base + "/versions/1/records")
    thumb = browser.find_element(By.CSS_SELECTOR, "#records .thumb")
    # The thumbnail is loading="lazy": wait for it to finish rather than read it mid-flight.
    WebDriverWait(browser, 10).until(
        lambda b: b.execute_script("const i = arguments[0].querySelector('img'); return i.complete && i.naturalWidth > 0", thumb))
    assert browser.execute_script("return arguments[0].querySelector('img').naturalWidth", thumb) == 64, "the image loads"
    rect = thumb.find_element(By.TAG_NAME, "rect")
    assert (rect.get_attribute("x"), rect.get_attribute("width")) == ("8.0", "30.0")
    svg = thumb.find_element(By.TAG_NAME, "svg")
    assert browser.execute_script("return arguments[0].getAttribute('viewBox')", svg) == "0 0 64.0 48.0"
