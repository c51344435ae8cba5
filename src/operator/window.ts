/** Pure: when the current budget window (daily, weekly from Monday, monthly) started, in the budget's time zone. */
import type { BudgetPeriod } from '../api/modelbudget.js';

interface LocalParts {
  year: number;
  month: number;
  day: number;
  weekday: number;
}

const formatters = new Map<string, Intl.DateTimeFormat>();

function formatter(timeZone: string): Intl.DateTimeFormat {
  let f = formatters.get(timeZone);
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', {
      timeZone,
      hourCycle: 'h23',
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      hour: 'numeric',
      minute: 'numeric',
      second: 'numeric',
      weekday: 'short',
    });
    formatters.set(timeZone, f);
  }
  return f;
}

const WEEKDAYS: Record<string, number> = { Mon: 0, Tue: 1, Wed: 2, Thu: 3, Fri: 4, Sat: 5, Sun: 6 };

function localParts(
  at: Date,
  timeZone: string,
): LocalParts & { hour: number; minute: number; second: number } {
  const parts = Object.fromEntries(
    formatter(timeZone)
      .formatToParts(at)
      .map((p) => [p.type, p.value]),
  );
  return {
    year: Number(parts['year']),
    month: Number(parts['month']),
    day: Number(parts['day']),
    hour: Number(parts['hour']),
    minute: Number(parts['minute']),
    second: Number(parts['second']),
    weekday: WEEKDAYS[parts['weekday'] ?? 'Mon'] ?? 0,
  };
}

/** Offset (ms) of `timeZone` from UTC at instant `at`. */
function offsetMs(at: Date, timeZone: string): number {
  const p = localParts(at, timeZone);
  const asUtc = Date.UTC(p.year, p.month - 1, p.day, p.hour, p.minute, p.second);
  return asUtc - Math.floor(at.getTime() / 1000) * 1000;
}

/** The UTC instant of local midnight on a calendar date in `timeZone` (two passes settle DST changes). */
function localMidnight(year: number, month: number, day: number, timeZone: string): Date {
  const naive = Date.UTC(year, month - 1, day);
  let t = naive - offsetMs(new Date(naive), timeZone);
  t = naive - offsetMs(new Date(t), timeZone);
  return new Date(t);
}

export function windowStart(period: BudgetPeriod, timeZone: string, now: Date): Date {
  const p = localParts(now, timeZone);
  if (period === 'monthly') return localMidnight(p.year, p.month, 1, timeZone);
  if (period === 'weekly') {
    const d = new Date(Date.UTC(p.year, p.month - 1, p.day - p.weekday));
    return localMidnight(d.getUTCFullYear(), d.getUTCMonth() + 1, d.getUTCDate(), timeZone);
  }
  return localMidnight(p.year, p.month, p.day, timeZone);
}
