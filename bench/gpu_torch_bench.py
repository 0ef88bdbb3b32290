#!/usr/bin/env python3
"""The PyTorch half of bench/gpu.sh: FlopsFit's torch engine on one GPU, against a reference script.

Needs only python3 with torch (no Node.js): every engine run is the real trainer process,
`src/engine/torch/flopsfit_torch.py train SPEC --out DIR --init FILE --device cuda`, started the way
flopsfit starts it. What flopsfit's TypeScript side would prepare is written here instead:
  - the spec: the same ExperimentSpec as bench/common.ts benchExperiment (test/unit/gpuBench.test.ts
    checks that both give the same JSON for the same shape);
  - the initial values (--init): N(0, 0.02) matrices, LayerNorm gains 1, biases 0, seeded by torch,
    not the TypeScript engine's seeded values (throughput does not depend on them).
torch.compile is switched by FLOPSFIT_TORCH_COMPILE=on|off (the engine's own setting), so the spec
stays the benchmark spec. Tokens/s of a run: the median of the engine's own per-step figure in
metrics.jsonl over the timed steps (the warm-up steps, compilation included, are left out).

Runs, each a fixed number of warm-up + timed steps and killed after its time box (uncompiled first,
then packing, then compiled; the table lists them by shape):
  - shapes gpt2-small (d 768, 12 layers, 12 heads, context 1024), d256 and d128 (sweep-sized),
    each with compile off and on, each by the engine and by bench/gpu_torch.py (bf16 autocast,
    the same model) on the same shape; the engine's ratio to the reference is printed;
  - packing: 1, 2 and 4 engine runs of the d128 shape at once on the one GPU (aggregate tokens/s).
MFU is against the device's dense bf16 peak from the engine's table (flopsfit_torch.PEAK_BF16).

Prints one Markdown table and writes it to OUT/gpu-table.md (device, driver, versions, date), with
OUT/logs/<run>.log (each process's output), OUT/logs/<run>.metrics.jsonl and OUT/gpu-results.json.

  gpu_torch_bench.py --out DIR [--budget S] [--python PATH] [--only RUN,...]
  gpu_torch_bench.py --out DIR --cpu-smoke      the whole path on the CPU at tiny shapes (tests)
  gpu_torch_bench.py --print-spec SHAPE         the shape and its engine spec, one JSON line (tests)
Exit codes: 0 measured, 2 bad option or no torch, 3 no CUDA GPU (nothing run), 4 no engine run measured.
"""
import argparse
import datetime
import json
import os
import platform
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
ENGINE = os.path.join(ROOT, "src", "engine", "torch", "flopsfit_torch.py")
REFERENCE = os.path.join(HERE, "gpu_torch.py")
sys.path.insert(0, os.path.dirname(ENGINE))
import flopsfit_torch as ft  # noqa: E402  (imports no torch by itself)

# name → shape and run length (warm-up steps untimed; compilation happens in the first one)
SHAPES = {
    "gpt2-small": {"d": 768, "layers": 12, "heads": 12, "context": 1024, "batch": 32, "vocab": 256, "warmup": 3, "steps": 20},
    "d256": {"d": 256, "layers": 4, "heads": 4, "context": 512, "batch": 32, "vocab": 256, "warmup": 3, "steps": 30},
    "d128": {"d": 128, "layers": 4, "heads": 2, "context": 512, "batch": 32, "vocab": 256, "warmup": 3, "steps": 30},
}
# --cpu-smoke: the same runs at toy sizes, to test the whole path without a GPU
TINY = {
    "gpt2-small": {"d": 48, "layers": 2, "heads": 2, "context": 32, "batch": 2, "vocab": 64, "warmup": 1, "steps": 2},
    "d256": {"d": 32, "layers": 1, "heads": 2, "context": 32, "batch": 2, "vocab": 64, "warmup": 1, "steps": 2},
    "d128": {"d": 16, "layers": 1, "heads": 2, "context": 32, "batch": 2, "vocab": 64, "warmup": 1, "steps": 2},
}
PACK_SHAPE = "d128"
PACKS = (1, 2, 4)
# packed runs train longer, so that their timed steps overlap despite their staggered starts
PACK_STEPS = {"warmup": 20, "steps": 300}
TINY_PACK_STEPS = {"warmup": 5, "steps": 60}


def bench_spec(c, run_id):
    """The ExperimentSpec of bench/common.ts benchExperiment(c, {id, backend: 'torch', seed: 1, allowRepeat: false})."""
    model = {"family": "transformer", "dModel": c["d"], "nLayers": c["layers"], "nHeads": c["heads"], "contextLength": c["context"],
             "vocabSize": c["vocab"], "mlpRatio": 4, "tiedEmbeddings": False}
    total = ft.closed_form_params(model)
    non_embedding = total - c["vocab"] * c["d"] - c["context"] * c["d"] - c["d"] * c["vocab"]
    tokens = (c["warmup"] + c["steps"]) * c["batch"] * c["context"]
    return {
        "id": run_id, "sweep": run_id, "budget": 6 * non_embedding * tokens, "budgetIndex": 0, "sizeParam": "dModel", "sizeValue": c["d"],
        "params": non_embedding, "paramsTotal": total, "tokens": tokens, "tokensPerParam": tokens / non_embedding,
        "flopsPerParamPerToken": 6, "hyperparameters": {}, "seed": 1, "model": model,
        "data": {"source": "synthetic", "vocabSize": c["vocab"], "branching": 8, "seed": 1},
        "training": {"batchSize": c["batch"], "learningRate": 1e-3, "schedule": "cosine", "warmupFraction": 0.1, "minLrRatio": 0.1,
                     "weightDecay": 0.1, "beta1": 0.9, "beta2": 0.95, "gradClip": 1, "evalTokens": c["context"], "evalInterval": 0,
                     "checkpointInterval": 0, "backend": "torch", "allowRepeat": False},
    }


def write_init(torch, model, path):
    """Initial values in the engine's --init format (float32 little-endian, parameter_layout order)."""
    g = torch.Generator().manual_seed(1)
    with open(path, "wb") as f:
        for name, shape, _ in ft.parameter_layout(model):
            if name.endswith(".g"):
                t = torch.ones(*shape)
            elif name.endswith(".b"):
                t = torch.zeros(*shape)
            else:
                t = torch.randn(*shape, generator=g) * 0.02
            f.write(ft._f32_bytes(t))


def median(xs):
    return statistics.median(xs) if xs else None


class Bench:
    def __init__(self, a, torch, gpu):
        self.a, self.torch, self.gpu = a, torch, gpu
        self.shapes = TINY if a.cpu_smoke else SHAPES
        self.device = "cuda" if gpu else "cpu"
        self.out = os.path.abspath(a.out)
        self.logs = os.path.join(self.out, "logs")
        os.makedirs(self.logs, exist_ok=True)
        self.tmp = tempfile.mkdtemp(prefix="flopsfit-gpu-bench-")  # run dirs (checkpoints stay out of OUT)
        self.t0 = time.perf_counter()
        self.dev_name = torch.cuda.get_device_name(0) if gpu else "cpu (%s)" % (platform.processor() or platform.machine())
        self.peak = ft.device_peak(self.dev_name) if gpu else None
        self.rows = []

    def left(self):
        return self.a.budget - (time.perf_counter() - self.t0)

    def time_box(self, shape, compile_on):
        if self.a.time_box:
            return self.a.time_box
        if self.a.cpu_smoke:
            return 120
        return (150 if shape == "gpt2-small" else 100) if compile_on else 60

    def skip(self, box):
        if self.left() < min(box, 30):
            return "skipped: the %d s budget is spent" % self.a.budget
        return None

    def start_engine(self, name, c, compile_on):
        d = os.path.join(self.tmp, name)
        os.makedirs(d)
        spec = bench_spec(c, "bench-" + name)
        with open(os.path.join(d, "spec.json"), "w") as f:
            json.dump(spec, f)
        write_init(self.torch, spec["model"], os.path.join(d, "init.bin"))
        env = dict(os.environ, FLOPSFIT_TORCH_COMPILE="on" if compile_on else "off")
        cmd = [self.a.python, ENGINE, "train", os.path.join(d, "spec.json"), "--out", os.path.join(d, "run"),
               "--init", os.path.join(d, "init.bin"), "--device", self.device]
        log = open(os.path.join(self.logs, name + ".log"), "w")
        log.write("$ FLOPSFIT_TORCH_COMPILE=%s %s\n" % (env["FLOPSFIT_TORCH_COMPILE"], " ".join(cmd)))
        log.flush()
        wall0 = time.time()
        return {"name": name, "dir": d, "c": c, "compile": compile_on, "log": log, "wall0": wall0,
                "proc": subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env, cwd=ROOT, start_new_session=True)}

    def finish_engine(self, r, deadline):
        p = r["proc"]
        killed = False
        try:
            p.wait(timeout=max(0.05, deadline - time.perf_counter()))
        except subprocess.TimeoutExpired:
            killed = True
            kill_group(p)
            p.wait()
        r["log"].close()
        run = os.path.join(r["dir"], "run")
        c = r["c"]
        tps, trace = [], []
        if os.path.exists(os.path.join(run, "metrics.jsonl")):
            shutil.copy(os.path.join(run, "metrics.jsonl"), os.path.join(self.logs, r["name"] + ".metrics.jsonl"))
            with open(os.path.join(run, "metrics.jsonl")) as f:
                for line in f:
                    if line.strip():
                        m = json.loads(line)
                        if m["step"] > c["warmup"]:
                            tps.append(m["tokensPerSecond"])
                        # (wall time, tokens so far) from the end of the warm-up to the step before the last
                        # (the last line's time includes the final evaluation)
                        if c["warmup"] <= m["step"] < c["warmup"] + c["steps"]:
                            trace.append((r["wall0"] + m["elapsed"], m["tokens"]))
        res = {}
        if os.path.exists(os.path.join(run, "result.json")):
            with open(os.path.join(run, "result.json")) as f:
                res = json.load(f)
        shutil.rmtree(r["dir"], ignore_errors=True)
        out = {"tokensPerSecond": median(tps), "timedSteps": len(tps), "device": res.get("device", ""), "trace": trace}
        if killed:
            out["note"] = "killed after its time box" + (" (partial: %d timed steps)" % len(tps) if tps else "")
        elif res.get("status") != "completed":
            out["note"] = "%s: %s" % (res.get("status", "no result.json, exit %s" % p.returncode), res.get("reason", ""))
        if r["compile"] and res.get("status") == "completed" and "compiled" not in out["device"]:
            out["note"] = "not compiled: this torch has no torch.compile"
        if not tps:
            out["tokensPerSecond"] = None
            out.setdefault("note", "no timed step")
        return out

    def engine(self, name, shape, compile_on):
        box = self.time_box(shape, compile_on)
        why = self.skip(box)
        if why:
            return {"tokensPerSecond": None, "note": why}
        r = self.start_engine(name, self.shapes[shape], compile_on)
        out = self.finish_engine(r, time.perf_counter() + min(box, max(5, self.left())))
        out.pop("trace")
        return out

    def reference(self, name, shape, compile_on):
        c = self.shapes[shape]
        box = self.time_box(shape, compile_on)
        why = self.skip(box)
        if why:
            return {"tokensPerSecond": None, "note": why}
        cmd = [self.a.python, REFERENCE] + sum([["--" + k, str(c[k])] for k in ("d", "layers", "heads", "context", "batch", "vocab", "steps", "warmup")], [])
        cmd += ["--dtype", "bf16" if self.gpu else "fp32", "--device", self.device, "--max-seconds", str(box * 0.5)]
        if compile_on:
            cmd.append("--compile")
        env = dict(os.environ)
        if not self.gpu:  # one thread, as the engine on the CPU
            env.update(OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", MKL_NUM_THREADS="1")
        with open(os.path.join(self.logs, name + ".log"), "w") as log:
            log.write("$ %s\n" % " ".join(cmd))
            log.flush()
            try:
                p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=log, env=env, cwd=ROOT, universal_newlines=True, start_new_session=True)
                stdout, _ = p.communicate(timeout=min(box, max(5, self.left())))
            except subprocess.TimeoutExpired:
                kill_group(p)
                log.write("killed after its %d s time box\n" % box)
                return {"tokensPerSecond": None, "note": "killed after its time box"}
            log.write(stdout)
        try:
            j = json.loads(stdout.strip().splitlines()[-1])
        except (ValueError, IndexError):
            return {"tokensPerSecond": None, "note": "exit %d, no result (see logs/%s.log)" % (p.returncode, name)}
        if "error" in j:
            return {"tokensPerSecond": None, "note": j["error"]}
        ms = median(j["stepMs"])
        return {"tokensPerSecond": c["batch"] * c["context"] / (ms / 1000) if ms else None, "timedSteps": len(j["stepMs"]),
                "device": "PyTorch %s on %s, %s%s" % (j["torch"], j["device"], "bf16" if self.gpu else "fp32", ", compiled" if compile_on else "")}

    def row(self, run, shape, compile_on, what, r, ref=None, procs=1):
        c = self.shapes[shape]
        m = {"dModel": c["d"], "nLayers": c["layers"], "contextLength": c["context"], "vocabSize": c["vocab"], "mlpRatio": 4, "tiedEmbeddings": False}
        row = dict(r, run=run, shape=shape, compile=compile_on, what=what, procs=procs,
                   shapeText="d %d, %d layers, %d heads, context %d, batch %d" % (c["d"], c["layers"], c["heads"], c["context"], c["batch"]))
        tps = r.get("tokensPerSecond")
        if tps and self.peak:
            row["mfu"] = tps * ft.model_flops_per_token_of(m) / self.peak
        if tps and ref and ref.get("tokensPerSecond"):
            row["vsReference"] = tps / ref["tokensPerSecond"]
        self.rows.append(row)
        say("%-34s %s" % (run, fmt_tps(tps) + " tok/s" + ("  (%s)" % r["note"] if r.get("note") else "")))
        return row

    def run_all(self):
        """Uncompiled runs first, then packing, then the compiled runs (the slowest and least sure to fit
        the budget); the table lists them by shape."""
        only = set(self.a.only.split(",")) if self.a.only else None
        for compile_on in (False, True):
            for shape in ("gpt2-small", "d256", "d128"):
                tag = "%s-compile-%s" % (shape, "on" if compile_on else "off")
                if only and tag not in only:
                    continue
                e = self.engine("engine-" + tag, shape, compile_on)
                ref = self.reference("reference-" + tag, shape, compile_on)
                self.row("engine " + tag, shape, compile_on, "engine", e, ref)
                self.row("reference " + tag, shape, compile_on, "reference", ref)
            if not compile_on:
                self.packing(only)
        order = ["%s %s-compile-%s" % (w, sh, c) for sh in ("gpt2-small", "d256", "d128") for c in ("off", "on") for w in ("engine", "reference")]
        self.rows.sort(key=lambda r: order.index(r["run"]) if r["run"] in order else len(order) + r["procs"])
        shutil.rmtree(self.tmp, ignore_errors=True)

    def packing(self, only):
        for n in PACKS:
            tag = "pack-%d" % n
            if only and tag not in only:
                continue
            box = self.time_box(PACK_SHAPE, False) * (2 if n > 1 else 1)
            why = self.skip(box)
            if why:
                self.row("engine packed ×%d (%s)" % (n, PACK_SHAPE), PACK_SHAPE, False, "pack", {"tokensPerSecond": None, "note": why}, procs=n)
                continue
            c = dict(self.shapes[PACK_SHAPE], **(TINY_PACK_STEPS if self.a.cpu_smoke else PACK_STEPS))
            started = [self.start_engine("engine-%s-%d" % (tag, i + 1), c, False) for i in range(n)]
            deadline = time.perf_counter() + min(box, max(5, self.left()))
            parts = [self.finish_engine(r, deadline) for r in started]
            notes = sorted({p["note"] for p in parts if p.get("note")})
            total, window = overlap_rate([p.pop("trace") for p in parts])
            agg = {"tokensPerSecond": total, "perProcess": [p["tokensPerSecond"] for p in parts], "overlapSeconds": window,
                   "device": parts[0].get("device", "")}
            if total is None:
                notes.append("the timed steps of the %d runs did not overlap" % n)
            elif window < 1.0:
                notes.append("only %.2f s of overlap: a rough figure" % window)
            if notes:
                agg["note"] = "; ".join(notes)
            self.row("engine packed ×%d (%s)" % (n, PACK_SHAPE), PACK_SHAPE, False, "pack", agg, procs=n)


def kill_group(p):
    """Kill a run and whatever it started (torch.compile's worker processes), then reap it."""
    try:
        os.killpg(p.pid, signal.SIGKILL)
    except OSError:
        p.kill()
    p.communicate()


def tokens_at(trace, t):
    """Tokens a run had trained at wall time t (linear between its metrics lines)."""
    for (t0, k0), (t1, k1) in zip(trace, trace[1:]):
        if t0 <= t <= t1:
            return k0 + (k1 - k0) * ((t - t0) / (t1 - t0) if t1 > t0 else 1.0)
    return trace[-1][1] if t > trace[-1][0] else trace[0][1]


def overlap_rate(traces):
    """Aggregate tokens/s of runs trained at once: the tokens all of them trained while every one was
    in its timed steps, over that window's length; (None, 0) if the windows do not overlap."""
    if any(len(tr) < 2 for tr in traces):
        return None, 0.0
    start, end = max(tr[0][0] for tr in traces), min(tr[-1][0] for tr in traces)
    if end <= start:
        return None, 0.0
    return sum(tokens_at(tr, end) - tokens_at(tr, start) for tr in traces) / (end - start), end - start


def fmt_tps(x):
    return "—" if not x else "{:,.0f}".format(x)


def say(line):
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def header(torch, b, smoke):
    drv = ""
    if b.gpu and shutil.which("nvidia-smi"):
        try:
            drv = subprocess.run(["nvidia-smi", "--query-gpu=driver_version", "--format=csv,noheader"], stdout=subprocess.PIPE,
                                 stderr=subprocess.DEVNULL, universal_newlines=True, timeout=20).stdout.strip().splitlines()[0]
        except Exception:
            drv = "unknown"
    lines = [
        "# FlopsFit GPU benchmark (bench/gpu.sh)" + (" — CPU SMOKE RUN: toy shapes, figures say nothing about speed" if smoke else ""),
        "",
        "- date: %s" % datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "- device: %s%s" % (b.dev_name, (", driver %s" % drv) if drv else ""),
        "- bf16 dense peak: %s" % ("%.1f TFLOP/s (flopsfit_torch.PEAK_BF16)" % (b.peak / 1e12) if b.peak else "unknown for this device: no MFU"),
        "- PyTorch %s, CUDA %s, Python %s" % (torch.__version__, getattr(torch.version, "cuda", None) or "none", platform.python_version()),
        "- tokens/s: median over the timed steps; MFU: model FLOPs (6·(N_nonemb + d·V) + 6·L·T·d per token) / peak;"
        " ÷ reference: engine ÷ bench/gpu_torch.py on the same shape and compile setting",
        "",
    ]
    return lines


def table(b):
    out = ["| run | shape | tokens/s | MFU (bf16 peak) | ÷ reference | device / note |", "|---|---|---:|---:|---:|---|"]
    for r in b.rows:
        note = r.get("device") or ""
        if r.get("note"):
            note = (note + "; " if note else "") + r["note"]
        if r.get("perProcess"):
            note = "over the %.1f s all ran at once; each run's median: %s; %s" % (
                r.get("overlapSeconds", 0), " / ".join(fmt_tps(x) for x in r["perProcess"]), note)
        out.append("| %s | %s | %s | %s | %s | %s |" % (
            r["run"], r["shapeText"], fmt_tps(r.get("tokensPerSecond")), "%.1f %%" % (100 * r["mfu"]) if r.get("mfu") else "—",
            "%.2f" % r["vsReference"] if r.get("vsReference") else "—", note.replace("|", "/")))
    return out


def main(argv):
    ap = argparse.ArgumentParser(prog="gpu_torch_bench.py", description=__doc__.split("\n")[0])
    ap.add_argument("--out", help="folder for gpu-table.md, gpu-results.json and logs/")
    ap.add_argument("--python", default=sys.executable, help="the Python (with torch) the runs use (default: this one)")
    ap.add_argument("--budget", type=float, default=450, help="seconds for everything; later runs are skipped past it (450)")
    ap.add_argument("--time-box", type=float, default=0, help="seconds per run before it is killed (default: 60 uncompiled, 100 compiled, 150 compiled GPT-2 small; packed runs twice that)")
    ap.add_argument("--only", help="comma-separated runs: gpt2-small-compile-off, d128-compile-on, pack-2, ...")
    ap.add_argument("--cpu-smoke", action="store_true", help="run everything on the CPU at toy shapes (tests the script, measures nothing)")
    ap.add_argument("--print-spec", metavar="SHAPE", choices=sorted(SHAPES), help="print the engine spec of a shape and exit")
    a = ap.parse_args(argv)
    if a.print_spec:
        c = SHAPES[a.print_spec]
        print(json.dumps({"config": {k: c[k] for k in ("d", "layers", "heads", "context", "batch", "vocab", "steps", "warmup")},
                          "spec": bench_spec(c, "bench-" + a.print_spec)}))
        return 0
    if not a.out:
        ap.error("--out DIR is required")
    if a.budget < 10:
        ap.error("--budget must be at least 10 seconds")
    if a.time_box < 0:
        ap.error("--time-box must be positive")
    if a.only:
        known = ["%s-compile-%s" % (sh, c) for sh in SHAPES for c in ("off", "on")] + ["pack-%d" % n for n in PACKS]
        bad = [x for x in a.only.split(",") if x not in known]
        if bad:
            ap.error("--only: unknown run %s (runs: %s)" % (", ".join(bad), ", ".join(known)))
    try:
        import torch
    except Exception as e:
        why = "%s cannot import torch: %s" % (sys.executable, e)
        if not a.cpu_smoke:
            say("bench/gpu.sh: no CUDA GPU usable (%s); nothing was run" % why)
            return 3
        say("bench/gpu.sh: " + why)
        return 2
    gpu = bool(torch.cuda.is_available())
    if not gpu and not a.cpu_smoke:
        say("bench/gpu.sh: no CUDA GPU: torch %s (%s) sees no CUDA device%s; nothing was run (--cpu-smoke tests the script on the CPU)" % (
            torch.__version__, sys.executable, "" if getattr(torch.version, "cuda", None) else ", it is a CPU-only build"))
        return 3
    b = Bench(a, torch, gpu and not a.cpu_smoke)
    head = header(torch, b, a.cpu_smoke)
    for line in head:
        say(line)
    b.run_all()
    body = table(b)
    text = "\n".join(head + body) + "\n\nWall time: %.0f s (budget %d s). Per-run logs: logs/.\n" % (time.perf_counter() - b.t0, a.budget)
    say("")
    say("\n".join(body))
    with open(os.path.join(b.out, "gpu-table.md"), "w") as f:
        f.write(text)
    with open(os.path.join(b.out, "gpu-results.json"), "w") as f:
        json.dump({"device": b.dev_name, "peakBf16": b.peak, "torch": torch.__version__, "cuda": getattr(torch.version, "cuda", None),
                   "smoke": a.cpu_smoke, "rows": b.rows}, f, indent=1)
    say("\nwritten: %s" % os.path.join(b.out, "gpu-table.md"))
    return 0 if any(r["what"] != "reference" and r.get("tokensPerSecond") for r in b.rows) else 4


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
