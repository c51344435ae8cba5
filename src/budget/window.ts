/**
 * Budget windows in an IANA time zone, pure given `now` (epoch ms): days start at local midnight (or the first
 * instant of the day when DST skips midnight), weeks on Monday, months on the 1st.
 *
 *   budgetWindow(period, timeZone, now): { start, end }     epoch ms, start <= now < end
 *   isValidTimeZone(timeZone): boolean
 *   startOfLocalDay(timeZone, year, month, day): number      month 1-12; day may overflow (Date.UTC rules)
 */
import type { BudgetPeriod } from '../api/modelbudget.js';
import { TiermeshError } from '../errors.js';

export interface BudgetWindow {
  start: number;
  end: number;
}

const formatters = new Map<string, Intl.DateTimeFormat>();

function formatter(timeZone: string): Intl.DateTimeFormat {
  let f = formatters.get(timeZone);
  if (!f) {
    try {
      f = new Intl.DateTimeFormat('en-US', {
        timeZone,
        hourCycle: 'h23',
        year: 'numeric',
        month: 'numeric',
        day: 'numeric',
        hour: 'numeric',
        minute: 'numeric',
        second: 'numeric',
      });
    } catch {
      throw new TiermeshError('TM_INVALID_CONFIG', `unknown time zone "${timeZone}"`, {
        param: 'window.timezone',
      });
    }
    // Only valid zones are cached, and there are a few hundred of them at most.
    formatters.set(timeZone, f);
  }
  return f;
}

export function isValidTimeZone(timeZone: string): boolean {
  try {
    formatter(timeZone);
    return true;
  } catch {
    return false;
  }
}

interface LocalParts {
  year: number;
  month: number;
  day: number;
  hour: number;
  minute: number;
  second: number;
}

function localParts(timeZone: string, t: number): LocalParts {
  const out: LocalParts = { year: 0, month: 0, day: 0, hour: 0, minute: 0, second: 0 };
  for (const p of formatter(timeZone).formatToParts(t)) {
    if (p.type in out) out[p.type as keyof LocalParts] = Number(p.value);
  }
  return out;
}

/** Local wall time minus UTC at instant t, in ms. */
function offsetAt(timeZone: string, t: number): number {
  const p = localParts(timeZone, t);
  const wall = Date.UTC(p.year, p.month - 1, p.day, p.hour, p.minute, p.second);
  return wall - (t - (((t % 1000) + 1000) % 1000));
}

const HOUR = 3_600_000;

/**
 * The first instant whose local date is the given day. Tries each UTC offset in force around that day: the
 * one that maps to exactly 00:00 wins; if midnight does not exist (DST jumps over it), the earliest instant
 * still on that date is the transition itself.
 */
export function startOfLocalDay(timeZone: string, year: number, month: number, day: number): number {
  const guess = Date.UTC(year, month - 1, day);
  const norm = new Date(guess);
  const target = [norm.getUTCFullYear(), norm.getUTCMonth() + 1, norm.getUTCDate()];
  const offsets = new Set([
    offsetAt(timeZone, guess - 36 * HOUR),
    offsetAt(timeZone, guess),
    offsetAt(timeZone, guess + 36 * HOUR),
  ]);
  let best: number | undefined;
  let bestIsMidnight = false;
  for (const o of offsets) {
    const c = guess - o;
    const p = localParts(timeZone, c);
    if (p.year !== target[0] || p.month !== target[1] || p.day !== target[2]) continue;
    const midnight = p.hour === 0 && p.minute === 0 && p.second === 0;
    if (best === undefined || (midnight && !bestIsMidnight) || (midnight === bestIsMidnight && c < best)) {
      best = c;
      bestIsMidnight = midnight;
    }
  }
  return best ?? guess - offsetAt(timeZone, guess);
}

export function budgetWindow(period: BudgetPeriod, timeZone: string, now: number): BudgetWindow {
  const p = localParts(timeZone, now);
  let from: [number, number, number];
  let to: [number, number, number];
  if (period === 'daily') {
    from = [p.year, p.month, p.day];
    to = [p.year, p.month, p.day + 1];
  } else if (period === 'weekly') {
    const dow = new Date(Date.UTC(p.year, p.month - 1, p.day)).getUTCDay();
    const back = (dow + 6) % 7;
    from = [p.year, p.month, p.day - back];
    to = [p.year, p.month, p.day - back + 7];
  } else {
    from = [p.year, p.month, 1];
    to = [p.year, p.month + 1, 1];
  }
  return { start: startOfLocalDay(timeZone, ...from), end: startOfLocalDay(timeZone, ...to) };
}
