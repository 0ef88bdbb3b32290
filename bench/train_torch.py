#!/usr/bin/python3
"""Independent PyTorch reference for `npm run bench:train` and `npm run bench:sweep`.

The same model as the FlopsFit engine (src/engine/model.ts): byte-level decoder-only transformer,
pre-LayerNorm, causal multi-head attention, MLP 4x with GELU (tanh), learned positional
embeddings, untied output head without bias; AdamW (decoupled weight decay on matrices and
embeddings only), global-norm clipping 1.0, fp32, mean cross-entropy. Random tokens (the data
pipeline is not what is measured). Prints one JSON line.

bench:sweep runs it once per experiment with --warmup 0 --eval-tokens --log-every 1 --checkpoint
(a held-out forward pass, a metrics line per step and a saved checkpoint, like a real trainer).

Threads: pass --torch-threads and set OPENBLAS_NUM_THREADS in the environment *before* start
(the bench driver does). Best on a 2-core box (engine-bench.md): torch threads 1, OpenBLAS 2.
Run with Debian's /usr/bin/python3 (python3-torch).
"""
import argparse
import json
import math
import os
import resource
import sys
import time

t_start = time.perf_counter()
import torch  # noqa: E402
import torch.nn as nn  # noqa: E402
import torch.nn.functional as F  # noqa: E402

t_import = time.perf_counter()


class Block(nn.Module):
    def __init__(self, d, h, r):
        super().__init__()
        self.h = h
        self.ln1 = nn.LayerNorm(d)
        self.qkv = nn.Linear(d, 3 * d)
        self.proj = nn.Linear(d, d)
        self.ln2 = nn.LayerNorm(d)
        self.fc = nn.Linear(d, r * d)
        self.out = nn.Linear(r * d, d)

    def forward(self, x, mask):
        B, T, d = x.shape
        q, k, v = self.qkv(self.ln1(x)).split(d, dim=2)
        dh = d // self.h
        q = q.view(B, T, self.h, dh).transpose(1, 2)
        k = k.view(B, T, self.h, dh).transpose(1, 2)
        v = v.view(B, T, self.h, dh).transpose(1, 2)
        att = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(dh))
        att = att.masked_fill(mask[:T, :T], float("-inf"))
        y = F.softmax(att, dim=-1) @ v
        y = y.transpose(1, 2).contiguous().view(B, T, d)
        x = x + self.proj(y)
        x = x + self.out(F.gelu(self.fc(self.ln2(x)), approximate="tanh"))
        return x


class GPT(nn.Module):
    def __init__(self, V, T, d, L, h, r):
        super().__init__()
        self.wte = nn.Embedding(V, d)
        self.wpe = nn.Embedding(T, d)
        self.blocks = nn.ModuleList([Block(d, h, r) for _ in range(L)])
        self.lnf = nn.LayerNorm(d)
        self.head = nn.Linear(d, V, bias=False)
        self.register_buffer("mask", torch.triu(torch.ones(T, T, dtype=torch.bool), diagonal=1))
        for p in self.parameters():
            if p.dim() >= 2:
                nn.init.normal_(p, 0.0, 0.02)

    def forward(self, idx):
        B, T = idx.shape
        x = self.wte(idx) + self.wpe(torch.arange(T))
        for b in self.blocks:
            x = b(x, self.mask)
        return self.head(self.lnf(x))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--d", type=int, default=128)
    ap.add_argument("--layers", type=int, default=4)
    ap.add_argument("--heads", type=int, default=4)
    ap.add_argument("--context", type=int, default=128)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--vocab", type=int, default=256)
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--torch-threads", type=int, default=1)
    ap.add_argument("--label", default="")
    # sweep mode (bench/sweep.mjs): like a real trainer, also log, evaluate and checkpoint
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--eval-tokens", type=int, default=0, help="held-out forward pass at the end")
    ap.add_argument("--checkpoint", default="", help="torch.save model + optimizer here at the end")
    ap.add_argument("--log-every", type=int, default=0, help="print a metrics line every N steps")
    a = ap.parse_args()
    torch.set_num_threads(a.torch_threads)
    torch.manual_seed(0)
    model = GPT(a.vocab, a.context, a.d, a.layers, a.heads, 4)
    decay = [p for n, p in model.named_parameters() if p.dim() >= 2]
    no_decay = [p for n, p in model.named_parameters() if p.dim() < 2]
    opt = torch.optim.AdamW(
        [{"params": decay, "weight_decay": 0.1}, {"params": no_decay, "weight_decay": 0.0}],
        lr=a.lr, betas=(0.9, 0.95), eps=1e-8,
    )
    t_model = time.perf_counter()
    n_total = sum(p.numel() for p in model.parameters())
    n_emb = model.wte.weight.numel() + model.wpe.weight.numel() + model.head.weight.numel()
    g = torch.Generator().manual_seed(1)
    step_ms, losses = [], []
    t_first = None
    for s in range(a.warmup + a.steps):
        t0 = time.perf_counter()
        xy = torch.randint(0, a.vocab, (a.batch, a.context + 1), generator=g)
        x, y = xy[:, :-1], xy[:, 1:]
        logits = model(x)
        loss = F.cross_entropy(logits.reshape(-1, a.vocab), y.reshape(-1))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        losses.append(loss.item())
        t1 = time.perf_counter()
        if t_first is None:
            t_first = t1
        if s >= a.warmup:
            step_ms.append((t1 - t0) * 1000)
        if a.log_every and (s + 1) % a.log_every == 0:
            print(json.dumps({"step": s + 1, "trainLoss": losses[-1]}), flush=True)
    eval_loss = None
    if a.eval_tokens > 0:
        model.eval()
        with torch.no_grad():
            total, n = 0.0, 0
            while n < a.eval_tokens:
                xy = torch.randint(0, a.vocab, (a.batch, a.context + 1), generator=g)
                logits = model(xy[:, :-1])
                total += F.cross_entropy(logits.reshape(-1, a.vocab), xy[:, 1:].reshape(-1), reduction="sum").item()
                n += a.batch * a.context
        eval_loss = total / n
    if a.checkpoint:
        tmp = a.checkpoint + ".tmp"
        torch.save({"model": model.state_dict(), "opt": opt.state_dict(), "step": a.warmup + a.steps}, tmp)
        os.replace(tmp, a.checkpoint)
    print(json.dumps({
        "engine": "torch",
        "label": a.label,
        "torch": torch.__version__,
        "torchThreads": torch.get_num_threads(),
        "openblasThreads": os.environ.get("OPENBLAS_NUM_THREADS", "default"),
        "config": vars(a),
        "paramsNonEmbedding": n_total - n_emb,
        "paramsTotal": n_total,
        "phases": {"import": (t_import - t_start) * 1000, "model": (t_model - t_start) * 1000, "firstStep": (t_first - t_start) * 1000},
        "stepMs": step_ms,
        "losses": losses,
        "evalLoss": eval_loss,
        "maxRssMB": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }))


if __name__ == "__main__":
    sys.exit(main())
