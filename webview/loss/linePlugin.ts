/**
 * The loss chart's line plugin: strokes the decimated curves straight onto the canvas inside the
 * plot area (no chart.js point elements), and finds and labels the point under the mouse.
 */
import type { Plugin } from 'chart.js';
import type { Theme } from '../chartKit';
import { si, withAlpha, type XY } from '../logic';
import type { Line, LossSeries } from './seriesStore';

export interface LinePluginHost {
  series: LossSeries;
  isVisible(l: Line): boolean;
  theme(): Theme;
}

/** The plugin, and a way to forget the hovered point (when the series are replaced). */
export function lossLinePlugin(host: LinePluginHost): { plugin: Plugin; clearHover: () => void } {
  let hover: { line: Line; p: XY } | null = null;
  const plugin: Plugin = {
    id: 'flopsfitLossLines',
    afterDatasetsDraw: (chart) => {
      const { ctx, chartArea: area } = chart;
      const xs = chart.scales.x;
      const ys = chart.scales.y;
      if (!area || !xs || !ys) return;
      ctx.save();
      ctx.beginPath();
      ctx.rect(area.left, area.top, area.right - area.left, area.bottom - area.top);
      ctx.clip();
      ctx.lineJoin = 'round';
      // pixel = a + b·T(value), T = log10 on a logarithmic scale (both chart.js scales are
      // affine in T): two calls per axis instead of one getPixelForValue per point
      const xLog = xs.type === 'logarithmic';
      const yLog = ys.type === 'logarithmic';
      const affine = (scale: typeof xs, log: boolean) => {
        const v1 = log ? Math.max(scale.min, Number.MIN_VALUE) : scale.min;
        const v2 = log ? v1 * 10 : scale.min + 1;
        const t1 = log ? Math.log10(v1) : v1;
        const t2 = log ? Math.log10(v2) : v2;
        const p1 = scale.getPixelForValue(v1);
        const b = (scale.getPixelForValue(v2) - p1) / (t2 - t1);
        return { a: p1 - b * t1, b };
      };
      const fx = affine(xs, xLog);
      const fy = affine(ys, yLog);
      // train (faint) first, eval on top
      for (const kind of ['train', 'eval'] as const) {
        for (const l of host.series.lines.values()) {
          const line = l[kind];
          const pts = line.out;
          if (pts.length < 1 || !host.isVisible(line)) continue;
          ctx.strokeStyle = line.color;
          ctx.lineWidth = line.width;
          ctx.beginPath();
          let started = false;
          for (let i = 0; i < pts.length; i++) {
            const p = pts[i];
            const px = fx.a + fx.b * (xLog ? Math.log10(p.x) : p.x);
            const py = fy.a + fy.b * (yLog ? Math.log10(p.y) : p.y);
            if (!Number.isFinite(px) || !Number.isFinite(py)) continue;
            if (started) ctx.lineTo(px, py);
            else {
              ctx.moveTo(px, py);
              ctx.lineTo(px + 0.5, py);
              started = true;
            }
          }
          ctx.stroke();
        }
      }
      const h = hover;
      if (h && host.isVisible(h.line)) {
        const px = xs.getPixelForValue(h.p.x);
        const py = ys.getPixelForValue(h.p.y);
        ctx.fillStyle = h.line.color;
        ctx.beginPath();
        ctx.arc(px, py, 4, 0, Math.PI * 2);
        ctx.fill();
        ctx.restore();
        ctx.save();
        const text = `${h.line.label}: ${h.p.y.toPrecision(4)} at ${si(h.p.x)} tokens`;
        ctx.font = `12px ${host.theme().font}`;
        const w = ctx.measureText(text).width + 12;
        const bx = Math.min(px + 10, area.right - w);
        const by = Math.max(py - 30, area.top);
        ctx.fillStyle = withAlpha(host.theme().bg, 0.92);
        ctx.strokeStyle = withAlpha(host.theme().fg, 0.3);
        ctx.lineWidth = 1;
        ctx.fillRect(bx, by, w, 22);
        ctx.strokeRect(bx, by, w, 22);
        ctx.fillStyle = host.theme().fg;
        ctx.textBaseline = 'middle';
        ctx.fillText(text, bx + 6, by + 11);
      }
      ctx.restore();
    },
    afterEvent: (chart, args) => {
      const e = args.event;
      if (e.type === 'mouseout') {
        if (hover) {
          hover = null;
          args.changed = true;
        }
        return;
      }
      if (e.type !== 'mousemove' || e.x === null || e.y === null) return;
      const xs = chart.scales.x;
      const ys = chart.scales.y;
      let best: { line: Line; p: XY } | null = null;
      let bestD = 64; // (8 px)²
      for (const line of host.series.visibleLines()) {
        for (const p of line.out) {
          const dx = xs.getPixelForValue(p.x) - e.x;
          if (dx * dx > bestD) continue;
          const dy = ys.getPixelForValue(p.y) - e.y;
          const d = dx * dx + dy * dy;
          if (d < bestD) {
            bestD = d;
            best = { line, p };
          }
        }
      }
      if (best?.p !== hover?.p) {
        hover = best;
        args.changed = true;
      }
    },
  };
  return {
    plugin,
    clearHover: () => {
      hover = null;
    },
  };
}
