#!/usr/bin/env python3
"""PyTorch reference for bench/gpu.sh: trains the same model as FlopsFit's engine
(src/engine/model.ts) and prints one JSON line with the per-step wall times.

Model: decoder-only transformer, learned positions, pre-LayerNorm (eps 1e-5), causal multi-head
attention (qkv and output projections with bias), MLP 4x with GELU (tanh approximation), final
LayerNorm, untied output head without bias. AdamW (betas 0.9/0.95, weight decay 0.1 on matrices
and embeddings only), global-norm gradient clipping at 1.0, mean cross-entropy. Random tokens
(throughput does not depend on the data). Initialisation N(0, 0.02), residual projections
N(0, 0.02/sqrt(2L)).

Needs only torch (any version from 1.13 on; scaled_dot_product_attention is used when present).
Usage: python3 bench/gpu_torch.py --d 768 --layers 8 --heads 12 --context 512 --batch 32
           [--vocab 256] [--steps 10] [--warmup 2] [--max-seconds 60] [--dtype fp32|tf32|bf16]
           [--device cuda|cpu] [--compile]
"""
import argparse
import json
import math
import os
import sys
import time


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--d", type=int, default=768)
    p.add_argument("--layers", type=int, default=8)
    p.add_argument("--heads", type=int, default=12)
    p.add_argument("--context", type=int, default=512)
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--vocab", type=int, default=256)
    p.add_argument("--steps", type=int, default=10, help="timed steps (at most)")
    p.add_argument("--warmup", type=int, default=2, help="untimed steps first")
    p.add_argument("--max-seconds", type=float, default=0, help="stop timing after this long (0: no limit; at least 1 timed step)")
    p.add_argument("--dtype", choices=["fp32", "tf32", "bf16"], default="fp32",
                   help="fp32: full fp32 matmuls (TF32 off); tf32: fp32 with TF32 tensor-core matmuls; bf16: autocast to bfloat16")
    p.add_argument("--device", default="cuda")
    p.add_argument("--compile", action="store_true", help="torch.compile the model (torch >= 2)")
    p.add_argument("--seed", type=int, default=1)
    a = p.parse_args(argv)
    if a.d % a.heads != 0:
        p.error(f"--d {a.d} is not divisible by --heads {a.heads}")
    for k in ("d", "layers", "heads", "context", "batch", "vocab", "steps"):
        if getattr(a, k) <= 0:
            p.error(f"--{k} must be positive")
    if a.warmup < 0:
        p.error("--warmup must be >= 0")
    return a


def main(argv):
    a = parse_args(argv)
    try:
        import torch
        import torch.nn as nn
        import torch.nn.functional as F
    except ImportError as e:
        print(json.dumps({"engine": "torch", "error": f"torch is not importable by {sys.executable}: {e}"}))
        return 3

    if a.device.startswith("cuda") and not torch.cuda.is_available():
        print(json.dumps({"engine": "torch", "error": f"torch {torch.__version__} sees no CUDA device (built with CUDA {torch.version.cuda})"}))
        return 3
    dev = torch.device(a.device)
    torch.manual_seed(a.seed)
    if dev.type == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = a.dtype == "tf32"
        torch.backends.cudnn.allow_tf32 = a.dtype == "tf32"
        device_name = torch.cuda.get_device_name(dev)
    else:
        import platform
        device_name = platform.processor() or platform.machine()
        if a.dtype != "fp32":
            print(json.dumps({"engine": "torch", "error": f"--dtype {a.dtype} needs a CUDA device"}))
            return 2

    d, L, H, T, V = a.d, a.layers, a.heads, a.context, a.vocab
    sdpa = getattr(F, "scaled_dot_product_attention", None)

    class Block(nn.Module):
        def __init__(self):
            super().__init__()
            self.ln1 = nn.LayerNorm(d, eps=1e-5)
            self.qkv = nn.Linear(d, 3 * d)
            self.proj = nn.Linear(d, d)
            self.ln2 = nn.LayerNorm(d, eps=1e-5)
            self.fc = nn.Linear(d, 4 * d)
            self.out = nn.Linear(4 * d, d)
            mask = torch.full((T, T), float("-inf")).triu(1)
            self.register_buffer("mask", mask, persistent=False)

        def forward(self, x):
            B = x.shape[0]
            q, k, v = self.qkv(self.ln1(x)).split(d, dim=2)
            q, k, v = (t.view(B, T, H, d // H).transpose(1, 2) for t in (q, k, v))
            if sdpa is not None:
                y = sdpa(q, k, v, is_causal=True)
            else:
                att = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(d // H)) + self.mask
                y = att.softmax(dim=-1) @ v
            x = x + self.proj(y.transpose(1, 2).reshape(B, T, d))
            return x + self.out(F.gelu(self.fc(self.ln2(x)), approximate="tanh"))

    class GPT(nn.Module):
        def __init__(self):
            super().__init__()
            self.wte = nn.Embedding(V, d)
            self.wpe = nn.Parameter(torch.zeros(T, d))
            self.blocks = nn.ModuleList([Block() for _ in range(L)])
            self.lnf = nn.LayerNorm(d, eps=1e-5)
            self.head = nn.Linear(d, V, bias=False)

        def forward(self, idx, targets):
            x = self.wte(idx) + self.wpe
            for b in self.blocks:
                x = b(x)
            logits = self.head(self.lnf(x))
            return F.cross_entropy(logits.reshape(-1, V).float(), targets.reshape(-1))

    model = GPT()
    for name, p in model.named_parameters():
        if p.dim() >= 2:
            std = 0.02 / math.sqrt(2 * L) if name.endswith(("proj.weight", "out.weight")) else 0.02
            nn.init.normal_(p, 0.0, std)
        elif name.endswith("bias"):
            nn.init.zeros_(p)
    model.to(dev)
    decay = [p for n, p in model.named_parameters() if p.dim() >= 2]
    no_decay = [p for n, p in model.named_parameters() if p.dim() < 2]
    opt_kwargs = {"lr": 1e-3, "betas": (0.9, 0.95), "eps": 1e-8}
    if dev.type == "cuda":
        try:
            opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.1}, {"params": no_decay, "weight_decay": 0.0}], fused=True, **opt_kwargs)
        except (TypeError, RuntimeError):
            opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.1}, {"params": no_decay, "weight_decay": 0.0}], **opt_kwargs)
    else:
        opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.1}, {"params": no_decay, "weight_decay": 0.0}], **opt_kwargs)
    fwd = model
    if a.compile:
        if not hasattr(torch, "compile"):
            print(json.dumps({"engine": "torch", "error": f"torch {torch.__version__} has no torch.compile"}))
            return 2
        fwd = torch.compile(model)

    n_nonemb = L * (12 * d * d + 13 * d) + 2 * d
    n_total = sum(p.numel() for p in model.parameters())
    gen = torch.Generator(device="cpu").manual_seed(a.seed)

    def batch():
        t = torch.randint(0, V, (a.batch, T + 1), generator=gen)
        t = t.to(dev, non_blocking=True)
        return t[:, :-1], t[:, 1:]

    def sync():
        if dev.type == "cuda":
            torch.cuda.synchronize(dev)

    def step():
        x, y = batch()
        if a.dtype == "bf16":
            with torch.autocast(device_type="cuda", dtype=torch.bfloat16):
                loss = fwd(x, y)
        else:
            loss = fwd(x, y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        return loss

    losses, step_ms = [], []
    t_start = time.perf_counter()
    for i in range(a.warmup + a.steps):
        sync()
        t0 = time.perf_counter()
        loss = step()
        lv = float(loss.item())  # a sync point, like the engine reading its loss
        sync()
        t1 = time.perf_counter()
        losses.append(lv)
        if i >= a.warmup:
            step_ms.append((t1 - t0) * 1000)
            if a.max_seconds > 0 and t1 - t_start > a.max_seconds:
                break
    out = {
        "engine": "torch",
        "backend": f"torch-{a.dtype}{'-compile' if a.compile else ''}",
        "device": device_name,
        "torch": torch.__version__,
        "cuda": torch.version.cuda,
        "sdpa": sdpa is not None,
        "config": {"d": d, "layers": L, "heads": H, "context": T, "batch": a.batch, "vocab": V, "steps": a.steps, "warmup": a.warmup},
        "paramsNonEmbedding": n_nonemb,
        "paramsTotal": n_total,
        "stepMs": step_ms,
        "losses": losses,
        "maxMemoryMB": torch.cuda.max_memory_allocated(dev) / 2**20 if dev.type == "cuda" else None,
        "threads": torch.get_num_threads(),
    }
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
