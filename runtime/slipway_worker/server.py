"""Serves one loaded model over the frame protocol (``protocol.py``) on a Unix socket or a loopback TCP port.

Connections are served concurrently, predictions one at a time (a model object is rarely thread-safe; a
node runs as many workers as the deployment has replicas there, and the gateway batches requests).
"""

import json
import os
import socket
import socketserver
import sys
import threading
import time
import traceback

from .protocol import ProtocolError, RequestError, decode_tensor, encode_tensor, read_frame, split_body, write_frame


class ModelServer:
    def __init__(self, runtime, name: str = "model"):
        self.runtime = runtime
        self.name = name
        self.lock = threading.Lock()
        self.served = 0
        self.started = time.time()

    def handle(self, header: dict, body) -> tuple[dict, bytes]:
        """One request's answer: a header and a body."""
        op = header.get("op")
        request_id = header.get("id")
        try:
            if op == "health":
                return {"id": request_id, "ready": True, "served": self.served, "pid": os.getpid()}, b""
            if op == "metadata":
                return {"id": request_id, "name": self.name, **self.runtime.metadata()}, b""
            if op != "infer":
                raise RequestError(f"unknown op {op!r}; send infer, metadata or health")
            entries = header.get("inputs")
            if not isinstance(entries, list) or not entries:
                raise RequestError("an infer request lists its inputs")
            pieces = split_body(entries, body)
            inputs = {}
            for entry, raw in zip(entries, pieces):
                if entry.get("name") in inputs:
                    raise RequestError(f"input '{entry.get('name')}' is given twice")
                inputs[entry.get("name")] = decode_tensor(entry, raw)
            wanted = header.get("outputs")
            with self.lock:
                outputs = self.runtime.infer(inputs, wanted)
                self.served += 1
            described, chunks = [], []
            for name, array in outputs.items():
                entry, raw = encode_tensor(name, array)
                described.append(entry)
                chunks.append(raw)
            return {"id": request_id, "outputs": described}, b"".join(chunks)
        except RequestError as error:
            return {"id": request_id, "error": str(error), "status": 400}, b""
        except Exception as error:  # the model's own failure
            traceback.print_exc(file=sys.stderr)
            return {"id": request_id, "error": f"the model failed: {type(error).__name__}: {error}", "status": 500}, b""


def serve(server: ModelServer, listen: str, ready=None):
    """Listens on ``unix:PATH`` or ``tcp:HOST:PORT`` (port 0: any) until stopped; ``ready(address)`` is called
    once listening."""

    class Handler(socketserver.StreamRequestHandler):
        def handle(self):
            while True:
                try:
                    header, body = read_frame(self.rfile)
                except EOFError:
                    return
                except ProtocolError as error:
                    try:
                        write_frame(self.wfile, {"error": str(error), "status": 400})
                    finally:
                        return
                answer, payload = server.handle(header, body)
                write_frame(self.wfile, answer, payload)

    if listen.startswith("unix:"):
        path = listen[len("unix:"):]
        if os.path.exists(path):
            os.unlink(path)

        class UnixServer(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
            daemon_threads = True
            request_queue_size = 256  # a burst of connections (a gateway opening its pool) must not be refused

        listener = UnixServer(path, Handler)
        address = "unix:" + path
    elif listen.startswith("tcp:"):
        host, _, port = listen[len("tcp:"):].rpartition(":")

        class TCPServer(socketserver.ThreadingMixIn, socketserver.TCPServer):
            daemon_threads = True
            allow_reuse_address = True
            request_queue_size = 256

            def server_bind(self):
                self.socket.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                super().server_bind()

        listener = TCPServer((host or "127.0.0.1", int(port)), Handler)
        address = f"tcp:{listener.server_address[0]}:{listener.server_address[1]}"
    else:
        raise ValueError(f"listen on unix:PATH or tcp:HOST:PORT, not {listen!r}")
    if ready:
        ready(address)
    try:
        listener.serve_forever(poll_interval=0.2)
    finally:
        listener.server_close()


def announce(address: str, runtime, name: str):
    """The line the supervisor waits for on stdout: the worker is loaded and listening."""
    print(json.dumps({"ready": True, "address": address, "platform": runtime.platform, "name": name, "pid": os.getpid()}), flush=True)
