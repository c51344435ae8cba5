import { describe, expect, it } from 'vitest';
import { ProviderError } from './types.js';
import { httpFailure, reasonForStatus, redact, toProviderError } from './upstream-errors.js';

const h = (x: Record<string, string>) => (n: string) => x[n];

describe('httpFailure', () => {
  it('classifies OpenAI statuses and keeps Retry-After', () => {
    const e = httpFailure({
      provider: 'openai',
      vendor: 'openai',
      status: 429,
      header: h({ 'retry-after': '2' }),
      bodyText: JSON.stringify({
        error: { message: 'Rate limit reached', type: 'requests', param: null, code: 'rate_limit_exceeded' },
      }),
      secrets: [],
      nowMs: 0,
    });
    expect(e).toMatchObject({ reason: 'rate_limited', status: 429, retryAfter: 2 });
    expect(e.message).toContain('Rate limit reached');
    expect(reasonForStatus(500)).toBe('server_error');
    expect(reasonForStatus(401)).toBe('auth');
    expect(reasonForStatus(400)).toBe('client_error');
    expect(reasonForStatus(422)).toBe('client_error');
  });

  it('classifies Anthropic error types over the status', () => {
    const f = (type: string, status: number) =>
      httpFailure({
        provider: 'a',
        vendor: 'anthropic',
        status,
        header: h({}),
        bodyText: JSON.stringify({ type: 'error', error: { type, message: 'x' } }),
        secrets: [],
        nowMs: 0,
      }).reason;
    expect(f('overloaded_error', 529)).toBe('server_error');
    expect(f('rate_limit_error', 429)).toBe('rate_limited');
    expect(f('authentication_error', 401)).toBe('auth');
    expect(f('invalid_request_error', 400)).toBe('client_error');
  });

  it('never echoes an HTML error page, and survives any garbage body', () => {
    for (const bodyText of ['<html>bad gateway</html>', '', 'null', '{"error": 5}', '\u0000\u0001'])
      expect(
        httpFailure({
          provider: 'p',
          vendor: 'openai',
          status: 502,
          header: h({}),
          bodyText,
          secrets: [],
          nowMs: 0,
        }).message,
      ).toBe('provider "p" answered HTTP 502');
  });

  it('scrubs the key and key-shaped strings from upstream messages', () => {
    const key = 'sk-live-0123456789abcdef';
    const e = httpFailure({
      provider: 'p',
      vendor: 'openai',
      status: 401,
      header: h({}),
      bodyText: JSON.stringify({
        error: { message: `Incorrect API key provided: ${key} (sk-liv********cdef)` },
      }),
      secrets: [key],
      nowMs: 0,
    });
    expect(e.message).not.toContain(key);
    expect(e.message).not.toContain('cdef');
    expect(redact('Authorization: Bearer abc.def', [])).toBe('Authorization: Bearer [redacted]');
  });
});

describe('toProviderError', () => {
  it('maps socket codes and keeps our own abort reasons', () => {
    expect(toProviderError(Object.assign(new Error('x'), { code: 'ECONNREFUSED' }), 'p').reason).toBe(
      'connection',
    );
    expect(
      toProviderError(Object.assign(new Error('x'), { code: 'UND_ERR_HEADERS_TIMEOUT' }), 'p').reason,
    ).toBe('timeout');
    const ac = new AbortController();
    ac.abort(new ProviderError('timeout', 'deadline'));
    expect(toProviderError(new Error('aborted'), 'p', ac.signal).message).toBe('deadline');
    expect(toProviderError('weird', 'p').reason).toBe('connection');
  });
});
