"""The wire protocol between a model worker and whoever sends it work (the agent, the gateway).

Every message, either way, is one frame:

    u32 little-endian  header length H
    u32 little-endian  body length B
    H bytes            the header, UTF-8 JSON
    B bytes            the body: the raw tensors the header lists, back to back, in its order

Tensors cross as raw little-endian bytes, never as JSON numbers: a tensor entry in the header is
``{"name", "datatype", "shape", "size"}`` with ``size`` its byte count in the body. BYTES tensors are, per
element, a u32 little-endian length and the bytes (the Open Inference Protocol's binary form), so a gateway
can pass binary tensors through untouched.

Requests: ``{"op": "infer", "id", "inputs": [tensor…], "outputs"?: [names]}``, ``{"op": "metadata"}``,
``{"op": "health"}``. Answers carry the request's ``id``; a failed request answers
``{"id", "error": "a sentence", "status": 400|500}`` (400: the request's fault, 500: the model's).
"""

import json
import struct

import numpy as np

FRAME_HEAD = struct.Struct("<II")
#: The largest header and body accepted, so a broken peer cannot make the worker allocate without bound.
MAX_HEADER = 16 << 20
MAX_BODY = 2 << 30

#: Open Inference Protocol datatypes and their numpy types (BYTES is handled on its own).
DATATYPES = {
    "BOOL": np.dtype(np.bool_), "UINT8": np.dtype("<u1"), "UINT16": np.dtype("<u2"), "UINT32": np.dtype("<u4"),
    "UINT64": np.dtype("<u8"), "INT8": np.dtype("<i1"), "INT16": np.dtype("<i2"), "INT32": np.dtype("<i4"),
    "INT64": np.dtype("<i8"), "FP16": np.dtype("<f2"), "FP32": np.dtype("<f4"), "FP64": np.dtype("<f8"),
}


class RequestError(Exception):
    """A mistake in the request (unknown input, wrong datatype or shape): answered with status 400."""


class ProtocolError(Exception):
    """A frame that cannot be read: the connection is closed."""


def datatype_of(array: np.ndarray) -> str:
    """The protocol's name for an array's element type."""
    if array.dtype.kind in ("O", "S", "U"):
        return "BYTES"
    for name, dtype in DATATYPES.items():
        if array.dtype == dtype or (array.dtype.kind == dtype.kind and array.dtype.itemsize == dtype.itemsize):
            return name
    raise RequestError(f"the model produced values of type {array.dtype}, which the protocol cannot carry")


def encode_tensor(name: str, array: np.ndarray) -> tuple[dict, bytes]:
    """A header entry and the raw bytes for an array."""
    array = np.asarray(array)
    datatype = datatype_of(array)
    if datatype == "BYTES":
        parts = []
        for item in array.reshape(-1):
            data = item if isinstance(item, bytes) else str(item).encode()
            parts.append(struct.pack("<I", len(data)) + data)
        raw = b"".join(parts)
    else:
        raw = np.ascontiguousarray(array, dtype=DATATYPES[datatype]).tobytes()
    return {"name": name, "datatype": datatype, "shape": list(array.shape), "size": len(raw)}, raw


def decode_tensor(entry: dict, raw: memoryview) -> np.ndarray:
    """The array a header entry and its bytes describe. - Raises: RequestError when they disagree."""
    name, datatype, shape = entry.get("name"), entry.get("datatype"), entry.get("shape")
    if not isinstance(shape, list) or not all(isinstance(d, int) and d >= 0 for d in shape):
        raise RequestError(f"input '{name}' has shape {shape!r}; a shape is a list of sizes, 0 or more")
    count = int(np.prod(shape, dtype=np.int64)) if shape else 1
    if datatype == "BYTES":
        items, offset = [], 0
        while offset < len(raw):
            if offset + 4 > len(raw):
                raise RequestError(f"input '{name}': a BYTES element's length is cut off")
            (length,) = struct.unpack_from("<I", raw, offset)
            offset += 4
            if offset + length > len(raw):
                raise RequestError(f"input '{name}': a BYTES element is shorter than its length says")
            items.append(bytes(raw[offset:offset + length]))
            offset += length
        if len(items) != count:
            raise RequestError(f"input '{name}' has {len(items)} elements, but its shape {shape} holds {count}")
        return np.array(items, dtype=object).reshape(shape)
    dtype = DATATYPES.get(datatype)
    if dtype is None:
        raise RequestError(f"input '{name}' has datatype {datatype!r}; this worker reads {', '.join(['BYTES', *DATATYPES])}")
    if len(raw) != count * dtype.itemsize:
        raise RequestError(f"input '{name}' carries {len(raw)} bytes, but {datatype} of shape {shape} needs {count * dtype.itemsize}")
    return np.frombuffer(raw, dtype=dtype).reshape(shape)


def write_frame(stream, header: dict, body: bytes = b"") -> None:
    """Writes one frame to a binary stream (a socket file)."""
    head = json.dumps(header, separators=(",", ":")).encode()
    stream.write(FRAME_HEAD.pack(len(head), len(body)))
    stream.write(head)
    if body:
        stream.write(body)
    stream.flush()


def read_exactly(stream, count: int) -> bytes:
    data = stream.read(count)
    if data is None or len(data) != count:
        raise EOFError("the peer closed the connection")
    return data


def read_frame(stream) -> tuple[dict, memoryview]:
    """Reads one frame. - Raises: EOFError at a clean end, ProtocolError for a damaged frame."""
    head = stream.read(FRAME_HEAD.size)
    if not head:
        raise EOFError("the peer closed the connection")
    if len(head) != FRAME_HEAD.size:
        raise ProtocolError("the frame's length prefix is cut off")
    header_length, body_length = FRAME_HEAD.unpack(head)
    if header_length > MAX_HEADER or body_length > MAX_BODY:
        raise ProtocolError(f"a frame of {header_length} + {body_length} bytes is larger than allowed")
    try:
        header = json.loads(read_exactly(stream, header_length))
    except ValueError as error:
        raise ProtocolError(f"the frame's header is not JSON: {error}") from None
    if not isinstance(header, dict):
        raise ProtocolError("the frame's header is not a JSON object")
    return header, memoryview(read_exactly(stream, body_length) if body_length else b"")


def split_body(entries: list, body: memoryview) -> list[memoryview]:
    """Cuts a body into the tensors its header entries list. - Raises: RequestError when sizes do not add up."""
    pieces, offset = [], 0
    for entry in entries:
        size = entry.get("size")
        if not isinstance(size, int) or size < 0 or offset + size > len(body):
            raise RequestError(f"tensor '{entry.get('name')}' says it has {size!r} bytes, which the body does not hold")
        pieces.append(body[offset:offset + size])
        offset += size
    if offset != len(body):
        raise RequestError(f"the body has {len(body) - offset} bytes no tensor accounts for")
    return pieces
