#!/usr/bin/env python3
"""FlopsFit's PyTorch engine: the built-in transformer trained by PyTorch.

Started by `flopsfit train` (src/engine/torchEngine.ts) when an experiment's backend resolves to
torch; never meant to be run by hand, but it can be:

  flopsfit_torch.py probe
      one JSON line: python and torch versions, devices (cuda, mps), fused attention, compile
  flopsfit_torch.py train SPEC --out RUNDIR [--resume] [--init FILE] [--device D] [--quiet]
      trains one ExperimentSpec into RUNDIR: metrics.jsonl, checkpoint/, result.json with the
      same layout and semantics as the TensorFlow.js engine (src/engine/train.ts). Exit codes:
      0 completed, 1 failed (reason in result.json), 130 stopped by a signal, 2 usage, 3 no torch.
  flopsfit_torch.py eval CKPT [--device D]
      one JSON line: the held-out loss of a checkpoint (either engine's)
  flopsfit_torch.py stream SPEC --which train|validation --sequences N --out FILE
      the token windows the trainer reads (int32 little-endian), for the parity tests
  flopsfit_torch.py params SPEC
      one JSON line: the parameter count of the model the trainer builds

Same model, data and files as the TypeScript engine, provably (test/unit/torchParity.test.ts):
  - model: src/engine/model.ts parameterLayout (names, shapes [in, out], decay flags, order);
    pre-LayerNorm (eps 1e-5), causal attention, GELU (tanh), learned positions, untied or tied head
  - data: src/engine/data.ts and src/core/data/synthetic.ts (sfc32 seeded through splitmix32,
    the Markov chain, the affine window permutation), token for token
  - init: the TypeScript side writes the seeded initial values (--init), so both engines start
    from the same bits
  - checkpoints: the TypeScript engine's format (model.json + weights.bin + state.json + spec.json),
    so either engine loads, evaluates, samples and resumes the other's checkpoints
  - schedule, AdamW decay exclusions, global-norm clipping: src/engine/optimizer.ts

Needs Python >= 3.8 and torch >= 1.13 (torch >= 2.0 for fused attention, fused AdamW, compile).
"""
import argparse
import json
from bisect import bisect_right as _bisect_right
import math
import os
import platform
import signal
import sys
import time

EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_NO_TORCH = 3
EXIT_STOPPED = 130

MASK32 = 0xFFFFFFFF
TRAIN_SALT = 0x7A41
VALID_SALT = 0x7A1D


class DataError(Exception):
    """A clear, user-facing data problem."""


# ---------------------------------------------------------------------------------------------
# Random numbers: src/core/rng.ts (sfc32) and src/core/data/synthetic.ts (seeding), bit for bit.


def _imul(a, b):
    return (a * b) & MASK32


def splitmix32(x):
    x = (x + 0x9E3779B9) & MASK32
    z = x
    z = _imul(z ^ (z >> 16), 0x85EBCA6B)
    z = _imul(z ^ (z >> 13), 0xC2B2AE35)
    return (z ^ (z >> 16)) & MASK32


def mix_seed(seed, salt):
    hi = (seed // 0x100000000) & MASK32
    return splitmix32(splitmix32(seed & MASK32) ^ splitmix32((hi + 0x632BE5AB) & MASK32) ^ _imul(salt & MASK32, 0x27D4EB2F))


class Rng:
    """sfc32 with the seeding of src/core/data/synthetic.ts Rng."""

    __slots__ = ("a", "b", "c", "d")

    def __init__(self, seed=0, salt=0, state=None):
        if state is not None:
            if len(state) != 4 or any((not isinstance(v, int)) or v < 0 or v > MASK32 for v in state):
                raise ValueError("invalid random generator state")
            self.a, self.b, self.c, self.d = state
            return
        s = mix_seed(seed, salt)
        self.a, self.b, self.c, self.d = splitmix32(s), splitmix32((s + 1) & MASK32), splitmix32((s + 2) & MASK32), 1
        for _ in range(12):
            self.next_u32()

    def state(self):
        return [self.a, self.b, self.c, self.d]

    def next_u32(self):
        a, b, c, d = self.a, self.b, self.c, self.d
        t = (a + b + d) & MASK32
        self.d = (d + 1) & MASK32
        self.a = b ^ (b >> 9)
        self.b = (c + (c << 3)) & MASK32
        c = ((c << 21) | (c >> 11)) & MASK32
        self.c = (c + t) & MASK32
        return t

    def next(self):
        return self.next_u32() / 4294967296.0

    def int(self, n):
        return math.floor(self.next() * n)


# ---------------------------------------------------------------------------------------------
# Data: src/core/data/synthetic.ts (Markov chain, stream) and src/engine/data.ts (windows).

_chains = {}


def build_markov_chain(vocab, branching, seed):
    key = (vocab, branching, seed)
    if key in _chains:
        return _chains[key]
    if vocab < 2 or branching < 1 or branching > vocab:
        raise DataError("synthetic data: vocabSize must be >= 2 and branching between 1 and vocabSize")
    V, K = vocab, branching
    rng = Rng(seed, 0x5EED)
    cycle = list(range(V))
    for i in range(V - 1, 0, -1):
        j = rng.int(i)
        cycle[i], cycle[j] = cycle[j], cycle[i]
    successors = [0] * (V * K)
    probs = [0.0] * (V * K)
    cumulative = [0.0] * (V * K)
    chosen = bytearray(V)
    for i in range(V):
        row = i * K
        successors[row] = cycle[i]
        chosen[cycle[i]] = 1
        for j in range(1, K):
            while True:
                s = rng.int(V)
                if not chosen[s]:
                    break
            chosen[s] = 1
            successors[row + j] = s
        for j in range(K):
            chosen[successors[row + j]] = 0
        total = 0.0
        for j in range(K):
            w = -math.log(1 - rng.next())
            probs[row + j] = w
            total += w
        acc = 0.0
        for j in range(K):
            probs[row + j] /= total
            acc += probs[row + j]
            cumulative[row + j] = acc
        cumulative[row + K - 1] = 1.0
    stationary = _stationary(V, K, successors, probs)
    chain = {
        "V": V,
        "K": K,
        "succ": [successors[i * K:(i + 1) * K] for i in range(V)],
        "cum": [cumulative[i * K:(i + 1) * K] for i in range(V)],
        "stationary": stationary,
    }
    _chains[key] = chain
    return chain


def _stationary(V, K, successors, probs):
    """Power iteration on (P + I)/2, in the same order of operations as synthetic.ts."""
    pi = [1.0 / V] * V
    nxt = [0.0] * V
    for _ in range(100000):
        for i in range(V):
            nxt[i] = 0.5 * pi[i]
        for i in range(V):
            m = 0.5 * pi[i]
            if m == 0:
                continue
            row = i * K
            for j in range(K):
                nxt[successors[row + j]] += m * probs[row + j]
        total = 0.0
        for i in range(V):
            total += nxt[i]
        diff = 0.0
        for i in range(V):
            nxt[i] /= total
            diff += abs(nxt[i] - pi[i])
        pi, nxt = nxt, pi
        if diff < 1e-13:
            break
    return pi


class MarkovStream:
    def __init__(self, chain, seed, salt, state=None):
        self.chain = chain
        if state is not None:
            self.rng = Rng(state=[int(v) for v in state["rng"]])
            self.current = int(state["current"])
            self.emitted = int(state["emitted"])
        else:
            self.rng = Rng(seed, salt)
            self.current = -1
            self.emitted = 0

    def state(self):
        return {"rng": self.rng.state(), "current": self.current, "emitted": self.emitted}

    def next_token(self):
        c = self.chain
        u = self.rng.next()
        if self.current < 0:
            acc = 0.0
            s = c["V"] - 1
            for i, p in enumerate(c["stationary"]):
                acc += p
                if u < acc:
                    s = i
                    break
        else:
            cum = c["cum"][self.current]
            j = 0
            last = len(cum) - 1
            while j < last and u >= cum[j]:
                j += 1
            s = c["succ"][self.current][j]
        self.current = s
        self.emitted += 1
        return s

    def fill(self, out, offset, count):
        """The next `count` tokens into out[offset:] (inlined next_token: the hot loop)."""
        if count <= 0:
            return
        if self.current < 0:
            out[offset] = self.next_token()
            offset += 1
            count -= 1
        rng = self.rng
        a, b, c, d = rng.a, rng.b, rng.c, rng.d
        succ, cums = self.chain["succ"], self.chain["cum"]
        last = self.chain["K"] - 1
        cur = self.current
        for i in range(offset, offset + count):
            t = (a + b + d) & MASK32
            d = (d + 1) & MASK32
            a = b ^ (b >> 9)
            b = (c + (c << 3)) & MASK32
            c = (((c << 21) | (c >> 11)) + t) & MASK32
            # the first successor whose cumulative probability exceeds u (the last one at most)
            j = _bisect_right(cums[cur], t / 4294967296.0)
            cur = succ[cur][j if j < last else last]
            out[i] = cur
        rng.a, rng.b, rng.c, rng.d = a, b, c, d
        self.current = cur
        self.emitted += count


class SyntheticTrain:
    sequences_per_epoch = math.inf

    def __init__(self, T, data, seed, state=None):
        if state is not None and state.get("kind") != "synthetic":
            raise DataError("checkpoint data state does not match a synthetic source")
        chain = build_markov_chain(data["vocabSize"], data["branching"], data["seed"])
        self.T = T
        self.stream = MarkovStream(chain, seed, TRAIN_SALT, state["stream"] if state else None)

    def next(self, n_seq):
        T = self.T
        out = [0] * (n_seq * (T + 1))
        if self.stream.current < 0:
            self.stream.next_token()
        for s in range(n_seq):
            o = s * (T + 1)
            out[o] = self.stream.current
            self.stream.fill(out, o + 1, T)
        return out

    def state(self):
        return {"kind": "synthetic", "stream": self.stream.state()}

    def close(self):
        pass


class TokenFile:
    def __init__(self, path, bytes_per_token, vocab):
        self.path = path
        self.bpt = bytes_per_token
        self.vocab = vocab
        try:
            self.f = open(path, "rb")
        except OSError as e:
            raise DataError("cannot open data file %s: %s" % (path, e.strerror or e))
        size = os.fstat(self.f.fileno()).st_size
        if bytes_per_token == 2 and size % 2 != 0:
            self.f.close()
            raise DataError("%s: a uint16 token file must have an even size (got %d bytes)" % (path, size))
        self.tokens = size // bytes_per_token

    def read(self, start, count):
        n = count * self.bpt
        buf = os.pread(self.f.fileno(), n, start * self.bpt)
        if len(buf) < n:
            raise DataError("%s: unexpected end of file (was it modified during training?)" % self.path)
        if self.bpt == 1:
            return list(buf)
        vals = list(memoryview(buf).cast("H")) if sys.byteorder == "little" else [buf[2 * i] | (buf[2 * i + 1] << 8) for i in range(count)]
        for i, t in enumerate(vals):
            if t >= self.vocab:
                raise DataError("%s: token %d at position %d is outside the vocabulary (vocabSize %d)" % (self.path, t, start + i, self.vocab))
        return vals

    def close(self):
        try:
            self.f.close()
        except OSError:
            pass


class FileTrain:
    def __init__(self, file, T, per_epoch, seed, state=None):
        if state is not None and state.get("kind") != "file":
            raise DataError("checkpoint data state does not match a file source")
        self.file, self.T, self.sequences_per_epoch, self.seed = file, T, per_epoch, seed
        self.sequence = int(state["sequence"]) if state else 0
        self.epoch_of, self.ea, self.ec = -1, 1, 0

    def window_of(self, k):
        n = self.sequences_per_epoch
        epoch = k // n
        if epoch != self.epoch_of:
            rng = Rng(mix_seed(self.seed, TRAIN_SALT), epoch + 1)
            a = 1 + rng.int(n - 1) if n > 1 else 1
            while math.gcd(a, n) != 1:
                a = (a % (n - 1)) + 1
            self.ea, self.ec, self.epoch_of = a, rng.int(n), epoch
        return ((self.ea * (k % n)) % n + self.ec) % n

    def next(self, n_seq):
        out = []
        for _ in range(n_seq):
            w = self.window_of(self.sequence)
            self.sequence += 1
            out.extend(self.file.read(w * self.T, self.T + 1))
        return out

    def state(self):
        return {"kind": "file", "sequence": self.sequence}

    def close(self):
        self.file.close()


def data_vocab(data):
    return 256 if data["source"] == "text" else data["vocabSize"]


def open_data(spec, train_sequences, state=None):
    """(train stream, validation windows as a flat list, validation sequences, notes)."""
    m, data, tr = spec["model"], spec["data"], spec["training"]
    T = m["contextLength"]
    vocab = data_vocab(data)
    if vocab > m["vocabSize"]:
        raise DataError("the data uses a vocabulary of %d tokens but the model's vocabSize is %d" % (vocab, m["vocabSize"]))
    want_val = -(-tr["evalTokens"] // T)
    notes = []
    if data["source"] == "synthetic":
        chain = build_markov_chain(data["vocabSize"], data["branching"], data["seed"])
        vs = MarkovStream(chain, data["seed"], VALID_SALT)
        validation = [0] * (want_val * (T + 1))
        vs.next_token()
        for s in range(want_val):
            validation[s * (T + 1)] = vs.current
            vs.fill(validation, s * (T + 1) + 1, T)
        return SyntheticTrain(T, data, spec["seed"], state), validation, want_val, notes
    f = TokenFile(data["path"], 1 if data["source"] == "text" else 2, vocab)
    try:
        train_len = math.floor(f.tokens * (1 - data["validationFraction"]))
        per_epoch = max(0, (train_len - 1) // T)
        val_avail = max(0, (f.tokens - train_len - 1) // T)
        if per_epoch < 1:
            raise DataError("%s: the training part (%d tokens) is shorter than one sequence of %d tokens" % (data["path"], train_len, T + 1))
        if val_avail < 1:
            raise DataError("%s: the validation part (%d tokens) is shorter than one sequence of %d tokens" % (data["path"], f.tokens - train_len, T + 1))
        if train_sequences > per_epoch and not tr["allowRepeat"]:
            raise DataError("%s has %d training tokens, but this experiment trains on %d; use more data, a smaller budget, or set allowRepeat" % (data["path"], per_epoch * T, train_sequences * T))
        n_val = min(want_val, val_avail)
        if n_val < want_val:
            notes.append("validation set: %d tokens available, fewer than evalTokens %d" % (n_val * T, tr["evalTokens"]))
        validation = []
        for s in range(n_val):
            validation.extend(f.read(train_len + s * T, T + 1))
        return FileTrain(f, T, per_epoch, spec["seed"], state), validation, n_val, notes
    except BaseException:
        f.close()
        raise


# ---------------------------------------------------------------------------------------------
# Plan, schedule, model layout: src/engine/train.ts, optimizer.ts, model.ts.


def plan_tokens(tokens, batch, T):
    per_step = batch * T
    steps = max(1, -(-tokens // per_step))
    rest = tokens - (steps - 1) * per_step
    last = max(1, -(-rest // T))
    sequences = (steps - 1) * batch + last
    return {"steps": steps, "batch": batch, "last": last, "sequences": sequences, "tokens": sequences * T}


def learning_rate(s, total, t):
    peak = t["learningRate"]
    W = min(total, _js_round(t["warmupFraction"] * total))
    if s < W:
        return (peak * (s + 1)) / W
    if t["schedule"] == "constant":
        return peak
    span = total - W - 1
    p = 1.0 if span <= 0 else min(1.0, max(0.0, (s - W) / span))
    mn = peak * t["minLrRatio"]
    if t["schedule"] == "linear":
        return peak - (peak - mn) * p
    return mn + (peak - mn) * 0.5 * (1 + math.cos(math.pi * p))


def _js_round(x):
    """JavaScript Math.round (half up), not Python's banker's rounding."""
    return int(math.floor(x + 0.5))


def parameter_layout(m):
    """(name, shape, decay) in checkpoint order, as src/engine/model.ts parameterLayout."""
    d, rd, V, T = m["dModel"], m["mlpRatio"] * m["dModel"], m["vocabSize"], m["contextLength"]
    out = [("wte", [V, d], True), ("wpe", [T, d], True)]
    for l in range(m["nLayers"]):
        p = "h%d." % l
        out += [
            (p + "ln1.g", [d], False), (p + "ln1.b", [d], False),
            (p + "attn.qkv.w", [d, 3 * d], True), (p + "attn.qkv.b", [3 * d], False),
            (p + "attn.proj.w", [d, d], True), (p + "attn.proj.b", [d], False),
            (p + "ln2.g", [d], False), (p + "ln2.b", [d], False),
            (p + "mlp.fc.w", [d, rd], True), (p + "mlp.fc.b", [rd], False),
            (p + "mlp.proj.w", [rd, d], True), (p + "mlp.proj.b", [d], False),
        ]
    out += [("lnf.g", [d], False), ("lnf.b", [d], False)]
    if not m["tiedEmbeddings"]:
        out.append(("head.w", [d, V], True))
    return out


def closed_form_params(m):
    d, r = m["dModel"], m["mlpRatio"]
    per_layer = (4 + 2 * r) * d * d + (9 + r) * d
    emb = m["vocabSize"] * d + m["contextLength"] * d + (0 if m["tiedEmbeddings"] else d * m["vocabSize"])
    return m["nLayers"] * per_layer + 2 * d + emb


def model_flops_per_token_of(m):
    """Model FLOPs per trained token, as bench/gpu-bench.ts and bench/gpu_torch_bench.py count them:
    6·(non-embedding parameters + output head) + Kaplan's attention term 6·L·T·d."""
    d, V, T = m["dModel"], m["vocabSize"], m["contextLength"]
    non_embedding = closed_form_params(m) - V * d - T * d - (0 if m["tiedEmbeddings"] else d * V)
    return 6 * (non_embedding + d * V) + 6 * m["nLayers"] * T * d


# GPU dense bf16 peaks (FLOP/s, no sparsity), for model-FLOPs utilisation. Unknown: tokens/s only.
PEAK_BF16 = [
    ("H200", 989e12), ("H100 SXM", 989e12), ("H100 80GB HBM3", 989e12), ("H100 NVL", 835e12), ("H100 PCIe", 756e12),
    ("H100", 756e12), ("GH200", 989e12), ("B200", 2250e12), ("A100", 312e12), ("A800", 312e12), ("L40S", 362e12),
    ("L40", 181e12), ("L4", 121e12), ("A10G", 70e12), ("A10", 125e12), ("A6000", 155e12), ("RTX 4090", 165e12),
    ("RTX 3090", 71e12), ("V100", 125e12), ("T4", 65e12),
]


def device_peak(name):
    for key, peak in PEAK_BF16:
        if key.lower() in name.lower():
            return peak
    return None


# ---------------------------------------------------------------------------------------------
# Files: atomic writes and the checkpoint format of src/engine/checkpoint.ts.


def write_synced(path, data):
    mode = "wb" if isinstance(data, (bytes, bytearray, memoryview)) else "w"
    with open(path, mode) as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())


def write_json_atomic(path, obj):
    tmp = "%s.tmp-%d" % (path, os.getpid())
    write_synced(tmp, json.dumps(obj) + "\n")
    os.replace(tmp, path)


def save_checkpoint(dirpath, spec, state, arrays):
    """arrays: list of (name, shape, bytes float32 LE). Same folder swap as checkpoint.ts."""
    import shutil
    os.makedirs(os.path.dirname(dirpath), exist_ok=True)
    tmp = "%s.tmp-%d" % (dirpath, os.getpid())
    shutil.rmtree(tmp, ignore_errors=True)
    os.mkdir(tmp)
    manifest = {
        "format": "flopsfit-checkpoint",
        "generatedBy": "flopsfit (torch engine)",
        "weightsManifest": [{"paths": ["weights.bin"], "weights": [{"name": n, "shape": s, "dtype": "float32"} for n, s, _ in arrays]}],
    }
    with open(os.path.join(tmp, "weights.bin"), "wb") as f:
        for _, _, b in arrays:
            f.write(b)
        f.flush()
        os.fsync(f.fileno())
    write_synced(os.path.join(tmp, "model.json"), json.dumps(manifest, indent=1) + "\n")
    write_synced(os.path.join(tmp, "spec.json"), json.dumps(spec, indent=2) + "\n")
    write_synced(os.path.join(tmp, "state.json"), json.dumps(state, indent=2) + "\n")
    old = "%s.old-%d" % (dirpath, os.getpid())
    had_old = os.path.exists(dirpath)
    if had_old:
        os.rename(dirpath, old)
    os.rename(tmp, dirpath)
    if had_old:
        shutil.rmtree(old, ignore_errors=True)


def _resolve_ckpt_dir(d):
    if os.path.exists(os.path.join(d, "state.json")):
        return d
    if os.path.exists(os.path.join(d, "checkpoint")) and not os.path.exists(os.path.join(d, "state.json")):
        c = os.path.join(d, "checkpoint")
        if os.path.exists(os.path.join(c, "state.json")):
            return c
        d = c
    parent, base = os.path.dirname(d) or ".", os.path.basename(d)
    try:
        for e in sorted(os.listdir(parent)):
            if e.startswith(base + ".old-") and os.path.exists(os.path.join(parent, e, "state.json")):
                return os.path.join(parent, e)
    except OSError:
        pass
    return None


def load_checkpoint(d):
    found = _resolve_ckpt_dir(d)
    if not found:
        raise DataError("no checkpoint in %s (expected state.json, model.json, weights.bin, spec.json)" % d)

    def rj(name):
        p = os.path.join(found, name)
        try:
            with open(p) as f:
                return json.load(f)
        except (OSError, ValueError) as e:
            raise DataError("%s: %s" % (p, e))

    state, spec, manifest = rj("state.json"), rj("spec.json"), rj("model.json")
    if state.get("format") != "flopsfit-checkpoint":
        raise DataError("%s: not a FlopsFit checkpoint state" % os.path.join(found, "state.json"))
    group = (manifest.get("weightsManifest") or [None])[0]
    if not group:
        raise DataError("%s: no weightsManifest" % os.path.join(found, "model.json"))
    with open(os.path.join(found, (group.get("paths") or ["weights.bin"])[0]), "rb") as f:
        blob = f.read()
    arrays, off = {}, 0
    for w in group["weights"]:
        n = 1
        for s in w["shape"]:
            n *= s
        if off + 4 * n > len(blob):
            raise DataError("%s: truncated" % os.path.join(found, "weights.bin"))
        arrays[w["name"]] = (w["shape"], blob[off:off + 4 * n])
        off += 4 * n
    if off != len(blob):
        raise DataError("%s: size %d does not match the manifest (%d)" % (os.path.join(found, "weights.bin"), len(blob), off))
    return found, spec, state, arrays


# ---------------------------------------------------------------------------------------------
# torch


def import_torch():
    # One BLAS/OpenMP thread per torch thread unless the user chose: a sweep runs one process per
    # core, and oversubscribed OpenBLAS threads cost more than they give (set before torch loads).
    threads = os.environ.get("FLOPSFIT_TORCH_THREADS", "").strip() or "1"
    for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(var, threads)
    try:
        import torch  # noqa: F401
        return torch
    except Exception as e:  # ImportError, or a broken install raising anything
        sys.stderr.write("flopsfit torch engine: cannot import torch with %s (%s): %s\n" % (sys.executable, platform.python_version(), e))
        sys.exit(EXIT_NO_TORCH)


def probe():
    info = {"python": platform.python_version(), "executable": sys.executable}
    try:
        import torch
    except Exception as e:
        info["torch"] = None
        info["error"] = "%s: %s" % (type(e).__name__, str(e).splitlines()[0] if str(e) else "")
        print(json.dumps(info))
        return 0
    info["torch"] = torch.__version__
    cuda = []
    try:
        if torch.cuda.is_available():
            for i in range(torch.cuda.device_count()):
                p = torch.cuda.get_device_properties(i)
                cuda.append({"name": p.name, "memory": p.total_memory, "capability": list(torch.cuda.get_device_capability(i))})
    except Exception as e:
        info["cudaError"] = str(e).splitlines()[0]
    info["cuda"] = cuda
    info["cudaVersion"] = getattr(torch.version, "cuda", None)
    mps = getattr(torch.backends, "mps", None)
    info["mps"] = bool(mps and mps.is_available())
    info["sdpa"] = hasattr(torch.nn.functional, "scaled_dot_product_attention")
    info["compile"] = hasattr(torch, "compile")
    info["threads"] = torch.get_num_threads()
    print(json.dumps(info))
    return 0


def pick_device(torch, want):
    """(device, reason it is not what was asked, or None)."""
    if want in ("cuda", "auto") and torch.cuda.is_available():
        return torch.device("cuda"), None
    if want == "cuda":
        raise DataError("backend torch with device cuda: this torch (%s, %s) has no CUDA device%s" % (
            torch.__version__, sys.executable, "" if getattr(torch.version, "cuda", None) else " (a CPU-only build)"))
    mps = getattr(torch.backends, "mps", None)
    if want in ("mps", "auto") and mps is not None and mps.is_available():
        return torch.device("mps"), None
    if want == "mps":
        raise DataError("backend torch with device mps: Apple's Metal is not available to this torch (%s)" % torch.__version__)
    return torch.device("cpu"), None


def build_model_class(torch):
    import torch.nn as nn
    import torch.nn.functional as F

    has_sdpa = hasattr(F, "scaled_dot_product_attention")

    class Transformer(nn.Module):
        def __init__(self, m):
            super().__init__()
            self.m = m
            self.layout = parameter_layout(m)
            self.names = [n for n, _, _ in self.layout]
            self.params = nn.ParameterList([nn.Parameter(torch.zeros(*s)) for _, s, _ in self.layout])
            self.index = {n: i for i, n in enumerate(self.names)}
            # plain-dict access in forward (ParameterList indexing costs ~1 ms per step on tiny models);
            # .to(device) keeps the Parameter objects, so these stay valid
            self.named = {n: p for n, p in zip(self.names, self.params)}
            self.attention = "sdpa" if has_sdpa else "explicit"
            T = m["contextLength"]
            self.register_buffer("mask", torch.triu(torch.ones(T, T, dtype=torch.bool), diagonal=1), persistent=False)

        def p(self, name):
            return self.params[self.index[name]]

        def forward(self, ids):
            P = self.named
            m = self.m
            d, H = m["dModel"], m["nHeads"]
            dh = d // H
            B, T = ids.shape
            x = F.embedding(ids, P["wte"]) + P["wpe"][:T]
            x = x.reshape(B * T, d)
            for l in range(m["nLayers"]):
                pre = "h%d." % l
                h = F.layer_norm(x, (d,), P[pre + "ln1.g"], P[pre + "ln1.b"], 1e-5)
                qkv = torch.addmm(P[pre + "attn.qkv.b"], h, P[pre + "attn.qkv.w"])
                q, k, v = qkv.view(B, T, 3, H, dh).permute(2, 0, 3, 1, 4).unbind(0)
                if has_sdpa:
                    y = F.scaled_dot_product_attention(q, k, v, is_causal=True)
                else:
                    att = (q * (1.0 / math.sqrt(dh))) @ k.transpose(-2, -1)
                    att = att.masked_fill(self.mask[:T, :T], float("-inf"))
                    y = torch.softmax(att, dim=-1) @ v
                y = y.transpose(1, 2).reshape(B * T, d)
                x = x + torch.addmm(P[pre + "attn.proj.b"], y, P[pre + "attn.proj.w"])
                h2 = F.layer_norm(x, (d,), P[pre + "ln2.g"], P[pre + "ln2.b"], 1e-5)
                f = F.gelu(torch.addmm(P[pre + "mlp.fc.b"], h2, P[pre + "mlp.fc.w"]), approximate="tanh")
                x = x + torch.addmm(P[pre + "mlp.proj.b"], f, P[pre + "mlp.proj.w"])
            hf = F.layer_norm(x, (d,), P["lnf.g"], P["lnf.b"], 1e-5)
            if m["tiedEmbeddings"]:
                return hf @ P["wte"].t()
            return hf @ P["head.w"]

    return Transformer


def _tensor_from_f32(torch, shape, raw):
    """float32 little-endian bytes → a tensor of `shape` (no numpy needed)."""
    if sys.byteorder != "little":  # big-endian hosts
        import array
        a = array.array("f")
        a.frombytes(bytes(raw))
        a.byteswap()
        return torch.tensor(a.tolist(), dtype=torch.float32).reshape(shape)
    if not len(raw):
        return torch.zeros(shape)
    return torch.frombuffer(bytearray(raw), dtype=torch.float32).reshape(shape).clone()


def _f32_bytes(t):
    """A tensor as float32 little-endian bytes."""
    c = t.detach().float().cpu().contiguous().view(-1)
    try:
        return c.numpy().astype("<f4").tobytes()
    except Exception:  # torch without numpy (torch >= 2 does not require it)
        if sys.byteorder == "little":
            import ctypes
            return ctypes.string_at(c.data_ptr(), 4 * c.numel()) if c.numel() else b""
        import array
        a = array.array("f", c.tolist())
        if sys.byteorder != "little":
            a.byteswap()
        return a.tobytes()


class Stop:
    requested = False
    signal_name = None


def _on_signal(signum, _frame):
    if not Stop.requested:
        Stop.requested = True
        Stop.signal_name = signal.Signals(signum).name
        try:
            sys.stdout.write("%s: stopping after the current step (checkpoint follows)\n" % Stop.signal_name)
            sys.stdout.flush()
        except Exception:
            pass


def _fmt(x, digits=4):
    return ("%." + str(digits) + "f") % x if isinstance(x, (int, float)) and math.isfinite(x) else str(x)


def evaluate(torch, model, validation, n_seq, batch, T, device, autocast):
    import torch.nn.functional as F
    total = 0.0
    was_training = model.training
    model.eval()
    with torch.no_grad():
        for s in range(0, n_seq, batch):
            n = min(batch, n_seq - s)
            w = torch.tensor(validation[s * (T + 1):(s + n) * (T + 1)], dtype=torch.long).view(n, T + 1).to(device)
            with autocast():
                logits = model(w[:, :-1])
            # a float32 sum per batch, accumulated in Python floats (float64), as the TypeScript engine
            total += F.cross_entropy(logits.float(), w[:, 1:].reshape(-1), reduction="sum").item()
    model.train(was_training)
    return total / (n_seq * T)


def _precision(torch, device, training=None):
    """training.precision, else FLOPSFIT_TORCH_PRECISION, else auto."""
    want = (training or {}).get("precision") or os.environ.get("FLOPSFIT_TORCH_PRECISION", "auto").strip().lower() or "auto"
    if want not in ("auto", "bf16", "fp32"):
        raise DataError("FLOPSFIT_TORCH_PRECISION must be auto, bf16 or fp32, not '%s'" % want)
    if device.type == "cuda" and want in ("auto", "bf16"):
        if torch.cuda.is_bf16_supported():
            return "bf16"
        if want == "bf16":
            raise DataError("FLOPSFIT_TORCH_PRECISION=bf16: %s does not support bf16" % torch.cuda.get_device_name(0))
    if want == "bf16" and device.type != "cuda":
        return "bf16" if device.type == "cpu" and hasattr(torch, "autocast") else "fp32"
    return "fp32"


def _make_autocast(torch, device, precision):
    import contextlib
    if precision != "bf16":
        return contextlib.nullcontext
    return lambda: torch.autocast(device_type=device.type, dtype=torch.bfloat16)


def train(a):
    with open(a.spec) as f:
        spec = json.load(f)
    run_dir = os.path.abspath(a.out)
    os.makedirs(run_dir, exist_ok=True)
    metrics_file = os.path.join(run_dir, "metrics.jsonl")
    result_file = os.path.join(run_dir, "result.json")
    ckpt_dir = os.path.join(run_dir, "checkpoint")
    t0 = time.perf_counter()
    quiet = a.quiet

    def log(line):
        if not quiet:
            try:
                sys.stdout.write(line + "\n")
                sys.stdout.flush()
            except Exception:
                pass

    for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(s, _on_signal)
    m, tr = spec["model"], spec["training"]
    T = m["contextLength"]
    plan = plan_tokens(spec["tokens"], tr["batchSize"], T)
    k = spec["flopsPerParamPerToken"]
    attn_per_token = 6 * m["nLayers"] * T * m["dModel"]
    st = {"tokens": 0, "step": 0, "elapsed_before": 0.0, "last_train": None, "last_eval": None, "backend": "torch", "device": None}

    def elapsed():
        return st["elapsed_before"] + (time.perf_counter() - t0)

    def result(status, **extra):
        r = {
            "id": spec["id"], "status": status, "params": spec["params"], "tokens": st["tokens"], "steps": st["step"],
            "flops": k * spec["params"] * st["tokens"], "attentionFlops": attn_per_token * st["tokens"],
            "backend": st["backend"], "elapsedSeconds": elapsed(),
        }
        if st["device"]:
            r["device"] = st["device"]
        if st["last_train"] is not None and math.isfinite(st["last_train"]):
            r["finalTrainLoss"] = st["last_train"]
        r.update(extra)
        write_json_atomic(result_file, r)
        return r

    train_data = None
    try:
        if os.path.exists(result_file):
            os.remove(result_file)
        torch = import_torch()
        resume = None
        if a.resume and _resolve_ckpt_dir(ckpt_dir):
            _, ck_spec, ck_state, ck_arrays = load_checkpoint(ckpt_dir)
            if ck_spec.get("id") != spec["id"] or json.dumps(ck_spec, sort_keys=True) != json.dumps(spec, sort_keys=True):
                raise DataError("the checkpoint in %s belongs to a different spec (id %s); remove it or run without --resume" % (ckpt_dir, ck_spec.get("id")))
            resume = (ck_state, ck_arrays)
        elif a.resume:
            log("resume: no checkpoint yet, starting from the beginning")
        train_data, validation, n_val, notes = open_data(spec, plan["sequences"], resume[0]["data"] if resume else None)
        for n in notes:
            log(n)
        device, _ = pick_device(torch, a.device)
        threads = os.environ.get("FLOPSFIT_TORCH_THREADS", "").strip()
        if device.type == "cpu":
            torch.set_num_threads(int(threads) if threads else 1)
        if device.type == "cuda":
            torch.backends.cuda.matmul.allow_tf32 = True
            torch.backends.cudnn.allow_tf32 = True
        torch.manual_seed(spec["seed"] & MASK32)
        precision = _precision(torch, device, tr)
        autocast = _make_autocast(torch, device, precision)
        Transformer = build_model_class(torch)
        model = Transformer(m)
        total_params = sum(p.numel() for p in model.params)
        if total_params != closed_form_params(m):
            raise RuntimeError("internal: the built model has %d parameters, the closed form %d" % (total_params, closed_form_params(m)))
        layout = model.layout
        if resume is None:
            if not a.init:
                raise DataError("a fresh run needs --init (the seeded initial values, written by flopsfit)")
            with open(a.init, "rb") as f:
                blob = f.read()
            off = 0
            with torch.no_grad():
                for i, (name, shape, _) in enumerate(layout):
                    n = model.params[i].numel()
                    if off + 4 * n > len(blob):
                        raise DataError("%s: too short for the model's initial values" % a.init)
                    model.params[i].copy_(_tensor_from_f32(torch, shape, blob[off:off + 4 * n]))
                    off += 4 * n
            if off != len(blob):
                raise DataError("%s: size %d does not match the model (%d bytes)" % (a.init, len(blob), off))
            if os.path.basename(a.init).startswith(".torch-"):
                try:  # flopsfit's temporary file: gone even if flopsfit itself is killed later
                    os.remove(a.init)
                except OSError:
                    pass
        else:
            with torch.no_grad():
                for i, (name, shape, _) in enumerate(layout):
                    if name not in resume[1]:
                        raise DataError("checkpoint has no tensor '%s'" % name)
                    cs, raw = resume[1][name]
                    if list(cs) != list(shape):
                        raise DataError("checkpoint tensor '%s' has shape %s, the model %s" % (name, cs, shape))
                    model.params[i].copy_(_tensor_from_f32(torch, shape, raw))
        model.to(device)
        params = list(model.params)
        decay = [p for p, (_, _, dk) in zip(params, layout) if dk]
        no_decay = [p for p, (_, _, dk) in zip(params, layout) if not dk]
        opt_kwargs = {"lr": tr["learningRate"], "betas": (tr["beta1"], tr["beta2"]), "eps": 1e-8}
        fused = False
        if device.type == "cuda" and _torch_major(torch) >= 2:
            opt_kwargs["fused"] = True
            fused = True
        else:
            opt_kwargs["foreach"] = True  # one kernel per op over all tensors (torch >= 1.12)
        opt = torch.optim.AdamW([{"params": decay, "weight_decay": tr["weightDecay"]}, {"params": no_decay, "weight_decay": 0.0}], **opt_kwargs)
        pending = {"lossSum": 0.0, "steps": 0, "tokens": 0, "seconds": 0.0}
        final_loss = None
        if resume is not None:
            cs = resume[0]
            step0 = int(cs["optimizer"]["step"])
            for i, (name, shape, _) in enumerate(layout):
                if step0 == 0:
                    break
                p = params[i]
                mm = _tensor_from_f32(torch, shape, resume[1]["opt/m/" + name][1]).to(device)
                vv = _tensor_from_f32(torch, shape, resume[1]["opt/v/" + name][1]).to(device)
                step_t = torch.tensor(float(step0), dtype=torch.float32, device=device if fused else "cpu")
                opt.state[p] = {"step": step_t, "exp_avg": mm, "exp_avg_sq": vv}
            st["step"], st["tokens"] = int(cs["step"]), cs["tokens"]
            st["elapsed_before"] = cs["elapsedSeconds"]
            st["last_train"], st["last_eval"] = cs.get("lastTrainLoss"), cs.get("lastEvalLoss")
            final_loss = cs.get("finalLoss")
            pending.update({"seconds": 0.0})
            pending.update(cs["pending"])
            keep = []
            if os.path.exists(metrics_file):
                with open(metrics_file) as f:
                    for line in f:
                        if not line.strip():
                            continue
                        try:
                            if json.loads(line).get("step", 1 << 60) <= st["step"]:
                                keep.append(line.rstrip("\n") + "\n")
                        except ValueError:
                            pass
            with open(metrics_file, "w") as f:
                f.write("".join(keep))
            log("resumed from step %d/%d (%d tokens)" % (st["step"], plan["steps"], st["tokens"]))
        else:
            import shutil
            shutil.rmtree(ckpt_dir, ignore_errors=True)
            with open(metrics_file, "w"):
                pass
        opt_step = [int(resume[0]["optimizer"]["step"]) if resume else 0]
        attn_desc = "fused attention (scaled_dot_product_attention)" if model.attention == "sdpa" else "explicit causal attention"
        if device.type == "cuda":
            dev_name = torch.cuda.get_device_name(device)
        elif device.type == "mps":
            dev_name = "Apple mps"
        else:
            dev_name = "cpu (%d thread%s, %s)" % (torch.get_num_threads(), "" if torch.get_num_threads() == 1 else "s", platform.processor() or platform.machine())
        compile_mode = tr.get("compile") or os.environ.get("FLOPSFIT_TORCH_COMPILE", "auto").strip().lower() or "auto"
        use_compile = False
        if compile_mode not in ("auto", "on", "off"):
            raise DataError("FLOPSFIT_TORCH_COMPILE must be auto, on or off, not '%s'" % compile_mode)
        if hasattr(torch, "compile") and (compile_mode == "on" or (compile_mode == "auto" and device.type == "cuda" and plan["steps"] >= 500)):
            use_compile = True
        if compile_mode == "on" and not use_compile:
            log("note: training.compile is on, but torch %s has no torch.compile (needs torch >= 2.0); training uncompiled" % torch.__version__)
        fwd = torch.compile(model) if use_compile else model
        st["device"] = "PyTorch %s on %s, %s, %s%s%s" % (
            torch.__version__, dev_name, precision, attn_desc, ", fused AdamW" if fused else "", ", compiled" if use_compile else "")
        if resume is not None:
            cs = resume[0]
            if cs.get("backend") != st["backend"]:
                log("note: the checkpoint was trained on %s; continuing on %s (not bit-identical)" % (cs.get("backend"), st["backend"]))
            elif cs.get("device") and cs.get("device") != st["device"]:
                log("note: the checkpoint was trained on %s; continuing on %s (not bit-identical)" % (cs.get("device"), st["device"]))
        log("training %s: N=%s (total %d), D=%d → %d steps × %d×%d (last %d seqs; %d tokens) on torch [%s]" % (
            spec["id"], spec["params"], total_params, spec["tokens"], plan["steps"], plan["batch"], T, plan["last"], plan["tokens"], st["device"]))
        peak = device_peak(dev_name) if device.type == "cuda" else None
        model_flops_per_token = model_flops_per_token_of(m)
        log_every = 1 if plan["steps"] <= 2000 else -(-plan["steps"] // 2000)
        eval_every, ckpt_every = tr["evalInterval"], tr["checkpointInterval"]
        per_epoch = train_data.sequences_per_epoch
        last_log = [time.perf_counter()]
        setup_seconds = time.perf_counter() - t0

        def epochs():
            return st["tokens"] / (per_epoch * T) if math.isfinite(per_epoch) else 1

        def snapshot(final=None):
            b1, b2 = tr["beta1"], tr["beta2"]
            arrays = [(n, s, _f32_bytes(params[i])) for i, (n, s, _) in enumerate(layout)]
            for key, slot in (("m", "exp_avg"), ("v", "exp_avg_sq")):
                for i, (n, s, _) in enumerate(layout):
                    sd = opt.state.get(params[i])
                    t = sd[slot] if sd and slot in sd else torch.zeros(*s)
                    arrays.append(("opt/%s/%s" % (key, n), s, _f32_bytes(t)))
            state = {
                "format": "flopsfit-checkpoint", "version": 1, "step": st["step"], "totalSteps": plan["steps"],
                "tokens": st["tokens"], "optimizer": {"step": opt_step[0], "accBeta1": b1 ** opt_step[0], "accBeta2": b2 ** opt_step[0]},
                "data": feed["consumed"], "elapsedSeconds": elapsed(),
                "pending": dict(pending, seconds=pending["seconds"] + (time.perf_counter() - last_log[0])),
                "backend": st["backend"], "device": st["device"], "savedAt": time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime()),
            }
            for key, val in (("lastTrainLoss", st["last_train"]), ("lastEvalLoss", st["last_eval"]), ("finalLoss", final)):
                if val is not None and math.isfinite(val):
                    state[key] = val
            save_checkpoint(ckpt_dir, spec, state, arrays)

        if final_loss is not None:
            log("already finished: final eval loss %s" % _fmt(final_loss))
            return result("completed", finalLoss=final_loss, epochs=epochs()), 0
        import torch.nn.functional as F
        clip = tr["gradClip"]
        # Test hook: FLOPSFIT_TORCH_SIGNAL_AT_STEP=N sends this process SIGTERM after step N.
        signal_at = int(os.environ.get("FLOPSFIT_TORCH_SIGNAL_AT_STEP", "0") or 0)
        # On CUDA the next batch is prepared on the CPU while the GPU runs this step (the loss is
        # read, a sync, only after that), and the update is applied before the loss is checked: a
        # non-finite loss still fails the run, and its checkpoint is never written. The checkpoint's
        # data position is the one after the last *trained* batch, so a prefetched batch is re-read
        # on resume. On the CPU nothing overlaps: a non-finite loss applies no update.
        pin = device.type == "cuda"
        # FLOPSFIT_TORCH_OVERLAP=1 takes the CUDA order on any device (tests run it on the CPU)
        overlap = pin or os.environ.get("FLOPSFIT_TORCH_OVERLAP") == "1"
        feed = {"next": None, "consumed": train_data.state()}

        def batch(n):
            w = torch.tensor(train_data.next(n), dtype=torch.long).view(n, T + 1)
            if pin:
                w = w.pin_memory().to(device, non_blocking=True)
            elif device.type != "cpu":
                w = w.to(device)  # mps
            return w, train_data.state()

        def apply_update(lr):
            if clip > 0:
                grads = [p.grad for p in params if p.grad is not None]
                norm = torch.sqrt(sum((g.float() * g.float()).sum() for g in grads))
                scale = clip / torch.clamp(norm, min=clip)
                for g in grads:
                    g.mul_(scale)
            for group in opt.param_groups:
                group["lr"] = lr
            opt.step()

        while st["step"] < plan["steps"]:
            if Stop.requested:
                snapshot()
                log("stopped at step %d/%d; checkpoint written" % (st["step"], plan["steps"]))
                return result("stopped", reason="stopped by request (checkpoint written; resume continues the run)", epochs=epochs()), EXIT_STOPPED
            step = st["step"]
            n_seq = plan["last"] if step == plan["steps"] - 1 else plan["batch"]
            if feed["next"] is not None and feed["next"][0] == n_seq:
                _, w, feed["consumed"] = feed["next"]
            else:
                w, feed["consumed"] = batch(n_seq)
            feed["next"] = None
            lr = learning_rate(step, plan["steps"], tr)
            with autocast():
                logits = fwd(w[:, :-1])
            loss = F.cross_entropy(logits.float().view(-1, logits.shape[-1]), w[:, 1:].reshape(-1))
            opt.zero_grad(set_to_none=True)
            loss.backward()
            if overlap:
                apply_update(lr)
                if step + 1 < plan["steps"]:
                    n_next = plan["last"] if step + 1 == plan["steps"] - 1 else plan["batch"]
                    nw, nstate = batch(n_next)
                    feed["next"] = (n_next, nw, nstate)
            loss_value = loss.item()
            if not math.isfinite(loss_value):
                st["last_train"] = loss_value
                log("step %d: training loss is %s; stopping" % (step + 1, _js_num(loss_value)))
                return result("failed", reason="non-finite training loss (%s) at step %d; lower the learning rate or check the data" % (_js_num(loss_value), step + 1), epochs=epochs()), EXIT_FAILED
            if not overlap:
                apply_update(lr)
            opt_step[0] += 1
            st["step"] += 1
            st["tokens"] += n_seq * T
            st["last_train"] = loss_value
            pending["lossSum"] += loss_value
            pending["steps"] += 1
            pending["tokens"] += n_seq * T
            step = st["step"]
            is_last = step == plan["steps"]
            do_eval = is_last or (eval_every > 0 and step % eval_every == 0)
            if is_last or do_eval or step % log_every == 0:
                now = time.perf_counter()
                eval_loss = None
                if do_eval:
                    eval_loss = evaluate(torch, model, validation, n_val, plan["batch"], T, device, autocast)
                    st["last_eval"] = eval_loss
                    if is_last:
                        final_loss = eval_loss
                tps = pending["tokens"] / max(1e-9, pending["seconds"] + (now - last_log[0]))
                line = {"step": step, "tokens": st["tokens"], "trainLoss": pending["lossSum"] / pending["steps"], "lr": lr,
                        "tokensPerSecond": tps, "elapsed": elapsed()}
                if eval_loss is not None:
                    line["evalLoss"] = eval_loss
                with open(metrics_file, "a") as f:
                    f.write(json.dumps(line) + "\n")
                last_log[0] = time.perf_counter()
                pending.update({"lossSum": 0.0, "steps": 0, "tokens": 0, "seconds": 0.0})
                if step == 1:
                    log("first step done after %s s (setup %s s)" % (_fmt(time.perf_counter() - t0, 2), _fmt(setup_seconds, 2)))
                if do_eval or step % max(log_every, -(-plan["steps"] // 20)) == 0:
                    mfu = ""
                    if peak:
                        mfu = "  MFU %.1f%%" % (100 * tps * model_flops_per_token / peak)
                    log("step %d/%d  loss %s%s  lr %.2e  %d tok/s%s" % (step, plan["steps"], _fmt(line["trainLoss"]),
                        ("  eval %s" % _fmt(eval_loss)) if eval_loss is not None else "", lr, round(tps), mfu))
            if is_last:
                snapshot(final_loss)
            elif ckpt_every > 0 and step % ckpt_every == 0:
                snapshot()
            if signal_at == step and not is_last:
                os.kill(os.getpid(), signal.SIGTERM)  # the test hook: a real signal, delivered here
        log("done: final eval loss %s after %d tokens in %s s" % (_fmt(final_loss), st["tokens"], _fmt(elapsed(), 1)))
        return result("completed", finalLoss=final_loss, epochs=epochs()), 0
    except Exception as e:  # every run-time problem ends up in result.json
        msg = str(e) or type(e).__name__
        if _is_oom(e):
            msg = "out of memory on %s: %s (use a smaller batchSize or model, or another device)" % (st["device"] or "the device", msg.splitlines()[0])
        elif not isinstance(e, (DataError, OSError)):
            msg = "%s: %s" % (type(e).__name__, msg.splitlines()[0])
        log("failed: %s" % msg)
        return result("failed", reason=msg), EXIT_FAILED
    finally:
        if train_data is not None:
            train_data.close()


def _js_num(x):
    if math.isnan(x):
        return "NaN"
    return "Infinity" if x > 0 else "-Infinity"


def _is_oom(e):
    return type(e).__name__ == "OutOfMemoryError" or "out of memory" in str(e).lower()


def _torch_major(torch):
    try:
        return int(torch.__version__.split(".")[0])
    except ValueError:
        return 0


def eval_cmd(a):
    torch = import_torch()
    _, spec, state, arrays = load_checkpoint(a.checkpoint)
    m, tr = spec["model"], spec["training"]
    T = m["contextLength"]
    plan = plan_tokens(spec["tokens"], tr["batchSize"], T)
    spec2 = dict(spec, training=dict(tr, allowRepeat=True))
    data, validation, n_val, _ = open_data(spec2, plan["sequences"])
    data.close()
    device, _ = pick_device(torch, a.device)
    if device.type == "cpu":
        threads = os.environ.get("FLOPSFIT_TORCH_THREADS", "").strip()
        torch.set_num_threads(int(threads) if threads else 1)
    model = build_model_class(torch)(m)
    with torch.no_grad():
        for i, (name, shape, _) in enumerate(model.layout):
            if name not in arrays:
                raise DataError("checkpoint has no tensor '%s'" % name)
            model.params[i].copy_(_tensor_from_f32(torch, shape, arrays[name][1]))
    model.to(device)
    precision = _precision(torch, device, tr)
    loss = evaluate(torch, model, validation, n_val, tr["batchSize"], T, device, _make_autocast(torch, device, precision))
    print(json.dumps({"loss": loss, "step": state["step"], "totalSteps": state["totalSteps"], "validationTokens": n_val * T,
                      "recordedFinalLoss": state.get("finalLoss"), "device": "PyTorch %s on %s, %s" % (torch.__version__, device.type, precision)}))
    return 0


def stream_cmd(a):
    import array
    with open(a.spec) as f:
        spec = json.load(f)
    T = spec["model"]["contextLength"]
    tr = dict(spec["training"], allowRepeat=True)
    spec = dict(spec, training=tr)
    data, validation, n_val, _ = open_data(spec, a.sequences)
    try:
        if a.which == "validation":
            out = validation
        else:
            out = []
            left = a.sequences
            while left > 0:
                n = min(left, a.chunk)
                out.extend(data.next(n))
                left -= n
    finally:
        data.close()
    arr = array.array("i", out)
    if sys.byteorder != "little":
        arr.byteswap()
    with open(a.out, "wb") as f:
        f.write(arr.tobytes())
    return 0


def params_cmd(a):
    torch = import_torch()
    with open(a.spec) as f:
        spec = json.load(f)
    model = build_model_class(torch)(spec["model"])
    print(json.dumps({"total": sum(p.numel() for p in model.parameters()), "closedForm": closed_form_params(spec["model"])}))
    return 0


def main(argv=None):
    ap = argparse.ArgumentParser(prog="flopsfit_torch.py", description="FlopsFit's PyTorch engine (started by flopsfit)")
    sub = ap.add_subparsers(dest="cmd")
    sub.add_parser("probe")
    t = sub.add_parser("train")
    t.add_argument("spec")
    t.add_argument("--out", required=True)
    t.add_argument("--resume", action="store_true")
    t.add_argument("--init")
    t.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda", "mps"])
    t.add_argument("--quiet", action="store_true")
    e = sub.add_parser("eval")
    e.add_argument("checkpoint")
    e.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda", "mps"])
    s = sub.add_parser("stream")
    s.add_argument("spec")
    s.add_argument("--which", choices=["train", "validation"], default="train")
    s.add_argument("--sequences", type=int, default=1)
    s.add_argument("--chunk", type=int, default=7)
    s.add_argument("--out", required=True)
    p = sub.add_parser("params")
    p.add_argument("spec")
    a = ap.parse_args(argv)
    if a.cmd == "probe":
        return probe()
    try:
        if a.cmd == "train":
            _, code = train(a)
            return code
        if a.cmd == "eval":
            return eval_cmd(a)
        if a.cmd == "stream":
            return stream_cmd(a)
        if a.cmd == "params":
            return params_cmd(a)
    except (DataError, OSError, ValueError, KeyError) as err:
        sys.stderr.write("flopsfit torch engine: %s\n" % err)
        return EXIT_FAILED
    ap.print_help(sys.stderr)
    return EXIT_USAGE


if __name__ == "__main__":
    sys.exit(main())
