"""The names job in PyTorch, for comparison (docs/names.md): the same words, normalisation and fixed
split (FNV-1a hash of the word), the same architectures (token embedding, learned positions, pre-norm
causal transformer blocks with GELU, final layer norm, vocabulary head; or embedding, one LSTM,
head), the same loss (nats per character over the positions with a target), AdamW with weight decay
on weight matrices only and the same warm-up + cosine schedule, the same batch size and steps. Only
the random numbers differ (initial weights, batch order).

    python3 examples/names/reference.py                 # transformer, 4 layers, 4 heads, 128 dims
    python3 examples/names/reference.py --model lstm    # embedding, LSTM(128), head

Needs PyTorch (Debian: python3-torch). Prints the validation loss on every validation word.
"""

import argparse
import math
import pathlib
import re
import time

import torch
from torch import nn

ROOT = pathlib.Path(__file__).resolve().parents[2]
WORD_LIST = ROOT / "data" / "wamerican" / "american-english"
VOCAB = 27  # '.' (start/end) and a-z
PAD_TARGET = -1


def fnv1a(s: str) -> int:
    """FNV-1a, 32 bits, over UTF-16 code units (the words are ASCII here): names.mjs's fnv1a."""
    h = 0x811C9DC5
    for ch in s:
        h ^= ord(ch)
        h = (h * 0x01000193) & 0xFFFFFFFF
    return h


def load_words(context: int):
    text = WORD_LIST.read_bytes().decode("utf-8")
    assert text.endswith("\n")
    seen, words = set(), []
    for line in text[:-1].split("\n"):
        w = line.lower()
        if re.fullmatch("[a-z]+", w) and len(w) <= context - 1 and w not in seen:
            seen.add(w)
            words.append(w)
    train = [w for w in words if fnv1a(w) % 100 >= 10]
    validation = [w for w in words if fnv1a(w) % 100 < 10]
    return train, validation


def encode(words, context):
    x = torch.zeros((len(words), context), dtype=torch.long)
    y = torch.full((len(words), context), PAD_TARGET, dtype=torch.long)
    for i, w in enumerate(words):
        tokens = [ord(c) - 96 for c in w]
        x[i, 1 : len(tokens) + 1] = torch.tensor(tokens)
        y[i, : len(tokens)] = torch.tensor(tokens)
        y[i, len(tokens)] = 0
    return x, y


class Transformer(nn.Module):
    def __init__(self, layers, heads, dims, context):
        super().__init__()
        self.embedding = nn.Embedding(VOCAB, dims)
        self.pos = nn.Embedding(context, dims)
        nn.init.normal_(self.pos.weight, std=0.02)
        self.blocks = nn.ModuleList(
            nn.TransformerEncoderLayer(
                dims, heads, 4 * dims, dropout=0.0, activation="gelu", batch_first=True, norm_first=True
            )
            for _ in range(layers)
        )
        self.norm = nn.LayerNorm(dims)
        self.head = nn.Linear(dims, VOCAB)

    def forward(self, x):
        length = x.shape[1]
        h = self.embedding(x) + self.pos.weight[:length]
        mask = torch.triu(torch.full((length, length), float("-inf")), diagonal=1)
        for block in self.blocks:
            h = block(h, src_mask=mask)
        return self.head(self.norm(h))


class Lstm(nn.Module):
    def __init__(self, dims):
        super().__init__()
        self.embedding = nn.Embedding(VOCAB, dims)
        self.lstm = nn.LSTM(dims, dims, batch_first=True)
        self.head = nn.Linear(dims, VOCAB)

    def forward(self, x):
        h, _ = self.lstm(self.embedding(x))
        return self.head(h)


def nll_sum(model, x, y):
    logits = model(x)
    return nn.functional.cross_entropy(
        logits.reshape(-1, VOCAB), y.reshape(-1), ignore_index=PAD_TARGET, reduction="sum"
    ), (y >= 0).sum()


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--model", default="transformer", choices=["transformer", "lstm"])
    p.add_argument("--layers", type=int, default=4)
    p.add_argument("--heads", type=int, default=4)
    p.add_argument("--dims", type=int, default=128)
    p.add_argument("--context", type=int, default=16)
    p.add_argument("--steps", type=int, default=600)
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--lr", type=float)
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args()
    torch.manual_seed(args.seed)
    lr = args.lr if args.lr is not None else (5e-3 if args.model == "lstm" else 3e-3)

    train, validation = load_words(args.context)
    print(f"split: {len(train)} train, {len(validation)} validation")
    tx, ty = encode(train, args.context)
    vx, vy = encode(validation, args.context)
    model = Transformer(args.layers, args.heads, args.dims, args.context) if args.model == "transformer" else Lstm(args.dims)
    print(f"model: {args.model}, {sum(q.numel() for q in model.parameters())} parameters, torch {torch.__version__}")

    decay = [q for n, q in model.named_parameters() if n.endswith("weight") and q.dim() >= 2]
    rest = [q for n, q in model.named_parameters() if not (n.endswith("weight") and q.dim() >= 2)]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.01}, {"params": rest, "weight_decay": 0.0}], lr=lr)
    warmup = max(1, min(100, args.steps // 10))
    decay_steps = max(args.steps, warmup + 1)
    end = lr / 10

    def schedule(step):  # optax's warmup_cosine_decay_schedule(0, lr, warmup, decay_steps, end), as a factor of lr
        if step < warmup:
            return step / warmup
        progress = min(step - warmup, decay_steps - warmup) / (decay_steps - warmup)
        return (end + (lr - end) * 0.5 * (1 + math.cos(math.pi * progress))) / lr

    sched = torch.optim.lr_scheduler.LambdaLR(opt, schedule)
    per_pass = len(train) // args.batch
    started = time.time()
    order = None
    for step in range(args.steps):
        b = step % per_pass
        if b == 0:
            order = torch.randperm(len(train))
        idx = order[b * args.batch : (b + 1) * args.batch]
        total, count = nll_sum(model, tx[idx], ty[idx])
        loss = total / count
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
        if (step + 1) % 100 == 0:
            print(f"step {step + 1}/{args.steps}  batch loss {loss.item():.4f}  {time.time() - started:.1f} s")
    seconds = time.time() - started
    model.eval()
    with torch.no_grad():
        total, count = 0.0, 0
        for start in range(0, len(validation), 512):
            t, c = nll_sum(model, vx[start : start + 512], vy[start : start + 512])
            total += t.item()
            count += c.item()
    print(f"final: validation {total / count:.4f} nats/char on all {len(validation)} validation words; training {seconds:.1f} s")


if __name__ == "__main__":
    main()
