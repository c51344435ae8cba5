import { describe, expect, it } from 'vitest';
import { requestTexts, scrubEcho, scrubRequestEcho } from './prompt-scrub.js';

const chat = (content: string, extra: Record<string, unknown> = {}) => ({
  model: 'auto',
  messages: [
    { role: 'system', content: 'You are the billing assistant of ACME corp.' },
    { role: 'user', content },
  ],
  ...extra,
});

describe('scrubEcho', () => {
  it('replaces a long stretch of the prompt and keeps the upstream words around it', () => {
    const body = chat('please summarise my medical record number 4242 for me');
    const text =
      'provider "a" answered HTTP 400: Invalid content: please summarise my medical record number 4242 (type invalid_request_error)';
    expect(scrubRequestEcho(text, body)).toBe(
      'provider "a" answered HTTP 400: Invalid content: [prompt](type invalid_request_error)',
    );
  });

  it('finds an echo anywhere in the prompt and of any alignment, the system prompt too', () => {
    const prompt = `${'x'.repeat(1000)} the secret plan is to buy the company ${'y'.repeat(1000)}`;
    for (let shift = 0; shift < 9; shift++) {
      const body = chat('z'.repeat(shift) + prompt);
      expect(scrubRequestEcho('bad: secret plan is to buy the c!', body)).toBe('bad:[prompt]!');
    }
    expect(scrubRequestEcho('error near "billing assistant of ACME"', chat('hi'))).toBe(
      'error near "[prompt]"',
    );
  });

  it('matches the JSON-escaped form an upstream echoes', () => {
    const body = chat('line one\nline "two" is quoted here');
    const echoed = `Invalid body: ${JSON.stringify(body.messages).slice(0, 200)}`;
    const out = scrubRequestEcho(echoed, body);
    expect(out).not.toContain('line one');
    expect(out).not.toContain('quoted');
    expect(out).not.toContain('billing assistant');
    expect(out.startsWith('Invalid body: ')).toBe(true);
  });

  it('replaces a short message text where it occurs whole, and leaves shorter shared runs alone', () => {
    const body = chat('hi PROMPT42');
    expect(scrubRequestEcho('cannot process "hi PROMPT42" now', body)).toBe('cannot process "[prompt]" now');
    // "content" is in every request's JSON but is not the client's text.
    expect(scrubRequestEcho('invalid_request_error: bad content', body)).toBe(
      'invalid_request_error: bad content',
    );
  });

  it('scrubs tool-call arguments, tool definitions and embeddings input', () => {
    const body = {
      model: 'auto',
      messages: [
        { role: 'user', content: 'hi' },
        {
          role: 'assistant',
          content: null,
          tool_calls: [
            { id: '1', type: 'function', function: { name: 'f', arguments: '{"account":"DE0012345678"}' } },
          ],
        },
      ],
      tools: [{ type: 'function', function: { name: 'lookup_customer_ledger', parameters: {} } }],
    };
    expect(scrubRequestEcho('bad arguments {"account":"DE0012345678"} given', body)).toBe(
      'bad arguments [prompt] given',
    );
    expect(scrubRequestEcho('unknown tool lookup_customer_ledger here', body)).toContain('[prompt]');
    expect(
      scrubRequestEcho('input "the embedded sentence here" too long', {
        input: ['the embedded sentence here'],
      }),
    ).toBe('input "[prompt]" too long');
  });

  it('returns the text unchanged when nothing was echoed, and handles odd bodies', () => {
    expect(scrubRequestEcho('rate limited, try later', chat('what is the weather in Paris today?'))).toBe(
      'rate limited, try later',
    );
    expect(scrubEcho('anything at all here', requestTexts(undefined))).toBe('anything at all here');
    expect(scrubRequestEcho('x', { messages: [null, { role: 'user' }] })).toBe('x');
  });

  it('reads a repetitive prompt of megabytes without trouble', () => {
    const big = 'a'.repeat(3_000_000);
    const out = scrubRequestEcho(`bad: ${'a'.repeat(200)} end`, chat(big));
    expect(out).toBe('bad: [prompt] end');
  });
});
