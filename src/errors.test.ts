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
  it('documents every code with its status, both types and its blame, and nothing else', () => {
    const rows = docsTable();
    const documented = Object.fromEntries(
      rows.map(([code, status, type, anthropicType, blame]) => [
        code,
        { status: Number(status), type, anthropicType, blame },
      ]),
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
