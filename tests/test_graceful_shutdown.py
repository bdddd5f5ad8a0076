"""SIGTERM under load: in-flight requests finish, the process exits cleanly."""

import http.client
import threading
import time


def test_sigterm_under_load_finishes_in_flight_requests_and_exits_zero(server, api):
    stop = threading.Event()
    lock = threading.Lock()
    outcomes = {"ok": 0, "refused": 0, "server_error": 0, "truncated": 0, "other": 0}

    def hammer():
        deadline = time.monotonic() + 10
        while not stop.is_set() and time.monotonic() < deadline:
            connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
            try:
                connection.request("GET", "/api/v1/namespaces", headers={"Authorization": f"Bearer {api.token}"})
                response = connection.getresponse()
                body = response.read()
                length = int(response.getheader("Content-Length", len(body)))
                kind = "ok" if response.status == 200 and len(body) == length else (
                    "server_error" if response.status >= 500 else ("truncated" if len(body) != length else "other"))
            except (ConnectionRefusedError, ConnectionResetError, http.client.RemoteDisconnected, BrokenPipeError):
                kind = "refused"
            except http.client.IncompleteRead:
                kind = "truncated"
            finally:
                connection.close()
            with lock:
                outcomes[kind] += 1

    threads = [threading.Thread(target=hammer) for _ in range(8)]
    for thread in threads:
        thread.start()
    time.sleep(1.0)
    code = server.stop(timeout=20)
    stop.set()
    for thread in threads:
        thread.join(timeout=15)

    assert code == 0, server.logs()
    assert outcomes["ok"] > 0, outcomes
    assert outcomes["server_error"] == 0, outcomes
    assert outcomes["truncated"] == 0, outcomes
    assert outcomes["other"] == 0, outcomes
