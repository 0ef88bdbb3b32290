/** The extension host's one validation per config text (src/extension/sweeps/validations.ts). */
import * as assert from 'node:assert/strict';
import { Validations } from '../../src/extension/sweeps/validations';

const TEXT = 'name: v\nbudgets: [1e12, 3e12]\n';

describe('validations: one plan per config text', () => {
  it('computes a text once for the diagnostics and the sweep service, again only when it changes', () => {
    const v = new Validations();
    const opts = { configPath: '/w/v.sweep.yaml', workspaceRoot: '/w' };
    const a = v.validate('file:///w/v.sweep.yaml', TEXT, '/w/v.sweep.yaml', opts);
    const b = v.validate('file:///w/v.sweep.yaml', TEXT, '/w/v.sweep.yaml', { ...opts });
    assert.equal(a, b, 'the same result object: planned once');
    assert.equal(v.computed, 1);
    assert.ok(a.plan && a.plan.experiments.length > 0);
    const c = v.validate('file:///w/v.sweep.yaml', TEXT.replace('3e12', '1e13'), '/w/v.sweep.yaml', opts);
    assert.notEqual(c, a);
    assert.equal(v.computed, 2);
    // counted sizes (a command trainer) are another state of the same text
    v.validate('file:///w/v.sweep.yaml', TEXT, '/w/v.sweep.yaml', { ...opts, countParams: () => 1 });
    assert.equal(v.computed, 3);
    v.clear();
    v.validate('file:///w/v.sweep.yaml', TEXT, '/w/v.sweep.yaml', opts);
    assert.equal(v.computed, 4, 'Refresh Sweeps forgets them');
  });
});
