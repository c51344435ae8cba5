/** Number formatting for the report: fixed decimals, and a dash where there is no measurement. */

export function ms(x: number | undefined): string {
  return x === undefined || !Number.isFinite(x) ? '–' : x.toFixed(1);
}

/** Signed difference in ms, e.g. `+1.4`. */
export function deltaMs(x: number | undefined, base: number | undefined): string {
  if (x === undefined || base === undefined || !Number.isFinite(x) || !Number.isFinite(base)) return '–';
  const d = x - base;
  return `${d >= 0 ? '+' : '−'}${Math.abs(d).toFixed(1)}`;
}

export function times(x: number): string {
  if (!Number.isFinite(x)) return '–';
  return `${x >= 10 ? x.toFixed(0) : x.toFixed(2)}×`;
}

export function mib(kib: number | undefined): string {
  return kib === undefined || !Number.isFinite(kib) ? '–' : (kib / 1024).toFixed(0);
}

export function int(x: number | undefined): string {
  return x === undefined || !Number.isFinite(x) ? '–' : Math.round(x).toString();
}
