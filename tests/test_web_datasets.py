"""The Data area's pages in a real Chromium: a dataset's versions and statistics, the record browser, the diff."""

import hashlib

from selenium.webdriver.common.by import By

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
