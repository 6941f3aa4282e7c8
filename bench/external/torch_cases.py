# PyTorch (CPU) side of the benchmark cases: /usr/bin/python3 bench/external/torch_cases.py <bench> <dir>
# <dir> holds manifest.json ({"bench", "threads", "params", "inputs": {name: shape}}) and one raw
# float32 file per input (<name>.f32), written by bench/cases/external.mjs from the same seeded arrays
# every other framework gets. Times the case with the protocol of bench/cases/common.mjs and prints
# one JSON line. Layouts follow the jax-js/TF.js side of each case ([in, out] dense weights, NCHW/OIHW).
import json
import math
import os
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F

WARMUP_MS = 1500
MAX_RUNS = 41
BUDGET_MS = 12000
SUSTAIN_MS = 5000


def now_ms():
    return time.perf_counter() * 1000


def summarise(samples):
    s = sorted(samples)
    n = len(s)
    median = s[n // 2] if n % 2 == 1 else (s[n // 2 - 1] + s[n // 2]) / 2
    return {"medianMs": median, "minMs": s[0], "maxMs": s[-1], "runs": n}


def measure(fn, warmup=3, warmup_ms=0, max_runs=15, budget_ms=12000):
    start = now_ms()
    i = 0
    while i < warmup or now_ms() - start < warmup_ms:
        fn()
        i += 1
    samples = []
    start = now_ms()
    while len(samples) < max_runs and (len(samples) < 3 or now_ms() - start < budget_ms):
        t0 = now_ms()
        fn()
        samples.append(now_ms() - t0)
    return summarise(samples)


def time_training_step(batch, step):
    t0 = now_ms()
    first_loss = step()
    first_ms = now_ms() - t0
    loss_after = step()
    stats = measure(step, warmup=3, warmup_ms=WARMUP_MS, max_runs=MAX_RUNS, budget_ms=BUDGET_MS)
    calls = 0
    start = now_ms()
    while calls < 3 or now_ms() - start < SUSTAIN_MS:
        step()
        calls += 1
    elapsed = now_ms() - start
    mean = elapsed / calls
    return {
        "batch": batch,
        "firstStepMs": first_ms,
        "firstLoss": first_loss,
        "lossAfterOneStep": loss_after,
        "samplesPerSecond": batch * 1000 / stats["medianMs"],
        "sustainedSamplesPerSecond": batch * 1000 / mean,
        **stats,
        "sustainedMeanMs": mean,
        "sustainedCalls": calls,
        "sustainedSeconds": elapsed / 1000,
    }


def load(directory):
    with open(os.path.join(directory, "manifest.json")) as f:
        manifest = json.load(f)
    arrays = {}
    for name, shape in manifest["inputs"].items():
        data = np.fromfile(os.path.join(directory, name + ".f32"), dtype=np.float32)
        arrays[name] = torch.from_numpy(data.reshape(shape).copy())
    return manifest, arrays


def cross_entropy(logits, labels):
    """Softmax cross-entropy against one-hot labels, averaged over the batch (as every peer)."""
    return -(F.log_softmax(logits, dim=-1) * labels).sum(-1).mean()


def sgd_step(params, loss_fn, lr):
    """One plain SGD step over `params` (leaf tensors requiring grad); returns the loss before it."""

    def step():
        for p in params:
            p.grad = None
        loss = loss_fn()
        loss.backward()
        with torch.no_grad():
            for p in params:
                p.sub_(p.grad, alpha=lr)
        return loss.item()

    return step


def case_matmul(manifest, a):
    results = []
    checksum = None
    for n in manifest["params"]["sizes"]:
        x, y = a["a%d" % n], a["b%d" % n]
        if checksum is None:
            product = torch.mm(x, y).numpy().reshape(-1).astype(np.float64)
            checksum = float((product * (1 + (np.arange(product.size) % 13))).sum())
        budget = (
            dict(warmup=1, max_runs=5, budget_ms=8000)
            if n >= 1024
            else dict(warmup=3, max_runs=31 if n <= 256 else 11, budget_ms=4000)
        )
        out = torch.empty(n, n)
        stats = measure(lambda: torch.mm(x, y, out=out), **budget)
        results.append({"n": n, "gflops": 2 * n**3 / (stats["medianMs"] * 1e6), **stats})
    return {"checksum": checksum, "results": results}


def case_mlp(manifest, a):
    p = manifest["params"]
    params = []
    for l in range(len(p["sizes"]) - 1):
        params += [a["w%d" % l].requires_grad_(), a["b%d" % l].requires_grad_()]
    x, labels = a["x"], a["labels"]

    def loss_fn():
        h = x
        for l in range(len(params) // 2):
            h = torch.addmm(params[2 * l + 1], h, params[2 * l])
            if l < len(params) // 2 - 1:
                h = torch.relu(h)
        return cross_entropy(h, labels)

    return time_training_step(p["batch"], sgd_step(params, loss_fn, p["lr"]))


def case_cnn(manifest, a):
    p = manifest["params"]
    names = ["c1", "b1", "c2", "b2", "w", "b"]
    params = [a[k].requires_grad_() for k in names]
    c1, b1, c2, b2, w, b = params
    x, labels = a["x"], a["labels"]
    batch = p["batch"]

    def loss_fn():
        h = F.max_pool2d(torch.relu(F.conv2d(x, c1, b1)), 2)
        h = F.max_pool2d(torch.relu(F.conv2d(h, c2, b2)), 2)
        logits = torch.addmm(b, h.reshape(batch, -1), w)
        return cross_entropy(logits, labels)

    return time_training_step(batch, sgd_step(params, loss_fn, p["lr"]))


def case_transformer(manifest, a):
    """One pre-norm block (PyTorch's TransformerEncoderLayer, norm_first, GELU), written by hand as in
    the JavaScript peers; mean squared error against a target; Adam."""
    p = manifest["params"]
    batch, seq, dim, heads = p["batch"], p["seq"], p["dim"], p["heads"]
    head = dim // heads
    names = p["paramOrder"]
    params = [a[k].requires_grad_() for k in names]
    w = dict(zip(names, params))
    x, target = a["x"], a["target"]
    mask = torch.triu(torch.full((seq, seq), float("-inf")), diagonal=1)

    def block(x):
        n1 = F.layer_norm(x, (dim,), w["norm1.weight"], w["norm1.bias"], eps=1e-5)
        qkv = F.linear(n1, w["self_attn.in_proj_weight"], w["self_attn.in_proj_bias"])
        q, k, v = qkv.split(dim, dim=-1)
        split = lambda t: t.reshape(batch, seq, heads, head).transpose(1, 2)
        q, k, v = split(q), split(k), split(v)
        scores = q @ k.transpose(-1, -2) / math.sqrt(head) + mask
        attn = (torch.softmax(scores, dim=-1) @ v).transpose(1, 2).reshape(batch, seq, dim)
        h = x + F.linear(attn, w["self_attn.out_proj.weight"], w["self_attn.out_proj.bias"])
        n2 = F.layer_norm(h, (dim,), w["norm2.weight"], w["norm2.bias"], eps=1e-5)
        hidden = F.gelu(F.linear(n2, w["linear1.weight"], w["linear1.bias"]))
        return h + F.linear(hidden, w["linear2.weight"], w["linear2.bias"])

    lr, b1, b2, eps = p["lr"], p["b1"], p["b2"], p["eps"]
    m = [torch.zeros_like(t) for t in params]
    v = [torch.zeros_like(t) for t in params]
    count = [0]

    def step():
        for t in params:
            t.grad = None
        loss = ((block(x) - target) ** 2).mean()
        loss.backward()
        count[0] += 1
        c1 = 1 - b1 ** count[0]
        c2 = 1 - b2 ** count[0]
        with torch.no_grad():
            for t, mt, vt in zip(params, m, v):
                mt.mul_(b1).add_(t.grad, alpha=1 - b1)
                vt.mul_(b2).addcmul_(t.grad, t.grad, value=1 - b2)
                t.sub_(lr * (mt / c1) / ((vt / c2).sqrt() + eps))
        return loss.item()

    return time_training_step(batch, step)


CASES = {"matmul": case_matmul, "mlp": case_mlp, "cnn": case_cnn, "transformer": case_transformer}


def main():
    bench, directory = sys.argv[1], sys.argv[2]
    manifest, arrays = load(directory)
    threads = manifest["threads"]
    torch.set_num_threads(threads)
    try:
        torch.set_num_interop_threads(1)
    except RuntimeError:
        pass
    if bench not in CASES:
        print(json.dumps({"error": "no PyTorch version of the %s case" % bench}))
        return
    result = CASES[bench](manifest, arrays)
    backend = "PyTorch %s CPU, %d thread%s" % (torch.__version__, threads, "" if threads == 1 else "s")
    print(json.dumps({"backend": backend, "threads": torch.get_num_threads(), **result}))


if __name__ == "__main__":
    main()
