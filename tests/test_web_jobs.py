"""The Compute pages in a real Chromium, over jobs the embedded agent really runs: the queue in scheduling
order, a job's page following its log live while it runs and updating its state and history in place,
cancelling a job from its page, and the nodes with their capacity, allocation and usage bars."""

from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from test_jobs import project, submit as submit_job, wait_for
from test_web_login import sign_in, wait_for_page


def submit(api, name, command, **extra):
    """Submits a job; its id as the pages write it (lowercase)."""
    return submit_job(api, name, command, **extra).lower()

FINAL = {"succeeded", "failed", "cancelled", "lost"}


def click(browser, element):
    page = browser.find_element(By.TAG_NAME, "html")
    element.click()
    wait_for_page(browser, page)


def history(browser):
    return [row.find_elements(By.TAG_NAME, "td")[1].text for row in browser.find_elements(By.CSS_SELECTOR, "#job-events tbody tr")]


def embedded_node(api):
    nodes = api.get("/nodes").json()["items"]
    return next(node for node in nodes if node["labels"].get("slipway.embedded") == "true")


def number(value):
    """A count as the pages write it: `2`, `0.5`."""
    return f"{value:g}"


def test_queue_and_a_job_page_that_follows_the_log_live(browser, server, api):
    project(api)
    # Larger than any node, within the (unlimited) quota: these wait in the queue, higher priority first.
    waiting_low = submit(api, "waits-low", "echo never", cpu=1000)
    waiting_high = submit(api, "waits-high", "echo never", cpu=1000, priority=5)
    job = submit(api, "live", "echo first line; sleep 4; echo second line", memory=128 << 20)

    sign_in(browser, server)
    click(browser, browser.find_element(By.LINK_TEXT, "Jobs"))
    assert browser.current_url.endswith("/jobs")
    queue = [row.get_attribute("data-job") for row in browser.find_elements(By.CSS_SELECTOR, "#queue tbody tr")]
    assert queue[:2] == [waiting_high, waiting_low], "the queue is by priority, then age"
    row = browser.find_element(By.CSS_SELECTOR, f'#jobs tbody tr[data-job="{job}"]')
    assert "team / vision" in row.text and "0.5 CPU · 128 MiB · 0 GPU" in row.text and "admin" in row.text
    listed = [row.get_attribute("data-job") for row in browser.find_elements(By.CSS_SELECTOR, "#jobs tbody tr[data-job]")]
    assert listed == [job, waiting_high, waiting_low], "newest first"

    click(browser, browser.find_element(By.LINK_TEXT, "queued"))
    positions = {row.get_attribute("data-job"): row.find_elements(By.TAG_NAME, "td")[0].text
                 for row in browser.find_elements(By.CSS_SELECTOR, "#jobs tbody tr[data-job]")}
    assert positions[waiting_high] == "1" and positions[waiting_low] == "2"
    for waiting in (waiting_low, waiting_high):
        assert api.post(f"/jobs/{waiting}/cancel").json()["state"] == "cancelled"

    browser.get(server.url + "/jobs")
    click(browser, browser.find_element(By.CSS_SELECTOR, f'#jobs tr[data-job="{job}"] a[href="/jobs/{job}"]'))
    page = browser.find_element(By.TAG_NAME, "html")
    assert browser.find_element(By.ID, "job-command").text == "echo first line; sleep 4; echo second line"
    assert "128 MiB" in browser.find_element(By.ID, "job-spec").text
    log = browser.find_element(By.ID, "job-log")

    # The first line shows while the job still runs: the page follows the log, it is not a snapshot.
    WebDriverWait(browser, 60, poll_frequency=0.2).until(lambda _: "first line" in log.text)
    assert "second line" not in log.text
    assert api.get(f"/jobs/{job}").json()["job"]["state"] not in FINAL
    WebDriverWait(browser, 30).until(lambda _: browser.find_element(By.ID, "job-state").text == "running")

    WebDriverWait(browser, 60).until(lambda _: "second line" in log.text)
    WebDriverWait(browser, 30).until(lambda _: browser.find_element(By.ID, "job-state").text == "succeeded")
    WebDriverWait(browser, 30).until(lambda _: history(browser)[-1:] == ["succeeded"])
    states = history(browser)
    assert states[0] == "queued" and "running" in states and states.index("queued") < states.index("running"), states
    assert log.text.count("first line") == 1 and log.text.index("first line") < log.text.index("second line"), log.text
    assert browser.find_element(By.ID, "job-exit-code").text == "0"
    assert browser.find_element(By.ID, "job-node").text == embedded_node(api)["name"]
    assert not browser.find_elements(By.ID, "cancel-job"), "a finished job cannot be cancelled"
    page.is_enabled()  # still the same document: everything above changed in place

    # Opened afterwards, the page shows the whole log and history at once, and nothing to follow.
    browser.get(f"{server.url}/jobs/{job}")
    assert "first line\nsecond line" in browser.find_element(By.ID, "job-log").text
    assert history(browser)[0] == "queued" and history(browser)[-1] == "succeeded"
    assert browser.find_element(By.ID, "job-log").get_attribute("data-final") == "true"


def test_nodes_show_allocation_bars_and_a_job_is_cancelled_from_its_page(browser, server, api):
    project(api)
    job = submit(api, "long", "echo started; sleep 300", cpu=0.5, memory=256 << 20)
    wait_for(api, job, {"running"})
    node = embedded_node(api)
    capacity = node["capacity"]

    sign_in(browser, server)
    click(browser, browser.find_element(By.LINK_TEXT, "Nodes"))
    card = browser.find_element(By.ID, f"node-{node['name']}")
    assert "ready" in card.find_element(By.CSS_SELECTOR, "h2").text
    assert "1 job placed" in card.text
    assert "slipway.embedded=true" in card.text
    cpu = card.find_element(By.CSS_SELECTOR, '.meter-row[data-resource="cpu"]')
    assert f"0.5 / {number(capacity['cpu'])} cores allocated" in cpu.text
    allocated = float(cpu.find_element(By.CSS_SELECTOR, "rect.meter-allocated").get_attribute("width"))
    assert abs(allocated - 50 / capacity["cpu"]) < 0.2, allocated
    memory = card.find_element(By.CSS_SELECTOR, '.meter-row[data-resource="memory"]')
    assert "256 MiB / " in memory.text and "used" in memory.text
    assert card.find_element(By.CSS_SELECTOR, '.meter-row[data-resource="gpu"]')
    assert card.find_elements(By.CSS_SELECTOR, ".node-actions button"), "administrators may cordon and drain"

    browser.get(f"{server.url}/jobs/{job}")
    log = browser.find_element(By.ID, "job-log")
    WebDriverWait(browser, 30).until(lambda _: "started" in log.text)
    click(browser, browser.find_element(By.CSS_SELECTOR, "#cancel-job button"))
    assert browser.current_url.endswith(f"/jobs/{job}")
    assert browser.find_element(By.ID, "job-state").text == "cancelled"
    assert "cancelled by admin" in browser.find_element(By.ID, "job-reason").text
    assert history(browser)[-1] == "cancelled"
    assert not browser.find_elements(By.ID, "cancel-job")
    assert api.get(f"/jobs/{job}").json()["job"]["state"] == "cancelled"

    browser.get(server.url + "/nodes")
    card = browser.find_element(By.ID, f"node-{node['name']}")
    assert f"0 / {number(capacity['cpu'])} cores allocated" in card.find_element(By.CSS_SELECTOR, '.meter-row[data-resource="cpu"]').text

    # Cordoning from the page, and back.
    click(browser, card.find_element(By.CSS_SELECTOR, 'button[value="cordon"]'))
    card = browser.find_element(By.ID, f"node-{node['name']}")
    assert card.get_attribute("data-state") == "cordoned"
    click(browser, card.find_element(By.CSS_SELECTOR, 'button[value="uncordon"]'))
    assert browser.find_element(By.ID, f"node-{node['name']}").get_attribute("data-state") == "ready"
    assert embedded_node(api)["state"] == "ready"
