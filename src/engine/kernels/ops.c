/*
 * Element-wise and row-wise kernels of the FlopsFit engine's wasm path: LayerNorm, GELU (tanh
 * form), softmax cross-entropy, and the AdamW update, each forward and backward in one pass over
 * memory instead of the 5-15 separate tfjs kernels (and temporaries) each took. Built with
 * gemm.c and attention.c into one module on the tfjs heap (scripts/build-kernels.sh); called from
 * heapElementwise.ts. No libc, no static data: buffers are byte offsets into the imported memory.
 *
 * The formulas follow the tfjs graphs they replace (src/engine/model.ts, optimizer.ts) operation
 * for operation in float32, so results agree with the plain tfjs path to float rounding.
 */
#include "simd.h"

/* natural log in double precision for x >= 1 (a softmax denominator), one call per row */
static double dlog(double x) {
  union {
    double d;
    unsigned long long u;
  } v = {x};
  int e = (int)((v.u >> 52) & 0x7ff) - 1023;
  v.u = (v.u & 0x000fffffffffffffULL) | 0x3ff0000000000000ULL; /* mantissa in [1, 2) */
  double m = v.d;
  if (m > 1.4142135623730951) {
    m *= 0.5;
    e += 1;
  }
  const double s = (m - 1.0) / (m + 1.0), s2 = s * s; /* log m = 2 atanh s, |s| <= 0.172 */
  const double p = s * (2.0 + s2 * (2.0 / 3 + s2 * (2.0 / 5 + s2 * (2.0 / 7 + s2 * (2.0 / 9 + s2 * (2.0 / 11 + s2 * (2.0 / 13)))))));
  return p + e * 0.69314718055994530942;
}

static inline float row_sum(const float *x, int d) {
  f4 s = splat(0.0f);
  int c = 0;
  for (; c + 4 <= d; c += 4) s = add(s, ld(x + c));
  float r = hsum(s);
  for (; c < d; c++) r += x[c];
  return r;
}

/* y = (x - mean) * rsqrt(var + eps) * g + b per row of x [M, d]; stats[2i] = mean, [2i+1] = rstd */
void layernorm_fwd(int M, int d, const float *x, const float *g, const float *b, float *y, float *stats, float eps) {
  for (int i = 0; i < M; i++) {
    const float *xr = x + i * d;
    float *yr = y + i * d;
    const float mean = row_sum(xr, d) / (float)d;
    const f4 mv = splat(mean);
    f4 q = splat(0.0f);
    int c = 0;
    for (; c + 4 <= d; c += 4) {
      const f4 t = sub(ld(xr + c), mv);
      q = add(q, mul(t, t));
    }
    float var = hsum(q);
    for (; c < d; c++) var += (xr[c] - mean) * (xr[c] - mean);
    var /= (float)d;
    const float rstd = 1.0f / __builtin_sqrtf(var + eps);
    const f4 rv = splat(rstd);
    c = 0;
    for (; c + 4 <= d; c += 4) st(yr + c, add(mul(mul(sub(ld(xr + c), mv), rv), ld(g + c)), ld(b + c)));
    for (; c < d; c++) yr[c] = (xr[c] - mean) * rstd * g[c] + b[c];
    stats[2 * i] = mean;
    stats[2 * i + 1] = rstd;
  }
}

/* dx [M, d], dg [d], db [d] from dy, x, g and the forward's stats:
 * xh = (x - mean) rstd; dg = sum_rows dy xh; db = sum_rows dy;
 * dx = rstd (dy g - mean_c(dy g) - xh mean_c(dy g xh)) */
void layernorm_bwd(int M, int d, const float *x, const float *g, const float *stats, const float *dy, float *dx, float *dg,
                   float *db) {
  for (int c = 0; c < d; c++) dg[c] = db[c] = 0.0f;
  for (int i = 0; i < M; i++) {
    const float *xr = x + i * d, *gr = dy + i * d;
    float *dr = dx + i * d;
    const float mean = stats[2 * i], rstd = stats[2 * i + 1];
    const f4 mv = splat(mean), rv = splat(rstd);
    f4 sa = splat(0.0f), sb = sa;
    int c = 0;
    for (; c + 4 <= d; c += 4) {
      const f4 xh = mul(sub(ld(xr + c), mv), rv), dyv = ld(gr + c), dyg = mul(dyv, ld(g + c));
      sa = add(sa, dyg);
      sb = add(sb, mul(dyg, xh));
      st(dg + c, add(ld(dg + c), mul(dyv, xh)));
      st(db + c, add(ld(db + c), dyv));
    }
    float a = hsum(sa), bsum = hsum(sb);
    for (; c < d; c++) {
      const float xh = (xr[c] - mean) * rstd, dyg = gr[c] * g[c];
      a += dyg;
      bsum += dyg * xh;
      dg[c] += gr[c] * xh;
      db[c] += gr[c];
    }
    const float ma = a / (float)d, mb = bsum / (float)d;
    const f4 mav = splat(ma), mbv = splat(mb);
    c = 0;
    for (; c + 4 <= d; c += 4) {
      const f4 xh = mul(sub(ld(xr + c), mv), rv);
      st(dr + c, mul(rv, sub(sub(mul(ld(gr + c), ld(g + c)), mav), mul(xh, mbv))));
    }
    for (; c < d; c++) dr[c] = rstd * (gr[c] * g[c] - ma - (xr[c] - mean) * rstd * mb);
  }
}

#define GELU_C 0.7978845608028654f /* sqrt(2/pi) */
#define GELU_A 0.044715f

/* sigma = 0.5 (1 + tanh u) = 1 / (1 + exp(-2u)), u = c (x + a x^3); exp's argument is clamped to
 * [-87, 87] (sigma is then 1 or 0 to float precision). One exp and one division per vector. */
static inline f4 gelu_sigma(f4 x, f4 x2) {
  const f4 u2 = mul(mul(add(x, mul(mul(x2, x), splat(GELU_A))), splat(GELU_C)), splat(-2.0f));
  const f4 e = vexp(wasm_f32x4_min(u2, splat(87.0f)));
  return wasm_f32x4_div(splat(1.0f), add(splat(1.0f), e));
}

/* gelu(x) = x sigma */
static inline f4 gelu4(f4 x) { return mul(x, gelu_sigma(x, mul(x, x))); }

/* d gelu/dx = sigma + x sigma (1 - sigma) 2c (1 + 3 a x^2)  (= 0.5(1+t) + 0.5x(1-t^2) c(1+3ax^2)).
 * x is clamped to [-20, 20] first: beyond it sigma(1 - sigma) is 0 or below 1e-37, so the value is
 * the same to float precision, and x^2 cannot overflow into inf * 0 = NaN for huge inputs. */
static inline f4 gelu_grad4(f4 x, f4 dy) {
  x = wasm_f32x4_pmax(wasm_f32x4_pmin(x, splat(20.0f)), splat(-20.0f));
  const f4 x2 = mul(x, x);
  const f4 s = gelu_sigma(x, x2);
  const f4 du = mul(splat(2.0f * GELU_C), add(splat(1.0f), mul(splat(3.0f * GELU_A), x2)));
  return mul(dy, add(s, mul(mul(mul(x, s), sub(splat(1.0f), s)), du)));
}

void gelu_fwd(int n, const float *x, float *y) {
  int i = 0;
  for (; i + 4 <= n; i += 4) st(y + i, gelu4(ld(x + i)));
  if (i < n) {
    float t[4] = {0, 0, 0, 0};
    for (int j = 0; i + j < n; j++) t[j] = x[i + j];
    st(t, gelu4(ld(t)));
    for (int j = 0; i + j < n; j++) y[i + j] = t[j];
  }
}

void gelu_bwd(int n, const float *x, const float *dy, float *dx) {
  int i = 0;
  for (; i + 4 <= n; i += 4) st(dx + i, gelu_grad4(ld(x + i), ld(dy + i)));
  if (i < n) {
    float t[4] = {0, 0, 0, 0}, u[4] = {0, 0, 0, 0};
    for (int j = 0; i + j < n; j++) {
      t[j] = x[i + j];
      u[j] = dy[i + j];
    }
    st(t, gelu_grad4(ld(t), ld(u)));
    for (int j = 0; i + j < n; j++) dx[i + j] = t[j];
  }
}

static inline float row_max(const float *x, int V) {
  float m = x[0];
  int j = 0;
  if (V >= 4) {
    f4 mv = ld(x);
    for (j = 4; j + 4 <= V; j += 4) mv = wasm_f32x4_max(mv, ld(x + j));
    float a = wasm_f32x4_extract_lane(mv, 0), b = wasm_f32x4_extract_lane(mv, 1);
    float c = wasm_f32x4_extract_lane(mv, 2), e = wasm_f32x4_extract_lane(mv, 3);
    m = a > b ? a : b;
    m = m > c ? m : c;
    m = m > e ? m : e;
  }
  for (; j < V; j++) m = x[j] > m ? x[j] : m;
  return m;
}

/* per row of logits [M, V]: lse = log sum exp, nll = lse - logits[target]; lse saved for backward */
void xent_fwd(int M, int V, const float *logits, const int *targets, float *nll, float *lse) {
  for (int i = 0; i < M; i++) {
    const float *l = logits + i * V;
    const float mx = row_max(l, V);
    const f4 mv = splat(mx);
    f4 s = splat(0.0f);
    int j = 0;
    for (; j + 4 <= V; j += 4) s = add(s, vexp(sub(ld(l + j), mv)));
    double sum = (double)hsum(s);
    for (; j < V; j++) {
      float t[4] = {l[j] - mx, -100.0f, -100.0f, -100.0f};
      sum += (double)wasm_f32x4_extract_lane(vexp(ld(t)), 0);
    }
    const float z = (float)((double)mx + dlog(sum));
    lse[i] = z;
    nll[i] = z - l[targets[i]];
  }
}

/* dlogits = dnll[i] (softmax(logits_i) - onehot(target_i)) */
void xent_bwd(int M, int V, const float *logits, const int *targets, const float *lse, const float *dnll, float *dlogits) {
  for (int i = 0; i < M; i++) {
    const float *l = logits + i * V;
    float *o = dlogits + i * V;
    const f4 zv = splat(lse[i]), gv = splat(dnll[i]);
    int j = 0;
    for (; j + 4 <= V; j += 4) st(o + j, mul(gv, vexp(sub(ld(l + j), zv))));
    for (; j < V; j++) {
      float t[4] = {l[j] - lse[i], -100.0f, -100.0f, -100.0f};
      o[j] = dnll[i] * wasm_f32x4_extract_lane(vexp(ld(t)), 0);
    }
    o[targets[i]] -= dnll[i];
  }
}

/* sum of squares of x[n] (a gradient's contribution to the global norm) */
float sumsq(int n, const float *x) {
  f4 s0 = splat(0.0f), s1 = s0;
  int i = 0;
  for (; i + 8 <= n; i += 8) {
    const f4 a = ld(x + i), b = ld(x + i + 4);
    s0 = add(s0, mul(a, a));
    s1 = add(s1, mul(b, b));
  }
  float r = hsum(add(s0, s1));
  for (; i < n; i++) r += x[i] * x[i];
  return r;
}

/* One AdamW step for one parameter of n floats, as optimizer.ts writes it in tfjs ops:
 *   g' = g * gscale (when clipping); m' = m b1 + g' (1 - b1); v' = v b2 + g'^2 (1 - b2)
 *   p' = p * decay_mul - (m' step_size) / (sqrt(v') / sqrt_bc2 + eps)  */
void adamw(int n, const float *p, const float *g, const float *m, const float *v, float *p_out, float *m_out, float *v_out,
           float gscale, int use_scale, float b1, float omb1, float b2, float omb2, float sqrt_bc2, float eps, float step_size,
           float decay_mul, int use_decay) {
  const f4 gs = splat(gscale), vb1 = splat(b1), vomb1 = splat(omb1), vb2 = splat(b2), vomb2 = splat(omb2);
  const f4 sb = splat(sqrt_bc2), ve = splat(eps), ss = splat(step_size), dm = splat(decay_mul);
  int i = 0;
  for (; i + 4 <= n; i += 4) {
    f4 gg = ld(g + i);
    if (use_scale) gg = mul(gg, gs);
    const f4 mm = add(mul(ld(m + i), vb1), mul(gg, vomb1));
    const f4 vv = add(mul(ld(v + i), vb2), mul(mul(gg, gg), vomb2));
    const f4 denom = add(wasm_f32x4_div(wasm_f32x4_sqrt(vv), sb), ve);
    const f4 upd = wasm_f32x4_div(mul(mm, ss), denom);
    f4 pp = ld(p + i);
    if (use_decay) pp = mul(pp, dm);
    st(m_out + i, mm);
    st(v_out + i, vv);
    st(p_out + i, sub(pp, upd));
  }
  for (; i < n; i++) {
    float gg = g[i];
    if (use_scale) gg = gg * gscale;
    const float mm = m[i] * b1 + gg * omb1;
    const float vv = v[i] * b2 + (gg * gg) * omb2;
    const float upd = (mm * step_size) / (__builtin_sqrtf(vv) / sqrt_bc2 + eps);
    const float pp = use_decay ? p[i] * decay_mul : p[i];
    m_out[i] = mm;
    v_out[i] = vv;
    p_out[i] = pp - upd;
  }
}
