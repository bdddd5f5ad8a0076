"""Creating and browsing namespaces in the web UI, in a real Chromium."""

from selenium.webdriver.common.by import By

from test_web_login import sign_in, wait_for_page


def test_creating_a_namespace_in_the_browser_makes_the_creator_its_owner(browser, server):
    sign_in(browser, server)
    browser.get(server.url + "/namespaces")
    form = browser.find_element(By.ID, "create-namespace")
    form.find_element(By.NAME, "name").send_keys("team-a")
    page = browser.find_element(By.TAG_NAME, "html")
    form.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    wait_for_page(browser, page)
    assert browser.current_url.endswith("/namespaces/team-a")
    assert "team-a" in browser.find_element(By.TAG_NAME, "h1").text
    rows = [row.text for row in browser.find_elements(By.CSS_SELECTOR, "#members tbody tr")]
    assert any(row.startswith("admin") and "owner" in row for row in rows), rows

    project_form = browser.find_element(By.ID, "create-project")
    project_form.find_element(By.NAME, "name").send_keys("detector")
    page = browser.find_element(By.TAG_NAME, "html")
    project_form.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    wait_for_page(browser, page)
    assert "detector" in browser.find_element(By.ID, "projects").text


def test_an_invalid_name_is_explained_on_the_page(browser, server):
    sign_in(browser, server)
    browser.get(server.url + "/namespaces")
    browser.execute_script("document.querySelector('#create-namespace input[name=name]').removeAttribute('pattern')")
    form = browser.find_element(By.ID, "create-namespace")
    form.find_element(By.NAME, "name").send_keys("Bad Name!")
    page = browser.find_element(By.TAG_NAME, "html")
    form.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    wait_for_page(browser, page)
    error = browser.find_element(By.CSS_SELECTOR, ".flash-error")
    assert "not a valid name" in error.text
