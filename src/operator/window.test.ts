import { describe, expect, it } from 'vitest';
import { windowStart } from './window.js';

describe('windowStart', () => {
  it('daily in UTC is midnight UTC', () => {
    expect(windowStart('daily', 'UTC', new Date('2026-03-10T15:30:00Z')).toISOString()).toBe(
      '2026-03-10T00:00:00.000Z',
    );
  });
  it('daily in Berlin is local midnight, across the DST change', () => {
    expect(windowStart('daily', 'Europe/Berlin', new Date('2026-01-10T15:00:00Z')).toISOString()).toBe(
      '2026-01-09T23:00:00.000Z',
    );
    expect(windowStart('daily', 'Europe/Berlin', new Date('2026-07-10T15:00:00Z')).toISOString()).toBe(
      '2026-07-09T22:00:00.000Z',
    );
    // 00:30 local on 29 March (still CET): the window began at 23:00Z the day before.
    expect(windowStart('daily', 'Europe/Berlin', new Date('2026-03-28T23:30:00Z')).toISOString()).toBe(
      '2026-03-28T23:00:00.000Z',
    );
  });
  it('a time zone ahead of UTC can put the window on the next calendar day', () => {
    expect(windowStart('daily', 'Asia/Tokyo', new Date('2026-05-01T16:00:00Z')).toISOString()).toBe(
      '2026-05-01T15:00:00.000Z',
    );
  });
  it('weekly starts on Monday', () => {
    // 2026-03-12 is a Thursday.
    expect(windowStart('weekly', 'UTC', new Date('2026-03-12T10:00:00Z')).toISOString()).toBe(
      '2026-03-09T00:00:00.000Z',
    );
    expect(windowStart('weekly', 'UTC', new Date('2026-03-15T23:59:59Z')).toISOString()).toBe(
      '2026-03-09T00:00:00.000Z',
    );
    expect(windowStart('weekly', 'UTC', new Date('2026-03-16T00:00:00Z')).toISOString()).toBe(
      '2026-03-16T00:00:00.000Z',
    );
  });
  it('monthly starts on the first, across a year boundary', () => {
    expect(windowStart('monthly', 'UTC', new Date('2026-12-31T23:59:59Z')).toISOString()).toBe(
      '2026-12-01T00:00:00.000Z',
    );
    expect(windowStart('monthly', 'America/New_York', new Date('2027-01-01T03:00:00Z')).toISOString()).toBe(
      '2026-12-01T05:00:00.000Z',
    );
  });
});
