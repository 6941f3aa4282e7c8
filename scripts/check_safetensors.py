#!/usr/bin/env python3
"""Checks safetensors files that backfold writes against implementations that share no code with it.

    python3 scripts/check_safetensors.py [--no-torch] FILE...
    python3 scripts/check_safetensors.py --write-fixtures DIR

1. Always: an independent reader in the Python standard library (struct + json), written from the
   format's specification (https://github.com/huggingface/safetensors, "Format") and the validation
   rules of the reference reader.
2. When the reference implementation is importable (`pip install safetensors`; its wheel is built
   from the Rust crate of huggingface/safetensors): `safetensors.numpy.load` must read the file, give
   the same names, dtypes, shapes, values and metadata, and `safetensors.numpy.save` of what it read
   must reproduce the file byte for byte (so backfold writes exactly what the reference writer does).
3. When PyTorch is importable and --no-torch is not given: every tensor is materialised with
   torch.frombuffer in its declared dtype and shape and compared element by element, and, with the
   reference implementation, `safetensors.torch.load_file` must read the file too.

Prints one JSON object {FILE: report}. A report is {"ok": true, "header_length", "metadata",
"tensors": {name: {"dtype", "shape", "data_offsets", "values"}}, "torch": ..., "reference": ...}
or {"ok": false, "error": "..."}; "torch" and "reference" are null when not importable. Non-finite
floats are written as the strings "NaN", "Infinity", "-Infinity" (JSON has no literal for them).
Exit status 0 when every file is valid, 1 otherwise.

--write-fixtures DIR writes the test fixtures of packages/nn/test/fixtures with the reference writer
(needs `safetensors` and numpy).
"""
import json
import math
import struct
import sys

MAX_HEADER = 100_000_000
# dtype -> (struct code, item size, torch dtype name)
DTYPES = {
    "F64": ("d", 8, "float64"),
    "F32": ("f", 4, "float32"),
    "I32": ("i", 4, "int32"),
    "F16": ("e", 2, "float16"),  # struct's IEEE binary16, converted exactly to a Python float
}
# Defined by the format but not handled by this checker (backfold writes none of them; BF16 has no
# struct code and no numpy dtype).
OTHER_DTYPES = {
    "BOOL", "U8", "I8", "F8_E5M2", "F8_E4M3", "F8_E8M0", "F4", "F6_E2M3", "F6_E3M2",
    "I16", "U16", "BF16", "U32", "I64", "U64", "C64",
}


class Invalid(Exception):
    pass


def no_duplicates(pairs):
    seen = {}
    for key, value in pairs:
        if key in seen:
            raise Invalid(f"duplicate key {key!r} in the header")
        seen[key] = value
    return seen


def is_count(x):
    return isinstance(x, int) and not isinstance(x, bool) and x >= 0


def jsonable(v):
    if isinstance(v, float) and not math.isfinite(v):
        return "NaN" if math.isnan(v) else ("Infinity" if v > 0 else "-Infinity")
    return v


def read(data):
    if len(data) < 8:
        raise Invalid("shorter than the 8-byte header length")
    (n,) = struct.unpack("<Q", data[:8])
    if n > MAX_HEADER:
        raise Invalid(f"header length {n} above the limit")
    if 8 + n > len(data):
        raise Invalid(f"header length {n} past the end of the file")
    try:
        text = data[8 : 8 + n].decode("utf-8")
    except UnicodeDecodeError as e:
        raise Invalid(f"header is not UTF-8: {e}")
    if not text.startswith("{"):
        raise Invalid("header does not start with '{'")
    try:
        header = json.loads(text, object_pairs_hook=no_duplicates)
    except ValueError as e:
        raise Invalid(f"header is not JSON: {e}")
    if not isinstance(header, dict):
        raise Invalid("header is not a JSON object")
    metadata = header.pop("__metadata__", {})
    if not isinstance(metadata, dict) or not all(isinstance(v, str) for v in metadata.values()):
        raise Invalid("__metadata__ is not a map of strings")
    body = data[8 + n :]
    entries = []
    for name, info in header.items():
        if not isinstance(info, dict):
            raise Invalid(f"{name}: entry is not an object")
        dtype, shape, offsets = info.get("dtype"), info.get("shape"), info.get("data_offsets")
        if dtype in OTHER_DTYPES:
            raise Invalid(f"{name}: dtype {dtype} not handled by this checker")
        if dtype not in DTYPES:
            raise Invalid(f"{name}: unknown dtype {dtype!r}")
        if not isinstance(shape, list) or not all(is_count(d) for d in shape):
            raise Invalid(f"{name}: bad shape {shape!r}")
        if not isinstance(offsets, list) or len(offsets) != 2 or not all(is_count(o) for o in offsets):
            raise Invalid(f"{name}: bad data_offsets {offsets!r}")
        entries.append((offsets[0], offsets[1], name, dtype, shape))
    # Reference rule: sorted by offsets, each tensor starts where the previous ended, the first
    # at 0, and the last one ends exactly at the end of the file.
    entries.sort()
    cursor = 0
    tensors = {}
    for begin, end, name, dtype, shape in entries:
        if begin != cursor or end < begin:
            raise Invalid(f"{name}: data_offsets [{begin}, {end}] leave a hole or overlap")
        code, size, _ = DTYPES[dtype]
        count = 1
        for d in shape:
            count *= d
        if end - begin != count * size:
            raise Invalid(f"{name}: {end - begin} bytes for shape {shape} of {dtype}")
        if end > len(body):
            raise Invalid(f"{name}: data_offsets past the end of the file")
        values = list(struct.unpack("<%d%s" % (count, code), body[begin:end]))
        tensors[name] = {"dtype": dtype, "shape": shape, "data_offsets": [begin, end], "values": values}
        cursor = end
    if cursor != len(body):
        raise Invalid(f"{len(body) - cursor} bytes after the last tensor")
    return n, metadata, tensors, body


def same(a, b):
    """Equal as stored: NaN matches NaN and -0.0 does not match 0.0."""
    if isinstance(a, float) and math.isnan(a):
        return isinstance(b, float) and math.isnan(b)
    if a != b:
        return False
    return not isinstance(a, float) or math.copysign(1.0, a) == math.copysign(1.0, b)


def check_torch(torch, tensors, body):
    for name, t in tensors.items():
        begin, end = t["data_offsets"]
        dtype = getattr(torch, DTYPES[t["dtype"]][2])
        if end == begin:
            x = torch.empty(t["shape"], dtype=dtype)
        else:
            x = torch.frombuffer(bytearray(body[begin:end]), dtype=dtype).reshape(t["shape"])
        if list(x.shape) != t["shape"] or x.numel() != len(t["values"]):
            raise Invalid(f"{name}: torch sees shape {list(x.shape)}")
        flat = x.reshape(-1).tolist()
        if not all(same(a, b) for a, b in zip(flat, t["values"])):
            raise Invalid(f"{name}: torch values differ from the struct decoding")
    return {"version": torch.__version__, "tensors_checked": len(tensors)}


def same_all(xs, ys):
    xs, ys = list(xs), list(ys)
    return len(xs) == len(ys) and all(same(a, b) for a, b in zip(xs, ys))


def check_reference(path, data, metadata, tensors, use_torch):
    """Reads with the reference implementation and re-saves with it; None if it is not installed."""
    try:
        import numpy
        import safetensors
        import safetensors.numpy
    except ImportError:
        return None
    arrays = safetensors.numpy.load(data)
    if sorted(arrays) != sorted(tensors):
        raise Invalid(f"reference reader sees tensors {sorted(arrays)}")
    for name, t in tensors.items():
        a = arrays[name]
        if a.dtype != numpy.dtype(DTYPES[t["dtype"]][2]) or list(a.shape) != t["shape"]:
            raise Invalid(f"{name}: reference reader sees {a.dtype} {list(a.shape)}")
        if not same_all(a.reshape(-1).tolist(), t["values"]):
            raise Invalid(f"{name}: reference reader sees different values")
    with safetensors.safe_open(path, "numpy") as f:
        if (f.metadata() or {}) != metadata:
            raise Invalid(f"reference reader sees metadata {f.metadata()}")
    resaved = safetensors.numpy.save(arrays, metadata=metadata or None)
    report = {
        "version": safetensors.__version__,
        "tensors_checked": len(arrays),
        "resave_identical": resaved == data,
        "torch_load_file": None,
    }
    if use_torch:
        try:
            import torch  # noqa: F401
            import safetensors.torch
        except ImportError:
            return report
        loaded = safetensors.torch.load(data)
        for name, t in tensors.items():
            if list(loaded[name].shape) != t["shape"] or not same_all(loaded[name].reshape(-1).tolist(), t["values"]):
                raise Invalid(f"{name}: safetensors.torch.load sees different values")
        report["torch_load_file"] = len(loaded)
    return report


def reference_verdict(path):
    """What the reference reader says about a file: its error text, "" if it accepts it, None if not installed."""
    try:
        import safetensors.numpy
    except ImportError:
        return None
    try:
        with open(path, "rb") as f:
            safetensors.numpy.load(f.read())
        return ""
    except Exception as e:
        return f"{type(e).__name__}: {e}" or type(e).__name__


def write_fixtures(directory):
    """Fixtures for packages/nn/test/safetensors.test.ts, written by the reference writer."""
    import os

    import numpy as np
    import safetensors.numpy

    os.makedirs(directory, exist_ok=True)
    tensors = {
        "layers.0.weight": (np.arange(6, dtype=np.float32).reshape(2, 3) / 4 - 0.5).astype(np.float32),
        "layers.0.bias": np.array([-1.0, 0.1], dtype=np.float32),
        "scale": np.array(np.pi, dtype=np.float64),
        "counts": np.array([1, -2, 2147483647], dtype=np.int32),
        "empty": np.zeros((0, 4), dtype=np.float32),
    }
    meta = {"format": "np", "writer": f"safetensors {safetensors.__version__}"}
    safetensors.numpy.save_file(tensors, os.path.join(directory, "reference.safetensors"), metadata=meta)
    safetensors.numpy.save_file(
        {"half": np.array([1.0, 2.0], dtype=np.float16), "ok": np.array([1.0], dtype=np.float32)},
        os.path.join(directory, "reference_f16.safetensors"),
    )


def main(argv):
    if argv[:1] == ["--write-fixtures"] and len(argv) == 2:
        write_fixtures(argv[1])
        return 0
    use_torch = "--no-torch" not in argv
    paths = [a for a in argv if a != "--no-torch"]
    torch = None
    if use_torch:
        try:
            import torch  # noqa: F811
        except ImportError:
            torch = None
    reports = {}
    for path in paths:
        try:
            with open(path, "rb") as f:
                data = f.read()
            n, metadata, tensors, body = read(data)
            report = {"ok": True, "header_length": n, "metadata": metadata, "tensors": tensors}
            report["torch"] = check_torch(torch, tensors, body) if torch is not None else None
            report["reference"] = check_reference(path, data, metadata, tensors, torch is not None)
            for t in tensors.values():
                t["values"] = [jsonable(v) for v in t["values"]]
            reports[path] = report
        except (Invalid, OSError) as e:
            reports[path] = {"ok": False, "error": str(e), "reference_error": reference_verdict(path)}
        except Exception as e:  # the reference implementation refused the file
            reports[path] = {"ok": False, "error": f"{type(e).__name__}: {e}"}
    print(json.dumps(reports))
    return 0 if all(r["ok"] for r in reports.values()) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
