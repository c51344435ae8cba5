import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import type { ChatCompletion } from '../api/openai.js';
import { parsedChatAnswer } from '../providers/chat-answer-text.js';
import { postUpstreamJson } from '../providers/http.js';
import { formatUSD, respondJson, servedByHeaders } from './respond.js';

describe('formatUSD', () => {
  it('prints small costs exactly and without float noise', () => {
    expect(formatUSD(0)).toBe('0');
    expect(formatUSD(0.000123)).toBe('0.000123');
    expect(formatUSD(0.1 + 0.2)).toBe('0.3');
    expect(formatUSD(12.5)).toBe('12.5');
    expect(formatUSD(0.0000000015)).toBe('0.0000000015');
  });

  it('spells every value exactly as the toFixed form does (the fast path changes nothing)', () => {
    const reference = (usd: number) =>
      Number(usd.toPrecision(6))
        .toFixed(10)
        .replace(/\.?0+$/, '') || '0';
    let seed = 42;
    const rand = () => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed / 2 ** 31;
    };
    const values = [1e-4, 9.99999e-5, 999.9995, 1000, 0.00012345649, 0.1 + 0.2, 123.4565, 1e-10, 5e-11];
    for (let i = 0; i < 10_000; i++) values.push(rand() * 10 ** (Math.floor(rand() * 16) - 11));
    for (const v of values) expect(formatUSD(v), String(v)).toBe(reference(v));
  });

  it('headers carry every field', () => {
    expect(servedByHeaders({ model: 'm', provider: 'p', tier: 't', attempts: 2, costUSD: 0.5 })).toEqual({
      'x-tiermesh-model': 'm',
      'x-tiermesh-provider': 'p',
      'x-tiermesh-tier': 't',
      'x-tiermesh-attempts': '2',
      'x-tiermesh-cost-usd': '0.5',
    });
    expect(servedByHeaders(undefined)).toEqual({});
  });
});

describe('respondJson', () => {
  const served = { model: 'm', provider: 'p', tier: 't', attempts: 1, costUSD: 0.5 };
  // The upstream's text, spaced as JSON.stringify never spaces it: which of the two the client got shows.
  const upstreamText =
    '{ "id": "c1", "object": "chat.completion", "created": 0, "model": "m", "choices": [ { "index": 0, "message": { "role": "assistant", "content": "hi" }, "finish_reason": "stop" } ] }';

  async function roundTrip(change: (c: ChatCompletion) => ChatCompletion) {
    const upstream = http.createServer((_req, res) => res.end(upstreamText));
    await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', r));
    const answer = (await postUpstreamJson(
      {
        provider: 'p',
        vendor: 'openai',
        url: `http://127.0.0.1:${(upstream.address() as AddressInfo).port}/v1/chat/completions`,
        headers: {},
        body: {},
        secrets: [],
      },
      { signal: new AbortController().signal, firstByteTimeoutMs: 5000 },
      undefined,
      parsedChatAnswer,
    )) as ChatCompletion;
    upstream.close();
    const server = http.createServer((_req, res) => respondJson(res, change(answer), served));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    try {
      const r = await fetch(`http://127.0.0.1:${(server.address() as AddressInfo).port}/`);
      return {
        text: await r.text(),
        length: r.headers.get('content-length'),
        model: r.headers.get('x-tiermesh-model'),
      };
    } finally {
      server.close();
    }
  }

  it('sends an answer passed on as it came as the upstream text itself', async () => {
    const r = await roundTrip((c) => c);
    expect(r.text).toBe(upstreamText);
    expect(r.length).toBe(String(Buffer.byteLength(upstreamText)));
    expect(r.model).toBe('m');
  });

  it('serializes an answer that was changed (a copy does not carry the upstream text)', async () => {
    const r = await roundTrip((c) => ({ ...c, id: 'c2' }));
    expect(JSON.parse(r.text)).toEqual({ ...JSON.parse(upstreamText), id: 'c2' });
    expect(r.text).not.toContain(' "id"');
    expect(Object.keys(JSON.parse(r.text))).not.toContain('undefined');
  });

  it('refuses a change in place of an answer that still carries the upstream text (it would send the old text)', async () => {
    let answer: ChatCompletion | undefined;
    await roundTrip((c) => {
      answer = c;
      return c;
    });
    expect(() => {
      answer!.model = 'other';
    }).toThrow(TypeError);
    expect(() => {
      answer!.choices[0]!.message.content = 'changed';
    }).toThrow(TypeError);
    expect(answer!.model).toBe('m');
  });
});
