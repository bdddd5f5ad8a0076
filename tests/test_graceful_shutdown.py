"""SIGTERM under load: in-flight requests finish, the process exits cleanly."""

import http.client
import threading
import time


def test_sigterm_under_load_finishes_in_flight_requests_and_exits_zero(server, api):
    stop = threading.Event()
    lock = threading.Lock()
    outcomes = {"ok": 0, "refused": 0, "server_error": 0, "truncated": 0, "other": 0}
    surprises = []  # what the "other" outcomes were, for the failure message

    def one_request() -> str:
        connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
        answered = False  # once the status line and headers arrived, losing the body is truncation
        try:
            connection.request("GET", "/api/v1/namespaces", headers={"Authorization": f"Bearer {api.token}"})
            response = connection.getresponse()
            answered = True
            body = response.read()
            length = response.getheader("Content-Length")
            if length is not None and int(length) != len(body):
                return "truncated"
            if response.status >= 500:
                return "server_error"
            if response.status != 200:
                surprises.append(f"status {response.status}: {body[:200]!r}")
                return "other"
            return "ok"
        except http.client.IncompleteRead:
            return "truncated"
        except (ConnectionError, http.client.RemoteDisconnected):
            # Refused or reset once the listener closed: fine before an answer began, not after.
            if answered:
                return "truncated"
            return "refused"
        except Exception as error:  # a timeout, a malformed answer: nothing a clean shutdown produces
            surprises.append(repr(error))
            return "other"
        finally:
            connection.close()

    def hammer():
        deadline = time.monotonic() + 10
        while not stop.is_set() and time.monotonic() < deadline:
            kind = one_request()
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
    assert outcomes["other"] == 0, (outcomes, surprises[:10])
    assert not any(thread.is_alive() for thread in threads), "a client thread hung"
