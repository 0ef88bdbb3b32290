/** The runner's progress lines format numbers with the one shared formatter (src/core/format). */
export { formatCount as fmtCount, formatDuration as fmtDuration, formatFlops as fmtFlops, formatLoss } from '../../core/format';

export function shortId(id: string): string {
  return id.length > 12 ? id.slice(0, 12) : id;
}
