import * as assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  bucketGeometry,
  budgetColor,
  decimate,
  duration,
  Ema,
  emaSeries,
  identityTransform,
  log10Transform,
  logspace,
  MinMaxDecimator,
  parabolaAt,
  parseColor,
  powerLawAt,
  sci,
  si,
  type XY,
} from '../../webview/logic';

describe('webview logic: EMA smoothing', () => {
  it('weight 0 is the identity', () => {
    assert.deepEqual(emaSeries([3, 1, 4, 1, 5], 0), [3, 1, 4, 1, 5]);
  });

  it('is debiased: a constant series stays constant from the first point', () => {
    for (const y of emaSeries([2.5, 2.5, 2.5, 2.5], 0.9)) assert.ok(Math.abs(y - 2.5) < 1e-12);
  });

  it('matches the closed form s_t = Σ w^(t-i)(1-w) y_i / (1 - w^t)', () => {
    const ys = [4, 3, 3.5, 2, 2.2];
    const w = 0.6;
    const got = emaSeries(ys, w);
    ys.forEach((_, t) => {
      let acc = 0;
      for (let i = 0; i <= t; i++) acc += Math.pow(w, t - i) * (1 - w) * ys[i];
      assert.ok(Math.abs(got[t] - acc / (1 - Math.pow(w, t + 1))) < 1e-12);
    });
  });

  it('incremental feeding equals the batch result', () => {
    const e = new Ema(0.8);
    const inc = [1, 5, 2, 8].map((y) => e.next(y));
    assert.deepEqual(inc, emaSeries([1, 5, 2, 8], 0.8));
  });
});

describe('webview logic: min-max decimation', () => {
  it('width 0 keeps every point (the benchmark reference)', () => {
    const xs = [1, 2, 3, 4];
    const ys = [4, 3, 2, 1];
    assert.deepEqual(
      decimate(xs, ys, identityTransform, 0, 0).map((p) => [p.x, p.y]),
      xs.map((x, i) => [x, ys[i]]),
    );
  });

  it('keeps first, min, max and last of a bucket, in order', () => {
    // one bucket: all x in [0, 10)
    const out = decimate([0, 1, 2, 3, 4], [5, 9, 1, 6, 7], identityTransform, 0, 10);
    assert.deepEqual(
      out.map((p) => [p.x, p.y]),
      [
        [0, 5],
        [1, 9],
        [2, 1],
        [4, 7],
      ],
    );
  });

  it('skips nulls and non-positive x on a log axis', () => {
    const out = decimate([0, 10, 100], [1, null, 3], log10Transform, 0, 0.5);
    assert.deepEqual(out, [{ x: 100, y: 3 }]);
  });

  it('property: incremental output equals batch output, stays sorted and bounded, and keeps every bucket extreme', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.double({ min: 0, max: 5, noNaN: true }), fc.double({ min: -100, max: 100, noNaN: true })), { minLength: 1, maxLength: 400 }), fc.integer({ min: 1, max: 50 }), (pts, buckets) => {
        const sorted = [...pts].sort((a, b) => a[0] - b[0]);
        const xs = sorted.map((p) => Math.pow(10, p[0]));
        const ys = sorted.map((p) => p[1]);
        const g = bucketGeometry(1, 1e5, buckets, log10Transform);
        const batch = decimate(xs, ys, log10Transform, g.origin, g.width);
        // incremental in random chunk sizes, into the same array (in place)
        const out: XY[] = [];
        const d = new MinMaxDecimator(log10Transform, g.origin, g.width, out);
        xs.forEach((x, i) => d.push(x, ys[i]));
        assert.deepEqual(out, batch);
        for (let i = 1; i < out.length; i++) assert.ok(out[i].x >= out[i - 1].x);
        const nb = new Set(xs.map((x) => Math.floor((Math.log10(x) - g.origin) / g.width))).size;
        assert.ok(out.length <= 4 * nb);
        // per bucket: the min and max of the raw points are present
        const byBucket = new Map<number, number[]>();
        xs.forEach((x, i) => {
          const b = Math.floor((Math.log10(x) - g.origin) / g.width);
          byBucket.set(b, [...(byBucket.get(b) ?? []), ys[i]]);
        });
        const outYs = new Set(out.map((p) => p.y));
        for (const v of byBucket.values()) {
          assert.ok(outYs.has(Math.min(...v)));
          assert.ok(outYs.has(Math.max(...v)));
        }
      }),
      { numRuns: 200 },
    );
  });

  it('bucketGeometry: pixel-wide buckets over the transformed range, none for an empty range', () => {
    assert.deepEqual(bucketGeometry(10, 1000, 100, log10Transform), { origin: 1, width: 0.02 });
    assert.deepEqual(bucketGeometry(5, 5, 100, identityTransform), { origin: 0, width: 0 });
    assert.deepEqual(bucketGeometry(0, 10, 100, log10Transform), { origin: 0, width: 0 });
  });
});

describe('webview logic: colours and formatting', () => {
  it('parses theme colours', () => {
    assert.deepEqual(parseColor('#3794ff'), [0x37, 0x94, 0xff, 1]);
    assert.deepEqual(parseColor('#fff'), [255, 255, 255, 1]);
    assert.deepEqual(parseColor('rgba(1, 2, 3, 0.5)'), [1, 2, 3, 0.5]);
    assert.equal(parseColor('var(--x)'), undefined);
  });

  it('budget colours run along the palette in order, and interpolate past its length', () => {
    const pal = ['#000000', '#ffffff'];
    assert.equal(budgetColor(0, 2, pal), '#000000');
    assert.equal(budgetColor(1, 2, pal), '#ffffff');
    assert.equal(budgetColor(1, 3, pal), 'rgb(128, 128, 128)');
    assert.equal(budgetColor(0, 1, pal), '#000000');
  });

  it('formats numbers', () => {
    assert.equal(si(1234567), '1.23M');
    assert.equal(si(950), '950');
    assert.equal(si(undefined), '–');
    assert.equal(sci(1e18), '1.0e18');
    assert.equal(duration(59), '59s');
    assert.equal(duration(3700), '1h 2m');
    assert.equal(duration(Number.NaN), '–');
  });

  it('logspace, parabola and power law', () => {
    const xs = logspace(1, 1000, 4);
    assert.deepEqual(
      xs.map((x) => Math.round(x)),
      [1, 10, 100, 1000],
    );
    // loss = 2 + (ln N - ln 100)²
    const p = { center: Math.log(100), p0: 2, p1: 0, p2: 1 };
    assert.equal(parabolaAt(p, 100), 2);
    assert.ok(Math.abs(parabolaAt(p, 100 * Math.E) - 3) < 1e-12);
    assert.ok(Math.abs(powerLawAt(Math.log(3), 0.5, 16) - 12) < 1e-9);
  });
});
