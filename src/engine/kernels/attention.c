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
 *
 * Every product is a call of gemm.c's packed SGEMM on a causal block: the rows of a head are taken
 * in chunks of RB, and a chunk [r0, r1) only multiplies against keys [0, r1). That is 5/8 of the
 * full T x T work at T = 4 RB, at GEMM speed (about 3x the row-at-a-time loops this replaced).
 * Forward, per (sequence, head) and row chunk:
 *   S = Q K^T (scaled), P = softmax over j <= i (masked entries 0), Y = P V
 * Backward (P recomputed from the saved row max and 1/sum):
 *   dP = dY V^T, dS = P o (dP - rowsum(P o dP)) * scale, dQ = dS K, then per column chunk
 *   dK = dS^T Q and dV = P^T dY over the rows at or below the chunk.
 */
#include "simd.h"



#define RB 32 /* rows per causal chunk */

void sgemm(int M, int N, int K, const float *A, int lda, int transA, const float *B, int ldb, int transB, float *C,
           int ldc, const float *bias, int accum, float *work);
int gemm_workspace_floats(int N);

static inline int round4(int n) { return (n + 3) & ~3; }

/* Floats of scratch attn_fwd (backward = 0) or attn_bwd (backward = 1) needs. */
__attribute__((export_name("attn_scratch_floats"))) int attn_scratch_floats(int T, int dh, int backward) {
  const int tp = round4(T), n = T > dh ? T : dh;
  return (backward ? 2 * T * tp : RB * tp) + gemm_workspace_floats(n) + 16;
}

/* p[0..r1) of one row i from the raw scores s (already scaled): exp(s - m) * inv for j <= i, 0 after */
static inline void softmax_row(float *p, int i, int r1, float *m_out, float *inv_out) {
  const int n = i + 1;
  float m = p[0];
  for (int j = 1; j < n; j++) m = p[j] > m ? p[j] : m;
  const f4 mv = splat(m);
  f4 sum = splat(0.0f);
  int j = 0;
  for (; j + 4 <= n; j += 4) {
    const f4 e = vexp(sub(ld(p + j), mv));
    st(p + j, e);
    sum = add(sum, e);
  }
  float tail = 0.0f;
  for (; j < n; j++) {
    float t[4] = {p[j] - m, -100.0f, -100.0f, -100.0f};
    p[j] = wasm_f32x4_extract_lane(vexp(ld(t)), 0);
    tail += p[j];
  }
  const float inv = 1.0f / (hsum(sum) + tail);
  const f4 iv = splat(inv);
  j = 0;
  for (; j + 4 <= n; j += 4) st(p + j, mul(ld(p + j), iv));
  for (; j < n; j++) p[j] *= inv;
  for (j = n; j < r1; j++) p[j] = 0.0f;
  *m_out = m;
  *inv_out = inv;
}

/* p[0..r1) = exp(s - m) * inv for j <= i (s raw scaled scores), 0 after: P as the forward made it */
static inline void recompute_row(float *p, int i, int r1, float m, float inv) {
  const int n = i + 1;
  const f4 mv = splat(m), iv = splat(inv);
  int j = 0;
  for (; j + 4 <= n; j += 4) st(p + j, mul(vexp(sub(ld(p + j), mv)), iv));
  for (; j < n; j++) {
    float t[4] = {p[j] - m, -100.0f, -100.0f, -100.0f};
    p[j] = wasm_f32x4_extract_lane(vexp(ld(t)), 0) * inv;
  }
  for (j = n; j < r1; j++) p[j] = 0.0f;
}

static inline void scale_rows(float *s, int rows, int cols, int stride, float scale) {
  const f4 sv = splat(scale);
  for (int i = 0; i < rows; i++) {
    float *r = s + i * stride;
    int j = 0;
    for (; j + 4 <= cols; j += 4) st(r + j, mul(ld(r + j), sv));
    for (; j < cols; j++) r[j] *= scale;
  }
}

__attribute__((export_name("attn_fwd"))) void attn_fwd(const float *qkv, float *y, float *stats, float *scratch, int B,
                                                       int T, int H, int dh, float scale) {
  const int d = H * dh, ld3 = 3 * d, tp = round4(T);
  float *s = scratch, *work = scratch + RB * tp;
  for (int b = 0; b < B; b++) {
    const float *base = qkv + (long)b * T * ld3;
    for (int h = 0; h < H; h++) {
      const float *q = base + h * dh, *k = base + d + h * dh, *v = base + 2 * d + h * dh;
      float *st_ = stats + ((long)(b * H + h) * T) * 2;
      float *yh = y + (long)b * T * d + h * dh;
      for (int r0 = 0; r0 < T; r0 += RB) {
        const int r1 = r0 + RB < T ? r0 + RB : T, m = r1 - r0;
        sgemm(m, r1, dh, q + (long)r0 * ld3, ld3, 0, k, ld3, 1, s, tp, 0, 0, work);
        scale_rows(s, m, r1, tp, scale);
        for (int i = r0; i < r1; i++) softmax_row(s + (i - r0) * tp, i, r1, st_ + 2 * i, st_ + 2 * i + 1);
        sgemm(m, dh, r1, s, tp, 0, v, ld3, 0, yh + (long)r0 * d, d, 0, 0, work);
      }
    }
  }
}

__attribute__((export_name("attn_bwd"))) void attn_bwd(const float *qkv, const float *dy, const float *stats,
                                                       float *dqkv, float *scratch, int B, int T, int H, int dh,
                                                       float scale) {
  const int d = H * dh, ld3 = 3 * d, tp = round4(T);
  float *pm = scratch, *dsm = pm + T * tp, *work = dsm + T * tp;
  for (int b = 0; b < B; b++) {
    const float *base = qkv + (long)b * T * ld3;
    float *gbase = dqkv + (long)b * T * ld3;
    const float *dyh0 = dy + (long)b * T * d;
    for (int h = 0; h < H; h++) {
      const float *q = base + h * dh, *k = base + d + h * dh, *v = base + 2 * d + h * dh;
      const float *st_ = stats + ((long)(b * H + h) * T) * 2;
      const float *dyh = dyh0 + h * dh;
      float *dq = gbase + h * dh, *dk = gbase + d + h * dh, *dv = gbase + 2 * d + h * dh;
      for (int r0 = 0; r0 < T; r0 += RB) {
        const int r1 = r0 + RB < T ? r0 + RB : T, m = r1 - r0;
        float *p = pm + r0 * tp, *ds = dsm + r0 * tp;
        sgemm(m, r1, dh, q + (long)r0 * ld3, ld3, 0, k, ld3, 1, p, tp, 0, 0, work);
        scale_rows(p, m, r1, tp, scale);
        for (int i = r0; i < r1; i++) recompute_row(p + (i - r0) * tp, i, r1, st_[2 * i], st_[2 * i + 1]);
        sgemm(m, r1, dh, dyh + (long)r0 * d, d, 0, v, ld3, 1, ds, tp, 0, 0, work); /* dP */
        for (int i = 0; i < m; i++) {
          float *pr = p + i * tp, *dr = ds + i * tp;
          const int n = r0 + i + 1;
          f4 acc = splat(0.0f);
          int j = 0;
          for (; j + 4 <= n; j += 4) acc = madd(acc, ld(pr + j), ld(dr + j));
          float D = hsum(acc);
          for (; j < n; j++) D += pr[j] * dr[j];
          const f4 Dv = splat(D), sc = splat(scale);
          j = 0;
          for (; j + 4 <= n; j += 4) st(dr + j, mul(mul(ld(pr + j), sub(ld(dr + j), Dv)), sc));
          for (; j < n; j++) dr[j] = pr[j] * (dr[j] - D) * scale;
          for (j = n; j < r1; j++) dr[j] = 0.0f;
        }
        sgemm(m, dh, r1, ds, tp, 0, k, ld3, 0, dq + (long)r0 * ld3, ld3, 0, 0, work); /* dQ = dS K */
      }
      for (int c0 = 0; c0 < T; c0 += RB) {
        const int c1 = c0 + RB < T ? c0 + RB : T, n = c1 - c0, rows = T - c0;
        /* dK[c0:c1] = dS[c0:T, c0:c1]^T Q[c0:T];  dV[c0:c1] = P[c0:T, c0:c1]^T dY[c0:T] */
        sgemm(n, dh, rows, dsm + c0 * tp + c0, tp, 1, q + (long)c0 * ld3, ld3, 0, dk + (long)c0 * ld3, ld3, 0, 0, work);
        sgemm(n, dh, rows, pm + c0 * tp + c0, tp, 1, dyh + (long)c0 * d, d, 0, dv + (long)c0 * ld3, ld3, 0, 0, work);
      }
    }
  }
}
