import { strict as assert } from 'node:assert';
import { formatCount, formatDuration, formatFlops, formatLoss, formatValue, statusText } from '../../src/extension/format';

describe('explorer formatting', () => {
  it('formats FLOPs as mantissa e exponent', () => {
    assert.equal(formatFlops(1e15), '1.0e15');
    assert.equal(formatFlops(3.2e17), '3.2e17');
    assert.equal(formatFlops(2.99e11), '3.0e11');
    assert.equal(formatFlops(5e-3), '5.0e-3');
    assert.equal(formatFlops(0), '0');
  });

  it('formats counts with SI prefixes (k/M/G/T) and no trailing zeros', () => {
    assert.equal(formatCount(999), '999');
    assert.equal(formatCount(1234), '1.23k');
    assert.equal(formatCount(25_600_000), '25.6M');
    assert.equal(formatCount(3_000_000_000), '3G');
    assert.equal(formatCount(123_456_789), '123M');
    assert.equal(formatCount(2.5e12), '2.5T');
  });

  it('formats durations compactly', () => {
    assert.equal(formatDuration(42), '42s');
    assert.equal(formatDuration(240), '4m');
    assert.equal(formatDuration(270), '4m 30s');
    assert.equal(formatDuration(1500), '25m');
    assert.equal(formatDuration(4800), '1h 20m');
    assert.equal(formatDuration(3 * 86400 + 7200), '3d 2h');
    assert.equal(formatDuration(-1), '–');
    assert.equal(formatDuration(Number.NaN), '–');
  });

  it('formats losses and hyperparameter values', () => {
    assert.equal(formatLoss(2.87349), '2.8735');
    assert.equal(formatValue(3e-4), '3e-4');
    assert.equal(formatValue(0.001), '1e-3');
    assert.equal(formatValue(64), '64');
    assert.equal(formatValue(0.1), '0.1');
    assert.equal(formatValue('adam'), 'adam');
    assert.equal(formatValue(true), 'true');
  });

  it('status-bar text shows done/total and the ETA', () => {
    assert.equal(statusText(3, 12, 240), '$(loading~spin) FlopsFit 3/12 · ETA 4m');
    assert.equal(statusText(0, 5, undefined), '$(loading~spin) FlopsFit 0/5');
  });
});
