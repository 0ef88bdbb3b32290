import { strict as assert } from 'node:assert';
import { parseSweepConfig } from '../../src/core/config';
import { sweepTemplate, validateSweepName, type TemplateSource } from '../../src/extension/newSweep/sweepTemplate';

describe('New Sweep template', () => {
  const sources: TemplateSource[] = [
    { source: 'synthetic' },
    { source: 'text', path: 'data/shakespeare.txt' },
    { source: 'uint16', path: 'tokens/train "a".bin', vocabSize: 50257 },
  ];
  for (const data of sources) {
    it(`validates with no diagnostics for source ${data.source}`, () => {
      const text = sweepTemplate({ name: 'my-sweep', data });
      const r = parseSweepConfig(text, 'my-sweep.sweep.yaml');
      assert.deepEqual(
        r.diagnostics.filter((d) => d.severity === 'error').map((d) => `${d.range.start.line + 1}: ${d.message}`),
        [],
      );
      assert.ok(r.config, 'the template parses to a config');
      assert.equal(r.config.name, 'my-sweep');
      assert.equal(r.config.data.source, data.source);
      if (data.source !== 'synthetic') assert.equal((r.config.data as { path: string }).path, data.path);
      assert.ok(/^# /m.test(text), 'the template is commented');
    });
  }

  it('rejects names that cannot be file names', () => {
    assert.equal(validateSweepName('ok_name-1.2'), undefined);
    assert.ok(validateSweepName(''));
    assert.ok(validateSweepName('../evil'));
    assert.ok(validateSweepName('with space'));
    assert.ok(validateSweepName('-leading'));
  });
});
