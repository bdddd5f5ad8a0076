"""No input reachable by a client produces a 500: schemathesis generates requests from the OpenAPI
document (valid and invalid bodies, parameters and headers) and checks every answer."""

import os
import subprocess
import sys
from pathlib import Path


def test_generated_requests_never_cause_a_server_error(server, api, tmp_path):
    # Something to find, so generated requests reach past the 404s.
    assert api.post("/namespaces", json={"name": "fuzz"}).status_code == 201
    assert api.post("/namespaces/fuzz/projects", json={"name": "p1"}).status_code == 201
    schemathesis = Path(sys.executable).parent / "schemathesis"
    result = subprocess.run(
        [str(schemathesis), "run", f"{server.url}/api/v1/openapi.json", "--url", server.url,
         "-H", f"Authorization: Bearer {api.token}",
         "--checks", "not_a_server_error",
         "--max-examples", "25", "--seed", "1",
         # These two would end the fuzzer's own session (revoking its token, changing the password).
         "--exclude-path", "/api/v1/tokens/{id}", "--exclude-path", "/api/v1/me/password",
         "--report-dir", str(tmp_path / "report")],
        capture_output=True, text=True, timeout=600, env={**os.environ, "NO_COLOR": "1"})
    summary = result.stdout[-4000:]
    assert result.returncode == 0, summary + result.stderr[-2000:] + "\nserver log:\n" + server.logs()[-4000:]
    assert " passed" in summary, summary
