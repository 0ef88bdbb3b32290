/*
 * Fused causal multi-head self-attention, forward and backward, for the FlopsFit engine's wasm/cpu
 * path. Compiled to WebAssembly with SIMD (scripts/build-kernels.sh); no libc, no allocation: the
 * caller (src/engine/kernels/attention.ts) lays out every buffer in this module's linear memory.
 *
 * Layouts (row-major float32):
 *   qkv   [B*T, 3*H*dh]  row (b,t) = [ q(h0) .. q(hH-1) | k(h0) .. | v(h0) .. ], each dh wide
 *                        (exactly the output of the model's fused qkv projection)
 *   y     [B*T, H*dh]    row (b,t) = [ y(h0) .. y(hH-1) ]  (the input of the output projection)
 *   stats [B*H*T*2]      per query row: the softmax row max m and 1/sum(exp(s - m)), saved by the
 *                        forward pass so the backward pass can recompute P without a second sum
 *   dqkv  [B*T, 3*H*dh]  gradient w.r.t. qkv
 * s_ij = scale * q_i.k_j for j <= i (causal), P = softmax_j(s), y_i = sum_j P_ij v_j.
 * The kernels need dh % 4 == 0 (the caller falls back to plain tfjs ops otherwise).
 */
#include "simd.h"

#define MAXV 64 /* vectors of 4 floats per row: dh <= 256 */

/* kt[c*tp + j] = src[j*stride + c] for j < T, 0 for T <= j < tp */
static inline void transpose_head(const float *src, int stride, int T, int tp, int dh, float *kt) {
  for (int c = 0; c < dh; c++) {
    float *row = kt + c * tp;
    for (int j = 0; j < T; j++) row[j] = src[j * stride + c];
    for (int j = T; j < tp; j++) row[j] = 0.0f;
  }
}

/* s[0 .. nv*4) = mult * sum_c a[c] * mat[c*tp + ...] (a row times a [dh, tp] matrix, first nv
 * vectors). Blocked by 4 vectors (16 columns) so the partial sums stay in registers over all c. */
static inline void row_times_t(const float *a, float mult, const float *mat, int tp, int nv, int dh, float *s) {
  const f4 mv = splat(mult);
  int jv = 0;
  for (; jv + 4 <= nv; jv += 4) {
    f4 s0 = splat(0.0f), s1 = s0, s2 = s0, s3 = s0;
    const float *m = mat + 4 * jv;
    for (int c = 0; c < dh; c++, m += tp) {
      const f4 ac = splat(a[c]);
      s0 = madd(s0, ac, ld(m));
      s1 = madd(s1, ac, ld(m + 4));
      s2 = madd(s2, ac, ld(m + 8));
      s3 = madd(s3, ac, ld(m + 12));
    }
    st(s + 4 * jv, mul(s0, mv));
    st(s + 4 * jv + 4, mul(s1, mv));
    st(s + 4 * jv + 8, mul(s2, mv));
    st(s + 4 * jv + 12, mul(s3, mv));
  }
  for (; jv < nv; jv++) {
    f4 s0 = splat(0.0f);
    const float *m = mat + 4 * jv;
    for (int c = 0; c < dh; c++, m += tp) s0 = madd(s0, splat(a[c]), ld(m));
    st(s + 4 * jv, mul(s0, mv));
  }
}

static inline __attribute__((always_inline)) void fwd_impl(const float *qkv, float *y, float *stats, float *scratch,
                                                           int B, int T, int H, const int dh, float scale) {
  const int d = H * dh, ld3 = 3 * d, tp = (T + 3) & ~3, dv = dh / 4;
  float *kt = scratch, *s = scratch + dh * tp;
  for (int b = 0; b < B; b++) {
    const float *base = qkv + (long)b * T * ld3;
    for (int h = 0; h < H; h++) {
      const float *q = base + h * dh, *k = base + d + h * dh, *v = base + 2 * d + h * dh;
      float *st_ = stats + ((long)(b * H + h) * T) * 2;
      transpose_head(k, ld3, T, tp, dh, kt);
      for (int i = 0; i < T; i++) {
        const int n = i + 1, nv = (n + 3) >> 2;
        row_times_t(q + i * ld3, scale, kt, tp, nv, dh, s);
        float m = s[0];
        for (int j = 1; j < n; j++) m = s[j] > m ? s[j] : m;
        for (int j = n; j < 4 * nv; j++) s[j] = -1.0e30f;
        f4 mv = splat(m), sum = splat(0.0f);
        for (int jv = 0; jv < nv; jv++) {
          f4 e = vexp(sub(ld(s + 4 * jv), mv));
          st(s + 4 * jv, e);
          sum = add(sum, e);
        }
        const float inv = 1.0f / hsum(sum);
        f4 acc[MAXV];
        for (int c = 0; c < dv; c++) acc[c] = splat(0.0f);
        for (int j = 0; j < n; j++) {
          const f4 p = splat(s[j]);
          const float *vj = v + j * ld3;
          for (int c = 0; c < dv; c++) acc[c] = madd(acc[c], p, ld(vj + 4 * c));
        }
        float *yi = y + ((long)b * T + i) * d + h * dh;
        const f4 iv = splat(inv);
        for (int c = 0; c < dv; c++) st(yi + 4 * c, mul(acc[c], iv));
        st_[2 * i] = m;
        st_[2 * i + 1] = inv;
      }
    }
  }
}

static inline __attribute__((always_inline)) void bwd_impl(const float *qkv, const float *dy, const float *stats,
                                                           float *dqkv, float *scratch, int B, int T, int H,
                                                           const int dh, float scale) {
  const int d = H * dh, ld3 = 3 * d, tp = (T + 3) & ~3, dv = dh / 4;
  float *kt = scratch, *vt = kt + dh * tp, *pm = vt + dh * tp, *dsm = pm + T * tp;
  for (int b = 0; b < B; b++) {
    const float *base = qkv + (long)b * T * ld3;
    float *gbase = dqkv + (long)b * T * ld3;
    const float *dyb = dy + (long)b * T * d;
    for (int h = 0; h < H; h++) {
      const float *q = base + h * dh, *k = base + d + h * dh, *v = base + 2 * d + h * dh;
      const float *st_ = stats + ((long)(b * H + h) * T) * 2;
      const float *dyh = dyb + h * dh;
      transpose_head(k, ld3, T, tp, dh, kt);
      transpose_head(v, ld3, T, tp, dh, vt);
      for (int i = 0; i < T; i++) {
        const int n = i + 1, nv = (n + 3) >> 2;
        float *p = pm + i * tp, *ds = dsm + i * tp;
        const float *dyi = dyh + (long)i * d;
        row_times_t(q + i * ld3, scale, kt, tp, nv, dh, p);
        const f4 mv = splat(st_[2 * i]), iv = splat(st_[2 * i + 1]);
        for (int jv = 0; jv < nv; jv++) st(p + 4 * jv, mul(vexp(sub(ld(p + 4 * jv), mv)), iv));
        for (int j = n; j < 4 * nv; j++) p[j] = 0.0f;
        row_times_t(dyi, 1.0f, vt, tp, nv, dh, ds);
        f4 dd = splat(0.0f);
        for (int jv = 0; jv < nv; jv++) dd = madd(dd, ld(p + 4 * jv), ld(ds + 4 * jv));
        const f4 D = splat(hsum(dd));
        for (int jv = 0; jv < nv; jv++) st(ds + 4 * jv, mul(ld(p + 4 * jv), sub(ld(ds + 4 * jv), D)));
        /* dq_i = scale * sum_j ds_ij k_j */
        f4 acc[MAXV];
        for (int c = 0; c < dv; c++) acc[c] = splat(0.0f);
        for (int j = 0; j < n; j++) {
          const f4 g = splat(ds[j]);
          const float *kj = k + j * ld3;
          for (int c = 0; c < dv; c++) acc[c] = madd(acc[c], g, ld(kj + 4 * c));
        }
        float *dqi = gbase + (long)i * ld3 + h * dh;
        const f4 sc = splat(scale);
        for (int c = 0; c < dv; c++) st(dqi + 4 * c, mul(acc[c], sc));
      }
      /* dk_j = scale * sum_{i>=j} ds_ij q_i ; dv_j = sum_{i>=j} p_ij dy_i */
      for (int j = 0; j < T; j++) {
        f4 ak[MAXV], av[MAXV];
        for (int c = 0; c < dv; c++) ak[c] = av[c] = splat(0.0f);
        for (int i = j; i < T; i++) {
          const f4 g = splat(dsm[i * tp + j]), pp = splat(pm[i * tp + j]);
          const float *qi = q + (long)i * ld3, *dyi = dyh + (long)i * d;
          for (int c = 0; c < dv; c++) {
            ak[c] = madd(ak[c], g, ld(qi + 4 * c));
            av[c] = madd(av[c], pp, ld(dyi + 4 * c));
          }
        }
        float *dkj = gbase + (long)j * ld3 + d + h * dh, *dvj = gbase + (long)j * ld3 + 2 * d + h * dh;
        const f4 sc = splat(scale);
        for (int c = 0; c < dv; c++) {
          st(dkj + 4 * c, mul(ak[c], sc));
          st(dvj + 4 * c, av[c]);
        }
      }
    }
  }
}

/* Scratch floats needed: forward (dh + 1) * tp; backward 2 * dh * tp + 2 * T * tp (tp = T rounded up to 4). */
__attribute__((export_name("attn_fwd"))) void attn_fwd(const float *qkv, float *y, float *stats, float *scratch, int B,
                                                       int T, int H, int dh, float scale) {
  switch (dh) {
    case 8: fwd_impl(qkv, y, stats, scratch, B, T, H, 8, scale); break;
    case 16: fwd_impl(qkv, y, stats, scratch, B, T, H, 16, scale); break;
    case 32: fwd_impl(qkv, y, stats, scratch, B, T, H, 32, scale); break;
    case 64: fwd_impl(qkv, y, stats, scratch, B, T, H, 64, scale); break;
    default: fwd_impl(qkv, y, stats, scratch, B, T, H, dh, scale); break;
  }
}

__attribute__((export_name("attn_bwd"))) void attn_bwd(const float *qkv, const float *dy, const float *stats,
                                                       float *dqkv, float *scratch, int B, int T, int H, int dh,
                                                       float scale) {
  switch (dh) {
    case 8: bwd_impl(qkv, dy, stats, dqkv, scratch, B, T, H, 8, scale); break;
    case 16: bwd_impl(qkv, dy, stats, dqkv, scratch, B, T, H, 16, scale); break;
    case 32: bwd_impl(qkv, dy, stats, dqkv, scratch, B, T, H, 32, scale); break;
    case 64: bwd_impl(qkv, dy, stats, dqkv, scratch, B, T, H, 64, scale); break;
    default: bwd_impl(qkv, dy, stats, dqkv, scratch, B, T, H, dh, scale); break;
  }
}
