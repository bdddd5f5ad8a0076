"""A small client of the worker protocol, for tests and tools (the gateway speaks the same frames)."""

import socket

import numpy as np

from .protocol import decode_tensor, encode_tensor, read_frame, split_body, write_frame


class WorkerError(Exception):
    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status


class WorkerClient:
    def __init__(self, address: str, timeout: float = 30):
        if address.startswith("unix:"):
            self.socket = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            self.socket.settimeout(timeout)
            self.socket.connect(address[len("unix:"):])
        else:
            host, _, port = address[len("tcp:"):].rpartition(":")
            self.socket = socket.create_connection((host, int(port)), timeout=timeout)
            self.socket.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.stream = self.socket.makefile("rwb")
        self.next_id = 0

    def close(self):
        self.stream.close()
        self.socket.close()

    def call(self, header: dict, body: bytes = b""):
        self.next_id += 1
        header = {**header, "id": self.next_id}
        write_frame(self.stream, header, body)
        answer, payload = read_frame(self.stream)
        if answer.get("id") != self.next_id:
            raise WorkerError(500, f"answer {answer.get('id')} to request {self.next_id}")
        if "error" in answer:
            raise WorkerError(answer.get("status", 500), answer["error"])
        return answer, payload

    def health(self) -> dict:
        return self.call({"op": "health"})[0]

    def metadata(self) -> dict:
        return self.call({"op": "metadata"})[0]

    def infer(self, inputs: dict, outputs: list | None = None) -> dict:
        entries, chunks = [], []
        for name, array in inputs.items():
            entry, raw = encode_tensor(name, np.asarray(array))
            entries.append(entry)
            chunks.append(raw)
        header = {"op": "infer", "inputs": entries}
        if outputs:
            header["outputs"] = outputs
        answer, payload = self.call(header, b"".join(chunks))
        pieces = split_body(answer["outputs"], payload)
        return {entry["name"]: decode_tensor(entry, raw) for entry, raw in zip(answer["outputs"], pieces)}
