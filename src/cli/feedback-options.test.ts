import { describe, expect, it } from 'vitest';
import { DEFAULT_FEEDBACK_RPM, feedbackOptions } from './feedback-options.js';

describe('feedbackOptions', () => {
  it('defaults: no decision log, the default rate, ring defaults left to the ring', () => {
    expect(feedbackOptions({})).toEqual({ decisions: {}, feedbackRpm: DEFAULT_FEEDBACK_RPM });
  });

  it('turns the flags into options, TTL in milliseconds', () => {
    expect(
      feedbackOptions({
        'decision-log': '-',
        'decision-log-max-bytes': '1000',
        'decision-log-keep': '0',
        'decisions-size': '50',
        'decisions-ttl': '60',
        'feedback-rpm': '5',
      }),
    ).toEqual({
      decisions: { size: 50, ttlMs: 60_000 },
      feedbackRpm: 5,
      decisionLog: { path: '-', maxBytes: 1000, keep: 0 },
    });
  });

  it.each([
    ['decisions-size', '0'],
    ['decisions-ttl', '1.5'],
    ['feedback-rpm', 'lots'],
    ['decision-log-max-bytes', '-1'],
  ])('names the flag when --%s is %s', (flag, value) => {
    expect(() => feedbackOptions({ 'decision-log': 'x', [flag]: value })).toThrow(`--${flag}`);
  });

  it('refuses rotation settings without a log to rotate', () => {
    expect(() => feedbackOptions({ 'decision-log-keep': '2' })).toThrow('--decision-log');
  });
});
