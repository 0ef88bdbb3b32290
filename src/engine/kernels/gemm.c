/*
 * Dense-layer kernels of the FlopsFit engine's wasm path: a packed, register-blocked SGEMM with
 * both transposes and a fused bias, the bias gradient (column sums), and the token+position
 * embedding (gather forward, scatter-add backward). Compiled to WebAssembly SIMD together with
 * attention.c and ops.c by scripts/build-kernels.sh. No libc, no static data, no allocation:
 * the caller (heapKernels.ts) passes every buffer, including the packing workspace, as a byte
 * offset into the imported linear memory (the tfjs wasm backend's heap, so tensors are used in
 * place without copies).
 *
 * Why our own GEMM: tfjs-wasm's XNNPACK path reached about 12 GFLOP/s per call in the engine
 * (its operator is created and its weights repacked on every call), and the transposed forms a
 * backward pass needs fall to a naive loop at about 1 GFLOP/s. This kernel packs op(B) into
 * column panels and reads op(A) in place through row/column strides (so transposes cost nothing
 * extra; packing A measured 4 % slower with cache-cold operands) and runs a 3x12 micro-kernel whose 9 accumulators stay in
 * registers. With relaxed SIMD the multiply-add is one fused instruction where the CPU has FMA.
 */
#include <wasm_simd128.h>

typedef v128_t f4;

#ifdef FLOPSFIT_RELAXED
#define MADD(acc, a, b) __builtin_wasm_relaxed_madd_f32x4((a), (b), (acc))
#else
#define MADD(acc, a, b) wasm_f32x4_add((acc), wasm_f32x4_mul((a), (b)))
#endif

#define MR 3  /* rows of the micro-kernel (measured best of 2..6 x 8..16 on a Xeon: 3 x 12) */
#define NR 12 /* columns: 3 vectors */
#define KC 256
#define MC 128

/* Floats of workspace sgemm needs for an N-column result. */
int gemm_workspace_floats(int N) { return KC * ((N + NR - 1) / NR * NR); }

/* Pack a kc x nc block of op(B) into column panels of NR: dst[(j/NR)*kc*NR + k*NR + j%NR]. */
static void pack_b(int kc, int nc, const float *B, int ldb, int transB, float *dst) {
  for (int jp = 0; jp < nc; jp += NR) {
    int nr = nc - jp < NR ? nc - jp : NR;
    float *d = dst + jp * kc;
    if (!transB) {
      if (nr == NR) {
        for (int k = 0; k < kc; k++, d += NR) {
          const float *s = B + k * ldb + jp;
          for (int v = 0; v < NR; v += 4) wasm_v128_store(d + v, wasm_v128_load(s + v));
        }
      } else {
        for (int k = 0; k < kc; k++, d += NR)
          for (int j = 0; j < NR; j++) d[j] = j < nr ? B[k * ldb + jp + j] : 0.0f;
      }
    } else {
      for (int j = 0; j < NR; j++) {
        if (j < nr) {
          const float *s = B + (jp + j) * ldb;
          for (int k = 0; k < kc; k++) d[k * NR + j] = s[k];
        } else {
          for (int k = 0; k < kc; k++) d[k * NR + j] = 0.0f;
        }
      }
    }
  }
}

#define NV (NR / 4)
/* C[mr, nr] (+)= op(A) rows (element (i, k) at a + i*rs + k*cs) . b-panel over kc; `mode` 0: store, 1: accumulate, 2: store + bias.
 * MR x NV accumulators stay in registers (3 x 3 vectors + 3 for B + 1 for A: 13 of the 16). */
static inline void micro(int kc, const float *a, int rs, int cs, const float *b, float *C, int ldc, int mr, int nr, int mode, const float *bias) {
  f4 c[MR][NV];
  for (int i = 0; i < MR; i++) for (int v = 0; v < NV; v++) c[i][v] = wasm_f32x4_splat(0.0f);
  const float *a1 = a + (mr > 1 ? rs : 0), *a2 = a + (mr > 2 ? 2 * rs : 0);
  for (int k = 0; k < kc; k++, a += cs, a1 += cs, a2 += cs, b += NR) {
    f4 bv[NV];
    for (int v = 0; v < NV; v++) bv[v] = wasm_v128_load(b + 4 * v);
    const float *ap[3] = {a, a1, a2};
    for (int i = 0; i < MR; i++) {
      const f4 ai = wasm_v128_load32_splat(ap[i]);
      for (int v = 0; v < NV; v++) c[i][v] = MADD(c[i][v], ai, bv[v]);
    }
  }
  float tmp[NR];
  for (int i = 0; i < mr; i++) {
    float *cc = C + i * ldc;
    for (int v = 0; v < NV; v++) wasm_v128_store(tmp + 4 * v, c[i][v]);
    for (int j = 0; j < nr; j++) cc[j] = mode == 1 ? cc[j] + tmp[j] : mode == 2 ? tmp[j] + bias[j] : tmp[j];
  }
}

/*
 * C[M,N] = op(A)[M,K] . op(B)[K,N] (+ bias[N] when bias != 0; accumulate into C when accum),
 * row-major. op(A) = A (lda = K) or A^T (A stored [K,M], lda = M); likewise op(B).
 * work: gemm_workspace_floats(N) floats, 16-byte aligned. C must not alias A or B.
 */
void sgemm(int M, int N, int K, const float *A, int lda, int transA, const float *B, int ldb, int transB,
           float *C, int ldc, const float *bias, int accum, float *work) {
  float *pb = work;
  if (K == 0) {
    for (int i = 0; i < M; i++)
      for (int j = 0; j < N; j++) C[i * ldc + j] = (accum ? C[i * ldc + j] : 0.0f) + (bias ? bias[j] : 0.0f);
    return;
  }
  for (int kk = 0; kk < K; kk += KC) {
    int kc = K - kk < KC ? K - kk : KC;
    pack_b(kc, N, transB ? B + kk : B + kk * ldb, ldb, transB, pb);
    int mode = (accum || kk > 0) ? 1 : bias ? 2 : 0;
    for (int ii = 0; ii < M; ii += MC) {
      int mc = M - ii < MC ? M - ii : MC;
      const float *ab = transA ? A + kk * lda + ii : A + ii * lda + kk;
      const int rs = transA ? 1 : lda, cs = transA ? lda : 1;
      for (int jp = 0; jp < N; jp += NR) {
        int nr = N - jp < NR ? N - jp : NR;
        const float *bj = bias ? bias + jp : 0;
        for (int ip = 0; ip < mc; ip += MR) {
          int mr = mc - ip < MR ? mc - ip : MR;
          micro(kc, ab + ip * rs, rs, cs, pb + jp * kc, C + (ii + ip) * ldc + jp, ldc, mr, nr, mode, bj);
        }
      }
    }
  }
  if (accum && bias) /* bias on top of an accumulated product: once, at the end */
    for (int i = 0; i < M; i++)
      for (int j = 0; j < N; j++) C[i * ldc + j] += bias[j];
}

/* out[N] = sum over rows of X[M,N] (the bias gradient), row by row so X is read in order. */
void colsum(int M, int N, const float *X, float *out) {
  for (int j = 0; j < N; j++) out[j] = 0.0f;
  for (int i = 0; i < M; i++) {
    const float *x = X + i * N;
    int j = 0;
    for (; j + 4 <= N; j += 4) wasm_v128_store(out + j, wasm_f32x4_add(wasm_v128_load(out + j), wasm_v128_load(x + j)));
    for (; j < N; j++) out[j] += x[j];
  }
}

/* out[n, d] = wte[ids[n]] + wpe[n % T] for n < rows (ids already checked to be < V). */
void embed_fwd(int rows, int T, int d, const int *ids, const float *wte, const float *wpe, float *out) {
  for (int n = 0; n < rows; n++) {
    const float *a = wte + ids[n] * d, *p = wpe + (n % T) * d;
    float *o = out + n * d;
    int c = 0;
    for (; c + 4 <= d; c += 4) wasm_v128_store(o + c, wasm_f32x4_add(wasm_v128_load(a + c), wasm_v128_load(p + c)));
    for (; c < d; c++) o[c] = a[c] + p[c];
  }
}

/* dwte[V, d] = scatter-add of dy rows by ids; dwpe[Tp, d] = sum of dy rows by position (n % T),
 * rows Tp > T stay zero (the positions a shorter batch did not use). */
void embed_bwd(int rows, int T, int d, int V, int Tp, const int *ids, const float *dy, float *dwte, float *dwpe) {
  for (int i = 0; i < V * d; i++) dwte[i] = 0.0f;
  for (int i = 0; i < Tp * d; i++) dwpe[i] = 0.0f;
  for (int n = 0; n < rows; n++) {
    const float *g = dy + n * d;
    float *a = dwte + ids[n] * d, *p = dwpe + (n % T) * d;
    int c = 0;
    for (; c + 4 <= d; c += 4) {
      const f4 v = wasm_v128_load(g + c);
      wasm_v128_store(a + c, wasm_f32x4_add(wasm_v128_load(a + c), v));
      wasm_v128_store(p + c, wasm_f32x4_add(wasm_v128_load(p + c), v));
    }
    for (; c < d; c++) {
      a[c] += g[c];
      p[c] += g[c];
    }
  }
}
