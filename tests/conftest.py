"""Fixtures for Slipway's end-to-end tests: real `slipway serve` processes on SQLite and PostgreSQL,
an authenticated API session, and a headless Chromium driven by Selenium."""

import os
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from urllib.parse import urlparse

import pytest
import requests


#: Where every server of the session caches the Python environments of jobs and model workers, so a model's
#: requirements are installed once per test run, not once per test.
ENV_CACHE = os.environ.get("SLIPWAY_TEST_ENV_CACHE") or tempfile.mkdtemp(prefix="slipway-test-envs-")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def slipway_bin() -> str:
    path = os.environ.get("SLIPWAY_BIN")
    if not path or not os.access(path, os.X_OK):
        pytest.fail("SLIPWAY_BIN must point to the built slipway binary; run the tests through scripts/test")
    return path


def create_postgres_database() -> str:
    """Creates a fresh database on the test cluster and returns its URL."""
    admin_url = os.environ.get("SLIPWAY_TEST_PG_ADMIN_URL")
    if not admin_url:
        pytest.fail("SLIPWAY_TEST_PG_ADMIN_URL is not set; run the tests through scripts/test, which starts PostgreSQL")
    parsed = urlparse(admin_url)
    name = "slipway_e2e_" + secrets.token_hex(6)
    psql = os.path.join(os.environ.get("SLIPWAY_TEST_PG_BIN", "/usr/bin"), "psql")
    subprocess.run(
        [psql, "-h", parsed.hostname, "-p", str(parsed.port), "-U", parsed.username or "postgres", "-q",
         "-c", f"CREATE DATABASE {name}"],
        check=True, capture_output=True)
    return f"postgres://{parsed.username or 'postgres'}@{parsed.hostname}:{parsed.port}/{name}"


class SlipwayServer:
    """One `slipway serve` process on a loopback port, restartable on the same data."""

    def __init__(self, binary: str, backend: str, workdir: Path):
        self.binary = binary
        self.backend = backend
        self.workdir = workdir
        self.data_dir = workdir / "data"
        self.admin_password = "pw-" + secrets.token_hex(8)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.database_url = create_postgres_database() if backend == "postgres" else None
        self.process = None
        self._log = None
        self.starts = 0
        self.env = {}  # extra environment for `slipway serve`

    @property
    def log_path(self) -> Path:
        return self.workdir / f"server-{self.starts}.log"

    def start(self):
        self.starts += 1
        env = dict(os.environ)
        env["SLIPWAY_ADMIN_PASSWORD"] = self.admin_password
        env["SLIPWAY_BCRYPT_COST"] = "6"
        env.pop("SLIPWAY_DATABASE_URL", None)
        env.setdefault("SLIPWAY_ENV_CACHE_DIR", ENV_CACHE)
        if self.database_url:
            env["SLIPWAY_DATABASE_URL"] = self.database_url
        env.update(self.env)
        self._log = open(self.log_path, "wb")
        self.process = subprocess.Popen(
            [self.binary, "serve", "--host", "127.0.0.1", "--port", str(self.port), "--data-dir", str(self.data_dir)],
            env=env, stdout=self._log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"slipway serve exited with {self.process.returncode}:\n{self.logs()}")
            try:
                if requests.get(self.url + "/readyz", timeout=1).status_code == 200:
                    return self
            except requests.RequestException:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"slipway serve did not become ready in 60 s:\n{self.logs()}")

    def stop(self, sig=signal.SIGTERM, timeout=20) -> int:
        """Sends `sig` and waits up to `timeout` seconds; returns the exit code (raises on timeout)."""
        if self.process is None:
            return 0
        if self.process.poll() is None:
            self.process.send_signal(sig)
            self.process.wait(timeout=timeout)
        self._close_log()
        return self.process.returncode

    def kill(self):
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        self._close_log()

    def _close_log(self):
        if self._log is not None and not self._log.closed:
            self._log.close()

    def logs(self) -> str:
        """The output (stdout and stderr) of the latest start."""
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""


@pytest.fixture(params=["sqlite", "postgres"])
def server(request, slipway_bin, tmp_path):
    instance = SlipwayServer(slipway_bin, request.param, tmp_path)
    try:
        instance.start()
        yield instance
    finally:
        instance.kill()
    report = getattr(request.node, "rep_call", None)
    if report is not None and report.failed:
        # Shown under "Captured stdout teardown" in the failure report.
        for start in range(1, instance.starts + 1):
            log = (tmp_path / f"server-{start}.log").read_text(errors="replace")
            print(f"---- server log, start {start} of {instance.starts} ({instance.backend}), last 6000 characters ----")
            print(log[-6000:])


class API:
    """A requests session authenticated with an API token."""

    def __init__(self, base_url: str, token: str):
        self.base_url = base_url
        self.token = token
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"Bearer {token}"

    def request(self, method: str, path: str, **kwargs) -> requests.Response:
        return self.session.request(method, self.base_url + "/api/v1" + path, timeout=30, **kwargs)

    def get(self, path, **kw):
        return self.request("GET", path, **kw)

    def post(self, path, **kw):
        return self.request("POST", path, **kw)

    def put(self, path, **kw):
        return self.request("PUT", path, **kw)

    def delete(self, path, **kw):
        return self.request("DELETE", path, **kw)


def login_token(url: str, username: str, password: str) -> str:
    response = requests.post(url + "/api/v1/auth/token",
                             json={"username": username, "password": password, "name": "pytest-" + secrets.token_hex(4)},
                             timeout=30)
    assert response.status_code == 201, response.text
    return response.json()["secret"]


@pytest.fixture
def api(server) -> API:
    return API(server.url, login_token(server.url, "admin", server.admin_password))


@pytest.fixture
def browser(request, tmp_path):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = shutil.which("chromium") or "/usr/bin/chromium"
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu", "--window-size=1280,900"):
        options.add_argument(argument)
    driver = webdriver.Chrome(service=Service(shutil.which("chromedriver") or "/usr/bin/chromedriver"), options=options)
    driver.implicitly_wait(5)
    yield driver
    failed = getattr(request.node, "rep_call", None)
    if failed is not None and failed.failed:
        shot = tempfile.mkdtemp(prefix="slipway-selenium-")
        driver.save_screenshot(os.path.join(shot, "failure.png"))
        Path(shot, "page.html").write_text(driver.page_source)
        print(f"screenshot and page source of the failure: {shot}")
    driver.quit()


@pytest.hookimpl(tryfirst=True, hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    setattr(item, "rep_" + report.when, report)
