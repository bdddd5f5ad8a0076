"""Join tokens through the CLI: create, list, revoke by name or id, and a revoked token registers no agent."""

import json
import os
import subprocess
import time


def cli(slipway_bin, server, token, *args, timeout=60):
    environment = {k: v for k, v in os.environ.items() if not k.startswith("SLIPWAY_")}
    environment.update({"SLIPWAY_URL": server.url, "SLIPWAY_TOKEN": token, "HOME": "/nonexistent"})
    return subprocess.run([slipway_bin, *args], capture_output=True, text=True, env=environment, timeout=timeout)


def test_join_tokens_are_listed_and_a_revoked_one_registers_no_agent(server, api, slipway_bin, tmp_path):
    token = api.token
    created = cli(slipway_bin, server, token, "node", "token", "create", "rack-1", "--output", "json")
    assert created.returncode == 0, created.stderr
    issued = json.loads(created.stdout)
    secret, token_id = issued["secret"], issued["token"]["id"].lower()
    assert secret.startswith("slwj_")
    # The old form, without `create`, still creates one.
    second = cli(slipway_bin, server, token, "node", "token", "rack-2")
    assert second.returncode == 0, second.stderr
    assert "Secret, shown only now" in second.stdout

    listed = cli(slipway_bin, server, token, "node", "token", "list")
    assert listed.returncode == 0, listed.stderr
    rows = {line.split()[1]: line.split()[2] for line in listed.stdout.splitlines()[1:] if line.strip()}
    assert rows == {"rack-1": "live", "rack-2": "live"}, listed.stdout
    assert secret not in listed.stdout

    revoked = cli(slipway_bin, server, token, "node", "token", "revoke", "rack-1")
    assert revoked.returncode == 0, revoked.stderr
    assert token_id in revoked.stdout
    again = cli(slipway_bin, server, token, "node", "token", "revoke", token_id[:8])
    assert again.returncode == 0 and "already revoked" in again.stdout
    unknown = cli(slipway_bin, server, token, "node", "token", "revoke", "no-such-token")
    assert unknown.returncode != 0 and "slipway node token list" in unknown.stderr
    as_json = json.loads(cli(slipway_bin, server, token, "node", "token", "list", "--output", "json").stdout)
    states = {entry["name"]: entry.get("revoked_at") is not None for entry in as_json["items"]}
    assert states == {"rack-1": True, "rack-2": False}

    # An agent given the revoked secret is refused at registration, and says how to get a new token.
    refused = subprocess.run(
        [slipway_bin, "agent", "--server", server.url, "--token", secret, "--name", "rack-1-node", "--work-dir", str(tmp_path / "a1")],
        capture_output=True, text=True, timeout=60)
    assert refused.returncode == 1
    assert "revoked" in refused.stderr and "slipway node token create" in refused.stderr
    names = [node["name"] for node in api.get("/nodes").json()["items"]]
    assert "rack-1-node" not in names

    # The live one registers a node.
    live = json.loads(cli(slipway_bin, server, token, "node", "token", "create", "rack-3", "--output", "json").stdout)["secret"]
    agent = subprocess.Popen(
        [slipway_bin, "agent", "--server", server.url, "--token", live, "--name", "rack-3-node", "--work-dir", str(tmp_path / "a3"),
         "--cpu", "1", "--memory", "1GiB"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if "rack-3-node" in [node["name"] for node in api.get("/nodes").json()["items"]]:
                break
            time.sleep(0.2)
        else:
            raise AssertionError("the agent with a live token did not register")
    finally:
        agent.terminate()
        agent.wait(timeout=20)
