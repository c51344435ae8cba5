import { describe, expect, it } from 'vitest';
import { TiermeshError } from '../errors.js';
import { isJsonContentType, parseChatRequest } from './parse-request.js';

const ok = { model: 'auto', messages: [{ role: 'user', content: 'hi' }] };
const buf = (v: unknown) => Buffer.from(typeof v === 'string' ? v : JSON.stringify(v));

function error(fn: () => unknown): TiermeshError {
  try {
    fn();
  } catch (e) {
    if (e instanceof TiermeshError) return e;
    throw e;
  }
  throw new Error('expected a TiermeshError');
}

describe('parseChatRequest', () => {
  it('accepts a valid request and keeps unknown fields for the upstream', () => {
    const r = parseChatRequest('application/json; charset=utf-8', buf({ ...ok, seed: 7 }));
    expect(r.model).toBe('auto');
    expect((r as Record<string, unknown>)['seed']).toBe(7);
  });

  it('rejects broken JSON with TM_INVALID_JSON (400)', () => {
    const e = error(() => parseChatRequest('application/json', buf('{"model": ')));
    expect(e.code).toBe('TM_INVALID_JSON');
    expect(e.status).toBe(400);
  });

  it('names the missing field in message and param', () => {
    const e = error(() => parseChatRequest(undefined, buf({ model: 'auto' })));
    expect(e.code).toBe('TM_INVALID_REQUEST');
    expect(e.param).toBe('messages');
    expect(e.message).toContain('messages');
  });

  it('names nested fields with their index', () => {
    const e = error(() =>
      parseChatRequest(undefined, buf({ model: 'auto', messages: [{ role: 'robot', content: 'x' }] })),
    );
    expect(e.param).toBe('messages[0].role');
  });

  it('rejects out-of-range sampling parameters', () => {
    expect(error(() => parseChatRequest(undefined, buf({ ...ok, temperature: 3 }))).param).toBe(
      'temperature',
    );
  });

  it('rejects non-object bodies and other media types', () => {
    expect(error(() => parseChatRequest(undefined, buf('[1]'))).code).toBe('TM_INVALID_REQUEST');
    expect(error(() => parseChatRequest('text/plain', buf(ok))).status).toBe(415);
  });

  it('content types', () => {
    expect(isJsonContentType('application/json')).toBe(true);
    expect(isJsonContentType('Application/JSON;charset=utf-8')).toBe(true);
    expect(isJsonContentType('application/vnd.api+json')).toBe(true);
    expect(isJsonContentType('multipart/form-data')).toBe(false);
  });
});
