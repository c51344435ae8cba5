import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { errorBody, errorCodes, TiermeshError, toTiermeshError } from './errors.js';

/** The rows of the codes table in docs/errors.md, cell by cell with backticks removed. */
function docsTable(): string[][] {
  const md = readFileSync(new URL('../docs/errors.md', import.meta.url), 'utf8');
  return md
    .split('\n')
    .filter((l) => l.startsWith('| `TM_'))
    .map((l) =>
      l
        .split('|')
        .slice(1, -1)
        .map((c) => c.trim().replaceAll('`', '')),
    );
}

describe('error registry and docs/errors.md', () => {
  it('documents every code with its status(es), both types and its blame, and nothing else', () => {
    const rows = docsTable();
    const documented = Object.fromEntries(
      rows.map(([code, status, type, anthropicType, blame]) => {
        // "400, 413, 422": the code's own status, then the others it may carry (a provider's own);
        // "502 (Anthropic: 529)": the status Anthropic clients get instead.
        const [, list, anthropic] = /^([^(]*?)\s*(?:\(Anthropic: (\d+)\))?$/.exec(status ?? '') ?? [];
        const [own, ...others] = (list ?? '').split(',').map((x) => Number(x.trim()));
        return [
          code,
          {
            status: own,
            ...(others.length > 0 ? { statuses: others } : {}),
            ...(anthropic !== undefined ? { anthropicStatus: Number(anthropic) } : {}),
            type,
            anthropicType,
            blame,
          },
        ];
      }),
    );
    expect(rows.length).toBe(Object.keys(documented).length); // no code twice
    expect(documented).toEqual(errorCodes);
    for (const row of rows) expect(row[5]?.length ?? 0).toBeGreaterThan(10);
  });
});

describe('TiermeshError bodies', () => {
  it('speaks OpenAI by default and Anthropic on request', () => {
    const e = new TiermeshError('TM_BODY_TOO_LARGE', 'too big');
    expect(errorBody(e)).toEqual({
      error: { message: 'too big', type: 'invalid_request_error', param: null, code: 'TM_BODY_TOO_LARGE' },
    });
    expect(errorBody(e, 'anthropic')).toEqual({
      type: 'error',
      error: { type: 'request_too_large', message: 'too big' },
    });
  });

  it("gives Anthropic clients Anthropic's own status for an overload, OpenAI clients the registry's", () => {
    const e = new TiermeshError('TM_UPSTREAM_OVERLOADED', 'every target is overloaded', { retryAfter: 7 });
    expect(e.statusFor('anthropic')).toBe(529);
    expect(e.statusFor('openai')).toBe(502);
    expect(errorBody(e, 'anthropic')).toMatchObject({ error: { type: 'overloaded_error' } });
    expect(errorBody(e)).toMatchObject({ error: { type: 'api_error', code: 'TM_UPSTREAM_OVERLOADED' } });
    // Codes without an Anthropic status of their own answer both alike.
    expect(new TiermeshError('TM_BREAKER_OPEN', 'open').statusFor('anthropic')).toBe(503);
  });

  it('keeps client text out of the log form while the client still sees it', () => {
    const e = new TiermeshError('TM_MODEL_NOT_FOUND', 'The model `secret-prompt` does not exist', {
      logMessage: 'unknown model (13 chars)',
    });
    expect(e.toBody().error.message).toContain('secret-prompt');
    expect(JSON.stringify(e.toLog())).not.toContain('secret-prompt');
  });

  it('turns unknown throws into TM_INTERNAL without their text', () => {
    const e = toTiermeshError(new Error('db password is hunter2'));
    expect(e.code).toBe('TM_INTERNAL');
    expect(JSON.stringify(e.toBody())).not.toContain('hunter2');
  });
});

describe("TM_UPSTREAM_REJECTED: a provider's refusal passed on", () => {
  const fault = {
    code: 'context_length_exceeded',
    param: 'messages',
    type: 'invalid_request_error',
    anthropicType: 'invalid_request_error' as const,
  };

  it("carries the provider's code, param and type in both shapes", () => {
    const e = new TiermeshError('TM_UPSTREAM_REJECTED', 'provider "oa" answered HTTP 400: too long', {
      upstream: fault,
    });
    expect(e.status).toBe(400);
    expect(errorBody(e)).toEqual({
      error: {
        message: 'provider "oa" answered HTTP 400: too long',
        type: 'invalid_request_error',
        param: 'messages',
        code: 'context_length_exceeded',
      },
    });
    expect(errorBody(e, 'anthropic')).toEqual({
      type: 'error',
      error: {
        type: 'invalid_request_error',
        message: 'provider "oa" answered HTTP 400: too long',
        details: { error_code: 'context_length_exceeded', param: 'messages' },
      },
    });
  });

  it('is its own code when the provider gave none; Anthropic clients get no empty details', () => {
    const e = new TiermeshError('TM_UPSTREAM_REJECTED', 'm', {
      upstream: { anthropicType: 'request_too_large' },
      status: 413,
    });
    expect(e.toBody().error).toMatchObject({ code: 'TM_UPSTREAM_REJECTED', param: null });
    expect(e.toAnthropicBody()).toEqual({
      type: 'error',
      error: { type: 'request_too_large', message: 'm' },
    });
  });

  it("keeps the provider's 413 and 422, and no other status: any other is the code's own", () => {
    const status = (s: number) => new TiermeshError('TM_UPSTREAM_REJECTED', 'm', { status: s }).status;
    expect([status(413), status(422), status(409), status(401), status(500)]).toEqual([
      413, 422, 400, 400, 400,
    ]);
    // A code without other statuses ignores the option.
    expect(new TiermeshError('TM_INVALID_REQUEST', 'm', { status: 422 }).status).toBe(400);
  });
});
