/** A trailing-edge debounce with `dispose()` (the sweep service's config, run and metrics readers). */
export type Debounced = { (): void; dispose(): void };

export function debounce(ms: number, fn: () => void): Debounced {
  let t: NodeJS.Timeout | undefined;
  const f = (() => {
    if (t) clearTimeout(t);
    t = setTimeout(() => {
      t = undefined;
      fn();
    }, ms);
  }) as Debounced;
  f.dispose = () => {
    if (t) clearTimeout(t);
    t = undefined;
  };
  return f;
}
