import { describe, expect, it } from 'vitest';
import { ProviderError } from './types.js';
import {
  httpFailure,
  openAIStreamFailure,
  reasonForStatus,
  redact,
  toProviderError,
} from './upstream-errors.js';

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

  it('marks an overload or an unavailable upstream (529, overloaded_error, 503, UNAVAILABLE), and nothing else', () => {
    const f = (vendor: 'openai' | 'anthropic' | 'gemini', status: number, body: unknown) =>
      httpFailure({
        provider: 'p',
        vendor,
        status,
        header: h({ 'retry-after': '7' }),
        bodyText: JSON.stringify(body),
        secrets: [],
        nowMs: 0,
      });
    const anth = (type: string) => ({ type: 'error', error: { type, message: 'x' } });
    expect(f('anthropic', 529, anth('overloaded_error'))).toMatchObject({
      reason: 'server_error',
      overloaded: true,
      retryAfter: 7,
    });
    // Anthropic's overloaded_error under another status (a proxy's 500) is still one.
    expect(f('anthropic', 500, anth('overloaded_error')).overloaded).toBe(true);
    expect(f('anthropic', 500, anth('api_error')).overloaded).toBe(false);
    expect(
      f('openai', 503, { error: { message: 'The engine is currently overloaded', type: 'server_error' } }),
    ).toMatchObject({ reason: 'server_error', overloaded: true });
    expect(f('openai', 500, { error: { message: 'oops', type: 'server_error' } }).overloaded).toBe(false);
    expect(f('openai', 429, { error: { message: 'slow', code: 'rate_limit_exceeded' } }).overloaded).toBe(
      false,
    );
    const unavailable = { error: { code: 503, status: 'UNAVAILABLE', message: 'The model is overloaded.' } };
    expect(f('gemini', 503, unavailable)).toMatchObject({ reason: 'server_error', overloaded: true });
    const internal = { error: { code: 500, status: 'INTERNAL', message: 'x' } };
    expect(f('gemini', 500, internal).overloaded).toBe(false);
  });

  it('classifies an account out of credit or quota as auth, not as the caller or a rate limit', () => {
    const f = (vendor: 'openai' | 'anthropic', status: number, body: unknown) =>
      httpFailure({
        provider: 'p',
        vendor,
        status,
        header: h({}),
        bodyText: JSON.stringify(body),
        secrets: [],
        nowMs: 0,
      }).reason;
    const credit =
      'Your credit balance is too low to access the Anthropic API. Please go to Plans & Billing to upgrade or purchase credits.';
    expect(
      f('anthropic', 400, { type: 'error', error: { type: 'invalid_request_error', message: credit } }),
    ).toBe('auth');
    expect(
      f('anthropic', 402, { type: 'error', error: { type: 'billing_error', message: 'Billing issue' } }),
    ).toBe('auth');
    const quota = {
      message: 'You exceeded your current quota, please check your plan and billing details.',
      type: 'insufficient_quota',
      param: null,
      code: 'insufficient_quota',
    };
    expect(f('openai', 429, { error: quota })).toBe('auth');
    // Some OpenAI-compatible servers set only one of the two.
    expect(f('openai', 429, { error: { ...quota, type: 'requests' } })).toBe('auth');
    expect(f('openai', 429, { error: { ...quota, code: null } })).toBe('auth');
    // Their neighbours keep their classes: the caller's 400, a plain rate limit.
    expect(
      f('anthropic', 400, { type: 'error', error: { type: 'invalid_request_error', message: 'x' } }),
    ).toBe('client_error');
    expect(
      f('openai', 429, { error: { message: 'Rate limit', type: 'requests', code: 'rate_limit_exceeded' } }),
    ).toBe('rate_limited');
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

  it('redacts a partial echo of a configured key: a prefix or suffix of 8 characters or more', () => {
    const key = 'gsk_LIVEKEY0123456789abcd';
    expect(redact('Invalid key gsk_LIVEKEY0123 partial', [key])).toBe('Invalid key [redacted] partial');
    expect(redact('key ending 0123456789abcd given', [key])).toBe('key ending [redacted] given');
    expect(redact('masked gsk_LIVE****6789abcd here', [key])).toBe('masked [redacted]****[redacted] here');
    expect(redact(`twice ${key} and gsk_LIVEKEY0`, [key])).toBe('twice [redacted] and [redacted]');
    // Seven characters is not enough to say it is the key.
    expect(redact('short gsk_LIV and 789abcd', [key])).toBe('short gsk_LIV and 789abcd');
    // A key whose head and tail overlap in the text is cut once.
    expect(redact('x abcdefghij y', ['abcdefghij'])).toBe('x [redacted] y');
    expect(redact('x cdefghij y abcdefgh z', ['abcdefghij'])).toBe('x [redacted] y [redacted] z');
  });
});

describe('Gemini errors', () => {
  const gemini = (status: number, error: unknown, headers: Record<string, string> = {}) =>
    httpFailure({
      provider: 'g',
      vendor: 'gemini',
      status,
      header: h(headers),
      bodyText: JSON.stringify({ error }),
      secrets: [],
      nowMs: 0,
    });

  it('classifies by google.rpc status: a bad key is auth although it is a 400', () => {
    expect(
      gemini(400, {
        code: 400,
        message: 'API key not valid. Please pass a valid API key.',
        status: 'INVALID_ARGUMENT',
        details: [{ '@type': 'type.googleapis.com/google.rpc.ErrorInfo', reason: 'API_KEY_INVALID' }],
      }).reason,
    ).toBe('auth');
    expect(gemini(400, { code: 400, message: 'bad', status: 'INVALID_ARGUMENT' }).reason).toBe(
      'client_error',
    );
    expect(
      gemini(400, { code: 400, message: 'User location is not supported', status: 'FAILED_PRECONDITION' })
        .reason,
    ).toBe('auth');
    expect(gemini(403, { code: 403, message: 'denied', status: 'PERMISSION_DENIED' }).reason).toBe('auth');
    expect(gemini(404, { code: 404, message: 'models/x is not found', status: 'NOT_FOUND' }).reason).toBe(
      'server_error',
    );
    expect(
      gemini(503, { code: 503, message: 'The model is overloaded.', status: 'UNAVAILABLE' }).reason,
    ).toBe('server_error');
    expect(gemini(504, { code: 504, message: 'Deadline expired', status: 'DEADLINE_EXCEEDED' }).reason).toBe(
      'timeout',
    );
    expect(gemini(502, 'garbage').reason).toBe('server_error');
  });

  it('takes the retry delay from RetryInfo in the body unless a header gives one', () => {
    const quota = {
      code: 429,
      message: 'You exceeded your current quota.',
      status: 'RESOURCE_EXHAUSTED',
      details: [
        { '@type': 'type.googleapis.com/google.rpc.QuotaFailure', violations: [] },
        { '@type': 'type.googleapis.com/google.rpc.RetryInfo', retryDelay: '17.5s' },
      ],
    };
    expect(gemini(429, quota)).toMatchObject({ reason: 'rate_limited', status: 429, retryAfter: 17.5 });
    expect(gemini(429, quota, { 'retry-after': '3' }).retryAfter).toBe(3);
    expect(gemini(429, { ...quota, details: [{ retryDelay: 'soon' }] }).retryAfter).toBeUndefined();
    expect(gemini(429, quota).message).toBe(
      'provider "g" answered HTTP 429: You exceeded your current quota.',
    );
  });

  it('scrubs Google API keys from messages', () => {
    expect(redact('key AIzaSyA1234567890abcdefghijklmnopqrstu is bad', [])).toBe('key [redacted] is bad');
  });
});

describe('openAIStreamFailure (an error object in an OpenAI-wire stream)', () => {
  it('keeps a rate limit, an overload and a spent account apart from a server error', () => {
    expect(
      openAIStreamFailure({ message: 'Rate limit reached', type: 'tokens', code: 'rate_limit_exceeded' }),
    ).toEqual({ reason: 'rate_limited', overloaded: false });
    expect(openAIStreamFailure({ type: 'rate_limit_exceeded' }).reason).toBe('rate_limited');
    expect(
      openAIStreamFailure({
        message: 'That model is currently overloaded with other requests.',
        type: 'server_error',
      }),
    ).toEqual({ reason: 'server_error', overloaded: true });
    expect(
      openAIStreamFailure({ message: 'You exceeded your current quota', code: 'insufficient_quota' }),
    ).toEqual({
      reason: 'auth',
      overloaded: false,
    });
    expect(openAIStreamFailure({ message: 'The server had an error', type: 'server_error' })).toEqual({
      reason: 'server_error',
      overloaded: false,
    });
    expect(openAIStreamFailure({})).toEqual({ reason: 'server_error', overloaded: false });
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

describe("an upstream's refusal of the request (rejection)", () => {
  const fail = (
    vendor: 'openai' | 'anthropic' | 'gemini',
    status: number,
    body: unknown,
    headers: Record<string, string> = {},
    secrets: string[] = [],
  ) =>
    httpFailure({
      provider: 'p',
      vendor,
      status,
      header: h(headers),
      bodyText: JSON.stringify(body),
      secrets,
      nowMs: 0,
    });

  it("keeps an OpenAI upstream's code, param and type, and its rate-limit headers", () => {
    const e = fail(
      'openai',
      400,
      {
        error: {
          message: 'maximum context length is 128000 tokens',
          type: 'invalid_request_error',
          param: 'messages',
          code: 'context_length_exceeded',
        },
      },
      {
        'x-ratelimit-remaining-tokens': '12345',
        'x-ratelimit-reset-tokens': '6m0s',
        'x-request-id': 'req_1',
        'x-ratelimit-limit-requests': 'bad\r\nset-cookie: x',
      },
    );
    expect(e.reason).toBe('client_error');
    expect(e.rejection).toEqual({
      fault: {
        code: 'context_length_exceeded',
        param: 'messages',
        type: 'invalid_request_error',
        anthropicType: 'invalid_request_error',
      },
      // Only rate limits, and only values that cannot break a header.
      headers: { 'x-ratelimit-remaining-tokens': '12345', 'x-ratelimit-reset-tokens': '6m0s' },
    });
  });

  it('names a context-length refusal context_length_exceeded whichever vendor worded it', () => {
    const anthropic = fail('anthropic', 400, {
      type: 'error',
      error: { type: 'invalid_request_error', message: 'prompt is too long: 208310 tokens > 200000 maximum' },
    });
    expect(anthropic.rejection?.fault).toEqual({
      code: 'context_length_exceeded',
      anthropicType: 'invalid_request_error',
    });
    const gemini = fail('gemini', 400, {
      error: {
        code: 400,
        status: 'INVALID_ARGUMENT',
        message: 'The input token count (1200000) exceeds the maximum number of tokens allowed (1048576).',
      },
    });
    expect(gemini.rejection?.fault.code).toBe('context_length_exceeded');
    const vllm = fail('openai', 400, {
      error: { message: "This model's maximum context length is 4096 tokens.", type: 'BadRequestError' },
    });
    expect(vllm.rejection?.fault).toMatchObject({ code: 'context_length_exceeded', type: 'BadRequestError' });
    // Other refusals keep what the vendor gave, and no code when it gave none.
    const other = fail('anthropic', 400, {
      type: 'error',
      error: { type: 'invalid_request_error', message: 'messages: at least one message is required' },
    });
    expect(other.rejection?.fault).toEqual({ anthropicType: 'invalid_request_error' });
  });

  it("takes Anthropic's details.error_code, and says request_too_large for a 413", () => {
    const e = fail(
      'anthropic',
      413,
      {
        type: 'error',
        error: {
          type: 'request_too_large',
          message: 'too big',
          details: { error_code: 'request_body_too_large' },
        },
      },
      { 'anthropic-ratelimit-requests-remaining': '49' },
    );
    expect(e.rejection).toEqual({
      fault: { code: 'request_body_too_large', anthropicType: 'request_too_large' },
      headers: { 'anthropic-ratelimit-requests-remaining': '49' },
    });
  });

  it('drops a code, param or type that is not a short identifier or carries a key', () => {
    const key = 'sk-live-abcdefghijklmnop';
    const e = fail(
      'openai',
      422,
      { error: { message: 'x', type: 'a type with spaces', param: key, code: 'sk-proj-0123456789abcdef' } },
      {},
      [key],
    );
    expect(e.rejection?.fault).toEqual({ anthropicType: 'invalid_request_error' });
    expect(JSON.stringify(e.rejection)).not.toContain('sk-');
  });

  it("is only for the request's own fault: a refused key, a rate limit or a 404 carries none", () => {
    const body = {
      error: { message: 'x', type: 'invalid_request_error', param: null, code: 'invalid_api_key' },
    };
    for (const status of [401, 403, 404, 429, 500])
      expect(fail('openai', status, body).rejection).toBeUndefined();
    const credit = 'Your credit balance is too low to access the Anthropic API.';
    expect(
      fail('anthropic', 400, { type: 'error', error: { type: 'invalid_request_error', message: credit } })
        .rejection,
    ).toBeUndefined();
    const badKey = fail('gemini', 400, {
      error: {
        status: 'INVALID_ARGUMENT',
        message: 'API key not valid.',
        details: [{ '@type': 'type.googleapis.com/google.rpc.ErrorInfo', reason: 'API_KEY_INVALID' }],
      },
    });
    expect(badKey.reason).toBe('auth');
    expect(badKey.rejection).toBeUndefined();
  });
});
