"""The slipway command-line client against a running server."""

import json
import os
import stat
import subprocess

import requests


def run(slipway_bin, home, *args, stdin=None, env=None):
    environment = {k: v for k, v in os.environ.items() if not k.startswith("SLIPWAY_")}
    environment["HOME"] = str(home)
    environment.update(env or {})
    return subprocess.run([slipway_bin, *args], input=stdin, capture_output=True, text=True, env=environment, timeout=60)


def test_cli_logs_in_manages_namespaces_projects_and_tokens(server, slipway_bin, tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    login = run(slipway_bin, home, "login", "--url", server.url, "--username", "admin", "--password-stdin",
                stdin=server.admin_password + "\n")
    assert login.returncode == 0, login.stderr
    config = home / ".config" / "slipway" / "config.json"
    assert stat.S_IMODE(config.stat().st_mode) == 0o600
    saved = json.loads(config.read_text())
    assert saved["url"] == server.url and saved["token"].startswith("slw_")

    assert run(slipway_bin, home, "namespace", "create", "cli-ns").returncode == 0
    listed = run(slipway_bin, home, "namespace", "list", "--output", "json")
    assert listed.returncode == 0, listed.stderr
    assert "cli-ns" in [entry["namespace"]["name"] for entry in json.loads(listed.stdout)]

    bad = run(slipway_bin, home, "namespace", "create", "Bad Name")
    assert bad.returncode != 0
    assert "name" in bad.stderr

    assert run(slipway_bin, home, "project", "create", "cli-ns/proj1").returncode == 0
    projects = run(slipway_bin, home, "project", "list", "cli-ns")
    assert projects.returncode == 0 and "proj1" in projects.stdout

    created = run(slipway_bin, home, "token", "create", "ci", "--output", "json")
    assert created.returncode == 0, created.stderr
    secret = json.loads(created.stdout)["secret"]
    me = requests.get(server.url + "/api/v1/me", headers={"Authorization": f"Bearer {secret}"}, timeout=10)
    assert me.status_code == 200 and me.json()["username"] == "admin"

    bogus = run(slipway_bin, home, "namespace", "list", env={"SLIPWAY_TOKEN": "bogus"})
    assert bogus.returncode != 0
    assert "token" in bogus.stderr.lower()


def test_cli_without_login_says_how_to_log_in(slipway_bin, tmp_path):
    result = run(slipway_bin, tmp_path, "namespace", "list")
    assert result.returncode != 0
    assert "slipway login" in result.stderr
