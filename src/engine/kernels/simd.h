/*
 * SIMD helpers shared by the engine's WebAssembly kernels (attention.c, ops.c): 4-lane float
 * vector shorthands and a vectorised exp. Header-only (static inline): no static data.
 */
#ifndef FLOPSFIT_SIMD_H
#define FLOPSFIT_SIMD_H
#include <wasm_simd128.h>

typedef v128_t f4;

static inline f4 splat(float x) { return wasm_f32x4_splat(x); }
static inline f4 ld(const float *p) { return wasm_v128_load(p); }
static inline void st(float *p, f4 v) { wasm_v128_store(p, v); }
static inline f4 add(f4 a, f4 b) { return wasm_f32x4_add(a, b); }
static inline f4 sub(f4 a, f4 b) { return wasm_f32x4_sub(a, b); }
static inline f4 mul(f4 a, f4 b) { return wasm_f32x4_mul(a, b); }
/* acc + a*b: one fused multiply-add in the relaxed-SIMD build (FLOPSFIT_RELAXED), else mul + add */
static inline f4 madd(f4 acc, f4 a, f4 b) {
#ifdef FLOPSFIT_RELAXED
  return __builtin_wasm_relaxed_madd_f32x4(a, b, acc);
#else
  return wasm_f32x4_add(acc, wasm_f32x4_mul(a, b));
#endif
}
static inline float hsum(f4 v) {
  return wasm_f32x4_extract_lane(v, 0) + wasm_f32x4_extract_lane(v, 1) + wasm_f32x4_extract_lane(v, 2) +
         wasm_f32x4_extract_lane(v, 3);
}

/* exp(x) for x <= 87.5 (softmax arguments after subtracting the row max are <= 0); 0 below -87.
 * Cephes-style: x = n ln2 + r, |r| <= ln2/2, degree-6 polynomial, 2^n through the exponent bits.
 * Max relative error about 2 ulp. */
static inline f4 vexp(f4 x) {
  const f4 lo = splat(-87.0f);
  f4 under = wasm_f32x4_lt(x, lo);
  x = wasm_f32x4_max(x, lo);
  /* n = round(x log2 e) by the 1.5 * 2^23 trick: adding it rounds to an integer (to nearest even,
   * like f32x4.nearest) and leaves that integer in the low mantissa bits, so no float-to-int
   * conversion is needed (V8's saturating one is a long instruction sequence on x86). */
  const f4 magic = splat(12582912.0f);
  const f4 t = add(mul(x, splat(1.44269504088896341f)), magic);
  const f4 fx = sub(t, magic);
  x = sub(x, mul(fx, splat(0.693359375f)));
  x = sub(x, mul(fx, splat(-2.12194440e-4f)));
  f4 z = mul(x, x);
  f4 y = splat(1.9875691500E-4f);
  y = add(mul(y, x), splat(1.3981999507E-3f));
  y = add(mul(y, x), splat(8.3334519073E-3f));
  y = add(mul(y, x), splat(4.1665795894E-2f));
  y = add(mul(y, x), splat(1.6666665459E-1f));
  y = add(mul(y, x), splat(5.0000001201E-1f));
  y = add(add(mul(y, z), x), splat(1.0f));
  /* 2^n: the integer n sits in t's bits as 0x4B400000 + n; shift (n + 127) into the exponent */
  v128_t pow2 = wasm_i32x4_shl(wasm_i32x4_add(wasm_i32x4_sub(t, wasm_i32x4_splat(0x4B400000)), wasm_i32x4_splat(127)), 23);
  y = mul(y, pow2);
  return wasm_v128_andnot(y, under);
}

#endif
