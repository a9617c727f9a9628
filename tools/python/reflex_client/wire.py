"""The policy socket's message layout (CONTRACT section 5): a JSON header, then raw tensors."""

import json

import numpy as np

from .errors import ReflexError

DTYPES = {"uint8": np.dtype("<u1"), "float32": np.dtype("<f4")}


def wire_array(name, value):
    """``value`` as a C-order little-endian uint8 or float32 array. Other float types become
    float32; any other type is refused."""
    array = np.asarray(value)
    if array.dtype.kind == "u" and array.dtype.itemsize == 1:
        dtype = DTYPES["uint8"]
    elif array.dtype.kind == "f":
        dtype = DTYPES["float32"]
    else:
        raise TypeError(f"tensor {name!r}: dtype {array.dtype} is not uint8 or float32")
    return np.ascontiguousarray(array, dtype=dtype)


def dtype_name(array):
    return "uint8" if array.dtype == DTYPES["uint8"] else "float32"


def encode_request(header, tensors):
    """Frames of a request: ``header`` (a dict) plus a ``tensors`` list describing ``tensors``
    (name → array, in order), then each tensor's bytes."""
    arrays = [(name, wire_array(name, value)) for name, value in tensors]
    header = dict(header)
    header["tensors"] = [{"name": name, "dtype": dtype_name(a), "shape": list(a.shape)} for name, a in arrays]
    frames = [json.dumps(header, separators=(",", ":")).encode()]
    frames += [memoryview(a.reshape(-1)).cast("B") if a.size else b"" for _, a in arrays]
    return frames


def decode_header(frame):
    try:
        header = json.loads(bytes(frame).decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as error:
        raise ReflexError("bad_reply", f"reply header is not JSON: {error}") from None
    if not isinstance(header, dict):
        raise ReflexError("bad_reply", "reply header is not a JSON object")
    return header


def decode_tensor(header, frames, name):
    """The tensor ``name`` of a reply whose tensor frames are ``frames`` (after the header)."""
    described = header.get("tensors")
    if not isinstance(described, list):
        raise ReflexError("bad_reply", "reply has no tensors list", header)
    for index, entry in enumerate(described):  # noqa: B007 (index is used after the loop)
        if isinstance(entry, dict) and entry.get("name") == name:
            break
    else:
        raise ReflexError("bad_reply", f"reply has no {name!r} tensor", header)
    dtype = DTYPES.get(entry.get("dtype"))
    shape = entry.get("shape")
    if dtype is None or not isinstance(shape, list) or not all(isinstance(d, int) and d >= 0 for d in shape):
        raise ReflexError("bad_reply", f"bad description of tensor {name!r}: {entry}", header)
    if index >= len(frames):
        raise ReflexError("bad_reply", f"reply lacks the frame of tensor {name!r}", header)
    data = bytes(frames[index])
    expected = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    if len(data) != expected:
        raise ReflexError("bad_reply", f"tensor {name!r}: {len(data)} bytes, shape {shape} needs {expected}", header)
    return np.frombuffer(data, dtype=dtype).reshape(shape).astype(dtype.newbyteorder("="))
