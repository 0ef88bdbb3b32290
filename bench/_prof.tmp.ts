import { openWebviewPage } from './webviewPage';
import { synthPlan } from './webviewFixture';
import { defaultWebviewState } from '../src/shared/protocol';
(async () => {
  const s = defaultWebviewState(); s.tab = 'loss';
  const p = await openWebviewPage({ state: s });
  const plan = synthPlan({ sweep: 'b', runDir: '/r', configPath: '/c', budgets: [1e15,3e15,1e16,3e16,1e17], sizesPerBudget: 20 });
  await p.send({ type: 'snapshot', snapshot: { sweep: 'b', configUri: 'file:///c', phase: 'running', plan, manifest: null, results: [], fit: null, series: [], problems: [] } });
  const E = Number(process.argv[2] ?? 100), P = Number(process.argv[3] ?? 10000);
  const exps = plan.experiments.slice(0, E).map((e) => ({ id: e.id, N: e.params, D: e.tokens }));
  const gen = `(function(exps, P, from, to){ var series = exps.map(function(e){ var tokens=[],step=[],train=[],ev=[]; for (var k=from+1;k<=to;k++){ var tk=e.D*k/P; var l=1.2+40/Math.pow(e.N,.34)+90/Math.pow(tk,.28); tokens.push(tk); step.push(k); train.push(l*(1+0.03*(Math.random()-.5))); ev.push(k%10?null:l);} return {id:e.id,tokens:tokens,step:step,train:train,eval:ev}; }); var t=performance.now(); window.postMessage({type:'append', series: series}, '*'); return 0; })`;
  const stats = `(() => { const lc = __flopsfit.lossChart; let d = 0; for (const ds of lc.managed.chart.data.datasets) d += ds.data.length; return { flushes: lc.flushes, flushMs: lc.flushMs, updateMs: lc.updateMs, drawn: d }; })()`;
  let t = Date.now();
  await p.page.evaluate(`${gen}(${JSON.stringify(exps)}, ${P}, 0, ${P - 200})`);
  await p.page.waitForTimeout(50);
  const r0: any = await p.page.evaluate(stats);
  console.log('initial', Date.now() - t, 'ms', r0);
  for (let i = 0; i < 20; i++) {
    await p.page.evaluate(`${gen}(${JSON.stringify(exps)}, ${P}, ${P - 200 + i * 10}, ${P - 200 + i * 10 + 10})`);
    await p.page.waitForTimeout(20);
  }
  const r2: any = await p.page.evaluate(stats);
  console.log('incremental per flush', ((r2.flushMs - r0.flushMs) / (r2.flushes - r0.flushes)).toFixed(1), 'update part', ((r2.updateMs - r0.updateMs) / (r2.flushes - r0.flushes)).toFixed(1), 'flushes', r2.flushes - r0.flushes, 'drawn', r2.drawn);
  const split = await p.page.evaluate(`(() => { const c = __flopsfit.lossChart.managed.chart; let t = performance.now(); for (let i=0;i<5;i++) c.draw(); const draw = (performance.now()-t)/5; t = performance.now(); for (let i=0;i<5;i++) c.update('none'); const upd = (performance.now()-t)/5; return { draw, upd }; })()`);
  console.log('split', split);
  await p.page.screenshot({ path: '/tmp/prof.png' });
  await p.close();
})();
// appended: split timing
