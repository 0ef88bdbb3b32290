#!/usr/bin/env python3
"""Independent scipy reference for `npm run bench:fit` (FlopsFit issue 4).

Fits L(N, D) = E + A/N^alpha + B/D^beta exactly as Besiroglu et al. (2024):
log L_hat = logsumexp(a - alpha log N, b - beta log D, e), objective = SUM of
Huber(delta=1e-3) on log L - log L_hat, minimised with scipy.optimize.minimize(method='L-BFGS-B',
jac=True) with an analytic gradient, from every start given (the 4500-point grid), keeping the best.
The winner is then polished with tight tolerances. Then the same bootstrap as the TypeScript side:
for every resample (given as row counts) the same warm starts, keeping the best, polished.

Input: a JSON file (argv[1]) written by bench/fit.ts:
  {"logN": [...], "logD": [...], "logL": [...], "starts": [[a,b,e,alpha,beta], ...],
   "resamples": [[count per row], ...], "bootstrapStarts": [[...], ...], "delta": 1e-3}
Output (stdout): one JSON object with times (seconds) and optima.
Uses only numpy + scipy (Debian python3-scipy).
"""
import json
import sys
import time

import numpy as np
from scipy.optimize import minimize


def make_objective(log_n, log_d, log_l, weight, delta):
    def fg(x):
        a, b, e, alpha, beta = x
        u1 = a - alpha * log_n
        u2 = b - beta * log_d
        u3 = np.full_like(u1, e)
        m = np.maximum(np.maximum(u1, u2), u3)
        e1 = np.exp(u1 - m)
        e2 = np.exp(u2 - m)
        e3 = np.exp(u3 - m)
        s = e1 + e2 + e3
        r = log_l - (m + np.log(s))
        ar = np.abs(r)
        quad = ar <= delta
        f = np.where(quad, 0.5 * r * r, delta * (ar - 0.5 * delta))
        psi = np.clip(r, -delta, delta)
        if weight is not None:
            f = f * weight
            psi = psi * weight
        q = psi / s
        w1 = q * e1
        w2 = q * e2
        g = np.array([-w1.sum(), -w2.sum(), -(q * e3).sum(), (w1 * log_n).sum(), (w2 * log_d).sum()])
        return f.sum(), g
    return fg


def multistart(fg, starts):
    best_f = np.inf
    best = None
    converged = 0
    for x0 in starts:
        res = minimize(fg, x0, method="L-BFGS-B", jac=True)
        if res.success:
            converged += 1
        if np.isfinite(res.fun) and np.all(np.isfinite(res.x)) and res.fun < best_f:
            best_f = res.fun
            best = res.x
    return best, best_f, converged


def polish(fg, x):
    # Same tight polish as the TypeScript side (gtol 1e-12, ftol purely relative ~1e-13; scipy's
    # ftol test has a scale floor of 1, so ftol=0 is the closest; maxiter 5000).
    res = minimize(fg, x, method="L-BFGS-B", jac=True, options={"ftol": 0.0, "gtol": 1e-12, "maxiter": 5000, "maxfun": 10000})
    if np.isfinite(res.fun) and res.fun <= fg(x)[0]:
        return res.x, float(res.fun)
    return x, float(fg(x)[0])


def named(x):
    a, b, e, alpha, beta = [float(v) for v in x]
    return {"E": float(np.exp(e)), "A": float(np.exp(a)), "B": float(np.exp(b)), "alpha": alpha, "beta": beta,
            "a": beta / (alpha + beta), "b": alpha / (alpha + beta)}


def main():
    with open(sys.argv[1]) as fh:
        job = json.load(fh)
    delta = float(job.get("delta", 1e-3))
    log_n = np.asarray(job["logN"], dtype=float)
    log_d = np.asarray(job["logD"], dtype=float)
    log_l = np.asarray(job["logL"], dtype=float)
    starts = np.asarray(job["starts"], dtype=float)
    fg = make_objective(log_n, log_d, log_l, None, delta)

    t0 = time.perf_counter()
    c0 = time.process_time()
    best, best_f, converged = multistart(fg, starts)
    polished, polished_f = polish(fg, best)
    t_fit = time.perf_counter() - t0
    c_fit = time.process_time() - c0

    boot = []
    failed = 0
    t1 = time.perf_counter()
    c1 = time.process_time()
    boot_starts = np.asarray(job.get("bootstrapStarts", []), dtype=float)
    for counts in job.get("resamples", []):
        w = np.asarray(counts, dtype=float)
        keep = w > 0
        fgb = make_objective(log_n[keep], log_d[keep], log_l[keep], w[keep], delta)
        xb, fb, _ = multistart(fgb, boot_starts)
        if xb is None:
            failed += 1
            continue
        xb, fb = polish(fgb, xb)
        if not (np.all(np.isfinite(xb)) and xb[3] > 0 and xb[4] > 0):
            failed += 1
            continue
        boot.append(named(xb))
    t_boot = time.perf_counter() - t1
    c_boot = time.process_time() - c1

    out = {
        "scipy": __import__("scipy").__version__,
        "numpy": np.__version__,
        "fitSeconds": t_fit,
        "bootstrapSeconds": t_boot,
        "fitCpuSeconds": c_fit,
        "bootstrapCpuSeconds": c_boot,
        "starts": int(len(starts)),
        "converged": converged,
        "objective": float(best_f),
        "best": named(best),
        "polishedObjective": polished_f,
        "polished": named(polished),
        "bootstrap": {"samples": len(boot), "failed": failed,
                      "alpha": [b["alpha"] for b in boot], "beta": [b["beta"] for b in boot],
                      "E": [b["E"] for b in boot], "a": [b["a"] for b in boot]},
    }
    json.dump(out, sys.stdout)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
