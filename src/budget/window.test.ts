import { describe, expect, it } from 'vitest';
import { isTiermeshError } from '../errors.js';
import { budgetWindow, isValidTimeZone, startOfLocalDay } from './window.js';

const iso = (t: number) => new Date(t).toISOString();
const at = (s: string) => Date.parse(s);

describe('budgetWindow in UTC', () => {
  it('daily windows run midnight to midnight', () => {
    const w = budgetWindow('daily', 'UTC', at('2026-03-15T13:45:00Z'));
    expect([iso(w.start), iso(w.end)]).toEqual(['2026-03-15T00:00:00.000Z', '2026-03-16T00:00:00.000Z']);
  });

  it('the window start belongs to the window, its end to the next', () => {
    const start = at('2026-03-15T00:00:00Z');
    expect(budgetWindow('daily', 'UTC', start).start).toBe(start);
    expect(budgetWindow('daily', 'UTC', start - 1).end).toBe(start);
  });

  it('weeks start on Monday, including when today is Sunday or Monday', () => {
    // 2026-03-15 is a Sunday.
    const sun = budgetWindow('weekly', 'UTC', at('2026-03-15T23:59:59Z'));
    expect([iso(sun.start), iso(sun.end)]).toEqual(['2026-03-09T00:00:00.000Z', '2026-03-16T00:00:00.000Z']);
    const mon = budgetWindow('weekly', 'UTC', at('2026-03-16T00:00:00Z'));
    expect(iso(mon.start)).toBe('2026-03-16T00:00:00.000Z');
  });

  it('weeks span month and year ends', () => {
    const w = budgetWindow('weekly', 'UTC', at('2026-01-01T12:00:00Z')); // a Thursday
    expect([iso(w.start), iso(w.end)]).toEqual(['2025-12-29T00:00:00.000Z', '2026-01-05T00:00:00.000Z']);
  });

  it('months roll over at month and year end, February included', () => {
    const dec = budgetWindow('monthly', 'UTC', at('2026-12-31T23:59:59Z'));
    expect([iso(dec.start), iso(dec.end)]).toEqual(['2026-12-01T00:00:00.000Z', '2027-01-01T00:00:00.000Z']);
    const feb = budgetWindow('monthly', 'UTC', at('2028-02-29T12:00:00Z'));
    expect([iso(feb.start), iso(feb.end)]).toEqual(['2028-02-01T00:00:00.000Z', '2028-03-01T00:00:00.000Z']);
  });
});

describe('budgetWindow across time zones and DST', () => {
  it('uses the local date, not the UTC date', () => {
    // 03:00 UTC on the 1st is still the 31st in New York (EDT on Oct 31/EST later).
    const w = budgetWindow('monthly', 'America/New_York', at('2026-11-01T03:00:00Z'));
    expect([iso(w.start), iso(w.end)]).toEqual(['2026-10-01T04:00:00.000Z', '2026-11-01T04:00:00.000Z']);
    const t = budgetWindow('daily', 'Asia/Tokyo', at('2026-06-01T16:00:00Z'));
    expect(iso(t.start)).toBe('2026-06-01T15:00:00.000Z');
  });

  it('a spring-forward day in New York is 23 hours long', () => {
    const w = budgetWindow('daily', 'America/New_York', at('2026-03-08T12:00:00Z'));
    expect(iso(w.start)).toBe('2026-03-08T05:00:00.000Z');
    expect(iso(w.end)).toBe('2026-03-09T04:00:00.000Z');
    expect((w.end - w.start) / 3_600_000).toBe(23);
  });

  it('a fall-back day in Berlin is 25 hours long', () => {
    const w = budgetWindow('daily', 'Europe/Berlin', at('2026-10-25T10:00:00Z'));
    expect(iso(w.start)).toBe('2026-10-24T22:00:00.000Z');
    expect(iso(w.end)).toBe('2026-10-25T23:00:00.000Z');
    expect((w.end - w.start) / 3_600_000).toBe(25);
  });

  it('the week holding a DST change is 167 hours; months start at local midnight on both sides', () => {
    const w = budgetWindow('weekly', 'Europe/Berlin', at('2026-03-29T12:00:00Z'));
    expect((w.end - w.start) / 3_600_000).toBe(167);
    const m = budgetWindow('monthly', 'Europe/Berlin', at('2026-03-15T12:00:00Z'));
    expect([iso(m.start), iso(m.end)]).toEqual(['2026-02-28T23:00:00.000Z', '2026-03-31T22:00:00.000Z']);
  });

  it('southern hemisphere: Sydney springs forward in October', () => {
    const w = budgetWindow('daily', 'Australia/Sydney', at('2026-10-04T06:00:00Z'));
    expect(iso(w.start)).toBe('2026-10-03T14:00:00.000Z');
    expect((w.end - w.start) / 3_600_000).toBe(23);
  });

  it('when DST skips midnight, the day starts at the transition', () => {
    // America/Santiago springs forward at 00:00 -> 01:00 on 2026-09-06 (UTC-4 -> UTC-3).
    const w = budgetWindow('daily', 'America/Santiago', at('2026-09-06T12:00:00Z'));
    expect(iso(w.start)).toBe('2026-09-06T04:00:00.000Z');
    expect(iso(w.end)).toBe('2026-09-07T03:00:00.000Z');
    expect(budgetWindow('daily', 'America/Santiago', at('2026-09-06T03:59:59Z')).end).toBe(w.start);
  });

  it('half-hour offsets (India) work', () => {
    const w = budgetWindow('daily', 'Asia/Kolkata', at('2026-05-10T20:00:00Z'));
    expect(iso(w.start)).toBe('2026-05-10T18:30:00.000Z');
  });

  it('always contains now, over a sweep of instants across a DST year', () => {
    for (const tz of ['America/New_York', 'Europe/Berlin', 'Australia/Lord_Howe', 'America/Santiago']) {
      for (
        let t = at('2026-01-01T00:00:00Z');
        t < at('2027-01-01T00:00:00Z');
        t += 29 * 3_600_000 + 13 * 60_000
      ) {
        for (const p of ['daily', 'weekly', 'monthly'] as const) {
          const w = budgetWindow(p, tz, t);
          if (!(w.start <= t && t < w.end))
            throw new Error(`${tz} ${p} ${iso(t)}: ${iso(w.start)}..${iso(w.end)}`);
        }
      }
    }
  });
});

describe('time zone validation', () => {
  it('rejects unknown zones with TM_INVALID_CONFIG', () => {
    expect(isValidTimeZone('Europe/Berlin')).toBe(true);
    expect(isValidTimeZone('Mars/Olympus_Mons')).toBe(false);
    try {
      budgetWindow('daily', 'Mars/Olympus_Mons', 0);
      expect.unreachable();
    } catch (e) {
      expect(isTiermeshError(e) && e.code).toBe('TM_INVALID_CONFIG');
    }
  });

  it('startOfLocalDay normalises overflowing days', () => {
    expect(iso(startOfLocalDay('UTC', 2026, 1, 32))).toBe('2026-02-01T00:00:00.000Z');
    expect(iso(startOfLocalDay('UTC', 2026, 3, 0))).toBe('2026-02-28T00:00:00.000Z');
  });
});
