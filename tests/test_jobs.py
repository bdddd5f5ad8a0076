"""Jobs run by real agents (real processes): live logs, state history, limits, requirements that fail to
install, cancelling a process tree, two agents of different sizes, and an agent killed with SIGKILL while
its job runs (the job is re-queued and finishes on the other node)."""

import os
import signal
import subprocess
import time

import pytest
import requests

from conftest import SlipwayServer, login_token, API

JOBS = "/namespaces/team/projects/vision/jobs"


def cli(slipway_bin, server, token, *args, timeout=120):
    environment = {k: v for k, v in os.environ.items() if not k.startswith("SLIPWAY_")}
    environment.update({"SLIPWAY_URL": server.url, "SLIPWAY_TOKEN": token, "HOME": "/nonexistent"})
    return subprocess.run([slipway_bin, *args], capture_output=True, text=True, env=environment, timeout=timeout)


def project(api):
    assert api.post("/namespaces", json={"name": "team"}).status_code == 201
    assert api.post("/namespaces/team/projects", json={"name": "vision"}).status_code == 201


def submit(api, name, command, memory=256 << 20, cpu=0.5, **extra):
    spec = {"name": name, "command": command, "resources": {"cpu": cpu, "memory_bytes": memory, "gpu": 0}, **extra}
    answer = api.post(JOBS, json=spec)
    assert answer.status_code == 201, answer.text
    return answer.json()["id"]


def wait_for(api, job_id, states, timeout=120):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = api.get(f"/jobs/{job_id}").json()["job"]
        if job["state"] in states:
            return job
        time.sleep(0.2)
    raise AssertionError(f"job {job_id} is still {job['state']} ({job['reason']}) after {timeout} s")


def test_cli_submits_and_follows_a_job_live_with_its_history(server, api, slipway_bin):
    project(api)
    token = api.session.headers["Authorization"].split(" ", 1)[1]
    started = time.monotonic()
    done = cli(slipway_bin, server, token, "job", "submit", "team/vision", "--name", "count", "--memory", "128MiB", "--follow", "--",
               "for i in 1 2 3; do echo step $i; sleep 0.4; done; echo \"output in $SLIPWAY_OUTPUT_DIR\"")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "step 1\nstep 2\nstep 3\n" in done.stdout
    assert "output in /" in done.stdout
    assert "job succeeded" in done.stderr
    assert time.monotonic() - started < 60
    listed = cli(slipway_bin, server, token, "job", "list", "--output", "json")
    job_id = __import__("json").loads(listed.stdout)["items"][0]["id"]
    shown = cli(slipway_bin, server, token, "job", "show", job_id)
    states = [line.split()[2] for line in shown.stdout.splitlines() if line[:4].isdigit()]
    assert states == ["queued", "scheduled", "running", "succeeded"]
    failing = cli(slipway_bin, server, token, "job", "submit", "team/vision", "--name", "bad", "--memory", "64MiB", "--follow", "--", "exit 3")
    assert failing.returncode == 1 and "exited with code 3" in failing.stderr


def test_limits_failed_requirements_and_cancel_stop_work_with_a_clear_reason(server, api):
    project(api)
    hog = submit(api, "hog", "python3 -c 'x = bytearray(400 * 1024 * 1024); import time; time.sleep(30)'", memory=96 << 20)
    slow = submit(api, "slow", "sleep 60", max_runtime_seconds=2)
    broken = submit(api, "broken", "echo never", environment={"requirements": ["--no-index", "slipway-no-such-package==9.9"]})
    tree = submit(api, "tree", "sh -c 'sleep 97 & sleep 97 & wait'")

    assert "memory limit" in wait_for(api, hog, {"failed", "succeeded"})["reason"]
    assert "maximum runtime" in wait_for(api, slow, {"failed", "succeeded"})["reason"]
    failed = wait_for(api, broken, {"failed", "succeeded"})
    assert failed["state"] == "failed" and "installing the requirements failed" in failed["reason"], failed
    assert "slipway-no-such-package" in requests.get(f"{server.url}/api/v1/jobs/{broken}/logs", headers=api.session.headers).text

    wait_for(api, tree, {"running"})
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and "sleep 97" not in subprocess.run(["ps", "-eo", "args"], capture_output=True, text=True).stdout:
        time.sleep(0.1)
    assert api.post(f"/jobs/{tree}/cancel").json()["state"] == "cancelled"
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and "sleep 97" in subprocess.run(["ps", "-eo", "args"], capture_output=True, text=True).stdout:
        time.sleep(0.2)
    assert "sleep 97" not in subprocess.run(["ps", "-eo", "args"], capture_output=True, text=True).stdout, "the whole tree was stopped"


@pytest.fixture(params=["sqlite", "postgres"])
def cluster(request, slipway_bin, tmp_path):
    """A server without an embedded agent, quick to notice lost nodes, and a way to start agents."""
    server = SlipwayServer(slipway_bin, request.param, tmp_path)
    server.env = {"SLIPWAY_EMBEDDED_AGENT": "false", "SLIPWAY_NODE_LOST_AFTER": "3", "SLIPWAY_HEARTBEAT_SECONDS": "0.5"}
    agents = []

    def agent(name, token, cpu, memory):
        log = open(tmp_path / f"agent-{name}.log", "wb")
        environment = {k: v for k, v in os.environ.items() if not k.startswith("SLIPWAY_")}
        process = subprocess.Popen(
            [slipway_bin, "agent", "--server", server.url, "--token", token, "--name", name, "--cpu", str(cpu), "--memory", memory,
             "--work-dir", str(tmp_path / f"work-{name}")], stdout=log, stderr=subprocess.STDOUT, env=environment)
        agents.append(process)
        return process

    try:
        server.start()
        yield server, agent
    finally:
        for process in agents:
            if process.poll() is None:
                process.kill()
        server.kill()
        report = getattr(request.node, "rep_call", None)
        if report is not None and report.failed:
            for path in sorted(tmp_path.glob("agent-*.log")) + sorted(tmp_path.glob("server-*.log")):
                print(f"---- {path.name} ----\n{path.read_text(errors='replace')[-4000:]}")


def test_two_agents_place_by_size_and_a_killed_agents_job_finishes_elsewhere(cluster):
    server, agent = cluster
    api = API(server.url, login_token(server.url, "admin", server.admin_password))
    project(api)
    token = api.post("/admin/join-tokens", json={"name": "rack"}).json()["secret"]
    small = agent("small", token, 1, "1GiB")
    big = agent("big", token, 2, "4GiB")
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and len(api.get("/nodes").json()["items"]) < 2:
        time.sleep(0.2)
    nodes = {node["name"]: node for node in api.get("/nodes").json()["items"]}
    assert nodes["big"]["capacity"]["memory_bytes"] == 4 << 30 and nodes["small"]["capacity"]["cpu"] == 1

    large = submit(api, "large", "echo fits", memory=2 << 30, cpu=1)
    assert wait_for(api, large, {"succeeded", "failed"})["node"] == "big", "only the big node has 2 GiB"
    too_large = submit(api, "too-large", "echo never", memory=8 << 30, cpu=1)
    time.sleep(1.5)
    assert api.get(f"/jobs/{too_large}").json()["job"]["state"] == "queued", "no node fits it: it waits"
    api.post(f"/jobs/{too_large}/cancel")

    # Run a job on the big node, kill that agent with SIGKILL, and watch the job finish on the small one.
    assert api.post("/nodes/small/cordon").json()["state"] == "cordoned"
    moving = submit(api, "moving", "echo attempt $SLIPWAY_JOB_ATTEMPT; sleep 4; echo finished", memory=256 << 20, cpu=1)
    assert wait_for(api, moving, {"running"})["node"] == "big"
    big.send_signal(signal.SIGKILL)
    big.wait()
    assert api.post("/nodes/small/uncordon").json()["state"] == "ready"
    finished = wait_for(api, moving, {"succeeded", "failed", "lost"}, timeout=90)
    assert finished["state"] == "succeeded" and finished["node"] == "small" and finished["attempts"] == 2, finished
    events = api.get(f"/jobs/{moving}").json()["events"]
    assert any("big was lost" in event["reason"] for event in events), events
    assert {node["name"]: node["state"] for node in api.get("/nodes").json()["items"]}["big"] == "lost"
    assert "attempt 2" in requests.get(f"{server.url}/api/v1/jobs/{moving}/logs", headers=api.session.headers).text
    assert small.poll() is None
