"""Drafts through the real CLI against a real server: open a draft from a version, relabel, add and remove
records, import a file into it, commit it as the next version; and finding datasets in the web UI."""

import json

from selenium.webdriver.common.by import By

from test_cli import run
from test_web_login import sign_in, wait_for_page


def login(slipway_bin, home, server):
    assert run(slipway_bin, home, "login", "--url", server.url, "--username", "admin", "--password-stdin",
               stdin=server.admin_password + "\n").returncode == 0


def ok(result):
    assert result.returncode == 0, result.stderr
    return result


def test_cli_edits_a_draft_and_commits_it_as_the_next_version(server, slipway_bin, tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    login(slipway_bin, home, server)
    ok(run(slipway_bin, home, "namespace", "create", "team"))
    ok(run(slipway_bin, home, "project", "create", "team/flowers"))
    ok(run(slipway_bin, home, "dataset", "create", "team/flowers/iris", "--task", "tabular_classification"))
    table = tmp_path / "iris.csv"
    table.write_text("id,length,species\na,5.1,setosa\nb,6.2,versicolor\nc,7.3,virginica\n")
    ok(run(slipway_bin, home, "dataset", "push", "team/flowers/iris", str(table), "--label-column", "species", "--id-column", "id"))

    opened = json.loads(ok(run(slipway_bin, home, "dataset", "draft", "open", "team/flowers/iris", "--output", "json")).stdout)
    assert opened["base_version"] == 1 and opened["record_count"] == 3

    labelled = ok(run(slipway_bin, home, "dataset", "record", "label", "team/flowers/iris", "b", "--class", "virginica",
                      "--output", "json"))
    annotation = json.loads(labelled.stdout)["annotations"][0]
    assert annotation["label"] == "virginica" and annotation["source"] == {"kind": "human", "user": "admin"}
    ok(run(slipway_bin, home, "dataset", "record", "remove", "team/flowers/iris", "c"))
    extra = tmp_path / "extra.jsonl"
    extra.write_text(json.dumps({"id": "d", "fields": {"length": 4.4},
                                 "annotations": [{"kind": "class", "label": "setosa", "source": {"kind": "import"}}]}) + "\n")
    ok(run(slipway_bin, home, "dataset", "record", "add", "team/flowers/iris", str(extra)))
    more = tmp_path / "more.csv"
    more.write_text("id,length,species\ne,3.3,setosa\na,5.0,setosa\n")
    pushed = json.loads(ok(run(slipway_bin, home, "dataset", "push", "team/flowers/iris", str(more), "--draft", "--label-column",
                               "species", "--id-column", "id", "--output", "json")).stdout)
    assert pushed["added"] == 1 and pushed["replaced"] == 1

    shown = json.loads(ok(run(slipway_bin, home, "dataset", "draft", "show", "team/flowers/iris", "--output", "json")).stdout)
    assert (shown["record_count"], shown["added"], shown["changed"], shown["removed"]) == (4, 2, 2, 1)
    listed = ok(run(slipway_bin, home, "dataset", "draft", "records", "team/flowers/iris")).stdout
    assert [line.split()[0] for line in listed.splitlines()[1:]] == ["a", "b", "d", "e"]

    committed = json.loads(ok(run(slipway_bin, home, "dataset", "commit", "team/flowers/iris", "-m", "relabel b",
                                  "--output", "json")).stdout)
    assert committed["version"]["number"] == 2 and committed["manifest"]["record_count"] == 4
    assert committed["manifest"]["statistics"]["class_counts"] == {"setosa": 3, "virginica": 1}
    diff = json.loads(ok(run(slipway_bin, home, "dataset", "diff", "team/flowers/iris", "1", "2", "--output", "json")).stdout)
    assert (diff["added"], diff["removed"], diff["changed"]) == (2, 1, 2)

    gone = run(slipway_bin, home, "dataset", "draft", "show", "team/flowers/iris")
    assert gone.returncode == 1 and "has no draft" in gone.stderr
    bad = run(slipway_bin, home, "dataset", "record", "label", "team/flowers/iris", "a", "--box", "1,2,3=cat")
    assert bad.returncode != 0 and "X,Y,WIDTH,HEIGHT=LABEL" in bad.stderr


def test_web_dataset_search_finds_public_and_own_datasets(browser, server, api):
    assert api.post("/namespaces", json={"name": "team"}).status_code == 201
    assert api.post("/namespaces/team/projects", json={"name": "zoo"}).status_code == 201
    for name, visibility, description in [("pets", "public", "Cats and dogs"), ("birds", "private", "Garden birds")]:
        created = api.post("/namespaces/team/projects/zoo/datasets",
                           json={"name": name, "task_type": "image_classification", "visibility": visibility,
                                 "description": description})
        assert created.status_code == 201, created.text

    sign_in(browser, server)
    browser.find_element(By.LINK_TEXT, "Datasets").click()
    rows = [row.text for row in browser.find_elements(By.CSS_SELECTOR, "#datasets tbody tr")]
    assert [row.split()[0] for row in rows] == ["team/zoo/birds", "team/zoo/pets"]
    page = browser.find_element(By.TAG_NAME, "html")
    box = browser.find_element(By.ID, "search")
    box.send_keys("DOGS")
    box.submit()
    wait_for_page(browser, page)
    rows = [row.text for row in browser.find_elements(By.CSS_SELECTOR, "#datasets tbody tr")]
    assert len(rows) == 1 and rows[0].startswith("team/zoo/pets")
    browser.find_element(By.LINK_TEXT, "team/zoo/pets").click()
    assert "Cats and dogs" in browser.page_source
