#!/usr/bin/env python3
"""A small PyTorch language-model trainer that follows FlopsFit's bring-your-own protocol.

FlopsFit runs it once per experiment of a sweep (`model.family: command`, see
pytorch.sweep.yaml) with the placeholders filled in:

    python3 train.py --width {size} --tokens {tokens} --seed {seed} --lr {lr}
                     --batch-size {batchSize} --out {runDir}
    python3 train.py --count-params --width {size}      # prints N, used by the planner

The model is an MLP language model (Bengio et al. 2003 style): the previous CONTEXT tokens are
embedded, concatenated and fed through two hidden layers of `--width` units to next-token
logits. The data is a seeded random sparse Markov chain (vocabulary 32, 4 successors per token),
or a byte-level text file with --data. Protocol, as FlopsFit expects it:

  * one JSON metrics line per log interval on stdout:
        {"step": 100, "tokens": 3200, "trainLoss": 2.91, "lr": 0.003, "tokensPerSecond": 41000}
  * the final result line, with the held-out evaluation loss in nats per token:
        {"result": {"finalLoss": 1.234, "tokens": 100000, "steps": 3125}}
  * checkpoints in <out>/checkpoint/ (written atomically); a restarted run resumes from them;
  * SIGTERM / SIGINT: save a checkpoint and exit with status 130 (FlopsFit records "stopped").

Training tokens D: every example predicts one token, so a step of batch B trains B tokens; the
run takes ceil(D / B) steps and trains exactly D tokens (the last batch is partial).
"""
import argparse
import json
import math
import os
import signal
import sys
import time

CONTEXT = 8
EMBED = 16
VOCAB = 32
BRANCHING = 4
EVAL_TOKENS = 8192


def non_embedding_count(vocab: int, width: int) -> int:
    """N of MlpLm below without building it: fc1, fc2 and the head, weights and biases."""
    return (CONTEXT * EMBED * width + width) + (width * width + width) + (width * vocab + vocab)


if __name__ == "__main__" and "--count-params" in sys.argv[1:]:
    # the planner runs this once per probed size: answer without importing PyTorch (seconds each)
    _p = argparse.ArgumentParser(add_help=False)
    _p.add_argument("--width", type=int, required=True)
    _p.add_argument("--data")
    _a, _ = _p.parse_known_args()
    print(non_embedding_count(256 if _a.data else VOCAB, _a.width))
    sys.exit(0)

import torch  # noqa: E402
import torch.nn as nn  # noqa: E402
import torch.nn.functional as F  # noqa: E402


class MlpLm(nn.Module):
    def __init__(self, vocab: int, width: int):
        super().__init__()
        self.embed = nn.Embedding(vocab, EMBED)
        self.fc1 = nn.Linear(CONTEXT * EMBED, width)
        self.fc2 = nn.Linear(width, width)
        self.head = nn.Linear(width, vocab)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.embed(x).flatten(1)
        h = F.gelu(self.fc1(h))
        h = F.gelu(self.fc2(h))
        return self.head(h)


def non_embedding_params(model: nn.Module) -> int:
    return sum(p.numel() for name, p in model.named_parameters() if not name.startswith("embed."))


def markov_stream(length: int, seed: int) -> torch.Tensor:
    """A stationary-ish stream from a random sparse Markov chain (the chain itself is fixed)."""
    g = torch.Generator().manual_seed(1234)
    successors = torch.stack([torch.randperm(VOCAB, generator=g)[:BRANCHING] for _ in range(VOCAB)])
    weights = -torch.log(torch.rand(VOCAB, BRANCHING, generator=g))
    probs = weights / weights.sum(1, keepdim=True)
    cdf = probs.cumsum(1)
    gs = torch.Generator().manual_seed(seed)
    u = torch.rand(length, generator=gs)
    out = torch.empty(length, dtype=torch.long)
    state = int(torch.randint(VOCAB, (1,), generator=gs))
    cdf_l = cdf.tolist()
    succ_l = successors.tolist()
    u_l = u.tolist()
    for i in range(length):
        row = cdf_l[state]
        j = 0
        while j < BRANCHING - 1 and u_l[i] > row[j]:
            j += 1
        state = succ_l[state][j]
        out[i] = state
    return out


def load_data(args, needed: int):
    if args.data:
        raw = open(args.data, "rb").read()
        data = torch.tensor(list(raw), dtype=torch.long)
        split = int(len(data) * 0.95)
        return data[:split], data[split:], 256
    # a fixed validation stream and a training stream (data seed, independent of the run seed)
    return markov_stream(needed, seed=7), markov_stream(EVAL_TOKENS + CONTEXT, seed=99), VOCAB


def windows(stream: torch.Tensor, positions: torch.Tensor):
    idx = positions.unsqueeze(1) + torch.arange(CONTEXT + 1)
    chunk = stream[idx]
    return chunk[:, :CONTEXT], chunk[:, CONTEXT]


def evaluate(model, stream: torch.Tensor) -> float:
    model.eval()
    total, count = 0.0, 0
    with torch.no_grad():
        n = min(EVAL_TOKENS, len(stream) - CONTEXT - 1)
        for start in range(0, n, 1024):
            pos = torch.arange(start, min(start + 1024, n))
            x, y = windows(stream, pos)
            total += F.cross_entropy(model(x), y, reduction="sum").item()
            count += len(pos)
    model.train()
    return total / count


def save_atomic(path: str, obj) -> None:
    os.makedirs(os.path.dirname(path), exist_ok=True)
    tmp = f"{path}.{os.getpid()}.tmp"
    torch.save(obj, tmp)
    with open(tmp, "rb") as f:
        os.fsync(f.fileno())
    os.replace(tmp, path)


def emit(obj) -> None:
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--width", type=int, required=True)
    p.add_argument("--count-params", action="store_true")
    p.add_argument("--tokens", type=int)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--lr", type=float, default=3e-3)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--out")
    p.add_argument("--data", help="byte-level text file (default: the built-in Markov source)")
    p.add_argument("--log-every", type=int, default=50)
    p.add_argument("--checkpoint-every", type=int, default=200)
    args = p.parse_args()

    vocab = 256 if args.data else VOCAB
    if args.count_params:
        print(non_embedding_params(MlpLm(vocab, args.width)))
        return 0
    if non_embedding_params(MlpLm(vocab, args.width)) != non_embedding_count(vocab, args.width):
        print("train.py: non_embedding_count() disagrees with the model; fix it", file=sys.stderr)
        return 2
    if args.tokens is None or args.out is None:
        p.error("--tokens and --out are required to train")

    torch.set_num_threads(1)  # FlopsFit runs one experiment per core
    stop = {"requested": False}

    def on_signal(signum, _frame):
        stop["requested"] = True

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)

    steps = math.ceil(args.tokens / args.batch_size)
    train, valid, vocab = load_data(args, args.tokens + CONTEXT + 1)
    if len(train) < CONTEXT + 2:
        print("the training data is too short", file=sys.stderr)
        return 1
    torch.manual_seed(args.seed)
    model = MlpLm(vocab, args.width)
    opt = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=0.0, betas=(0.9, 0.95))
    warmup = max(1, steps // 20)

    def lr_at(step: int) -> float:
        if step < warmup:
            return args.lr * (step + 1) / warmup
        t = (step - warmup) / max(1, steps - warmup)
        return args.lr * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * t)))

    ckpt_path = os.path.join(args.out, "checkpoint", "state.pt")
    step, tokens_done = 0, 0
    order_gen = torch.Generator().manual_seed(args.seed + 1)
    if os.path.exists(ckpt_path):
        ck = torch.load(ckpt_path)
        model.load_state_dict(ck["model"])
        opt.load_state_dict(ck["opt"])
        step, tokens_done = ck["step"], ck["tokens"]
        order_gen.set_state(ck["order_gen"])
        torch.set_rng_state(ck["torch_rng"])
        print(f"resumed from step {step}", file=sys.stderr)

    def checkpoint():
        save_atomic(ckpt_path, {
            "model": model.state_dict(), "opt": opt.state_dict(), "step": step, "tokens": tokens_done,
            "order_gen": order_gen.get_state(), "torch_rng": torch.get_rng_state(),
        })

    t0 = time.time()
    tokens_at_t0 = tokens_done
    max_start = len(train) - CONTEXT - 1
    while step < steps:
        if stop["requested"]:
            checkpoint()
            print(f"stopped at step {step}: checkpoint saved", file=sys.stderr)
            return 130
        b = min(args.batch_size, args.tokens - tokens_done)
        pos = torch.randint(max_start, (b,), generator=order_gen)
        x, y = windows(train, pos)
        for group in opt.param_groups:
            group["lr"] = lr_at(step)
        loss = F.cross_entropy(model(x), y)
        if not torch.isfinite(loss):
            emit({"step": step + 1, "tokens": tokens_done + b, "trainLoss": float("nan")})
            print(f"non-finite loss at step {step + 1}", file=sys.stderr)
            return 1
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        step += 1
        tokens_done += b
        if step % args.log_every == 0 or step == steps:
            elapsed = time.time() - t0
            emit({"step": step, "tokens": tokens_done, "trainLoss": round(loss.item(), 6), "lr": lr_at(step - 1),
                  "tokensPerSecond": round((tokens_done - tokens_at_t0) / max(elapsed, 1e-9), 1), "elapsed": round(elapsed, 3)})
        if step % args.checkpoint_every == 0:
            checkpoint()

    final = evaluate(model, valid)
    emit({"step": step, "tokens": tokens_done, "evalLoss": round(final, 6)})
    checkpoint()
    emit({"result": {"finalLoss": round(final, 6), "tokens": tokens_done, "steps": step, "params": non_embedding_params(model)}})
    return 0


if __name__ == "__main__":
    sys.exit(main())
