"""Signing in and out of the web UI in a real Chromium."""

import re

import requests
from selenium.common.exceptions import StaleElementReferenceException, WebDriverException
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait


def wait_for_page(browser, previous_page):
    """Waits until a click has replaced `previous_page` (the old <html> element) with the next page, loaded."""

    def replaced(driver):
        try:
            previous_page.is_enabled()
            return False
        except StaleElementReferenceException:
            return True
        except WebDriverException as error:
            # Mid-navigation chromedriver may report the old node this way instead of as stale.
            if "does not belong to the document" in str(error) or "No node with given id" in str(error):
                return True
            raise

    WebDriverWait(browser, 15).until(replaced)
    WebDriverWait(browser, 15, ignored_exceptions=(WebDriverException,)).until(
        lambda driver: driver.execute_script("return document.readyState") == "complete")


def sign_in(browser, server, password=None):
    browser.get(server.url + "/login")
    browser.find_element(By.NAME, "username").send_keys("admin")
    browser.find_element(By.NAME, "password").send_keys(password or server.admin_password)
    page = browser.find_element(By.TAG_NAME, "html")
    browser.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    wait_for_page(browser, page)


def test_admin_signs_in_and_sees_their_name_with_a_protected_session_cookie(browser, server):
    sign_in(browser, server)
    assert not browser.current_url.endswith("/login")
    assert browser.find_element(By.ID, "current-user").text == "admin"
    cookie = browser.get_cookie("slipway_session")
    assert cookie is not None
    assert cookie["httpOnly"] is True
    assert cookie["sameSite"] in ("Lax", "Strict")


def test_wrong_password_shows_an_error_and_no_session(browser, server):
    sign_in(browser, server, password="definitely-wrong")
    assert browser.current_url.endswith("/login")
    error = browser.find_element(By.CSS_SELECTOR, ".flash-error")
    assert "password" in error.text.lower()
    assert browser.get_cookie("slipway_session") is None


def test_signing_out_returns_to_login_and_pages_need_signing_in_again(browser, server):
    sign_in(browser, server)
    page = browser.find_element(By.TAG_NAME, "html")
    browser.find_element(By.ID, "logout-button").click()
    wait_for_page(browser, page)
    assert browser.current_url.endswith("/login")
    browser.get(server.url + "/namespaces")
    assert "/login" in browser.current_url


def test_pages_redirect_visitors_to_login(browser, server):
    browser.get(server.url + "/namespaces")
    assert "/login" in browser.current_url
    assert browser.find_element(By.NAME, "username")


def test_logout_without_the_csrf_token_is_refused(server):
    session = requests.Session()
    page = session.get(server.url + "/login", timeout=10)
    csrf = re.search(r'name="_csrf" value="([0-9a-f]{64})"', page.text).group(1)
    signed_in = session.post(server.url + "/login", timeout=10,
                             data={"_csrf": csrf, "username": "admin", "password": server.admin_password, "next": ""})
    assert signed_in.status_code == 200 and 'id="current-user"' in signed_in.text
    refused = session.post(server.url + "/logout", data={}, timeout=10, allow_redirects=False)
    assert refused.status_code == 403
    assert session.get(server.url + "/api/v1/me", timeout=10).json()["username"] == "admin"
