/**
 * Fault: a client that asks for a stream and then reads nothing. Once its socket and ours are full, the sidecar waits
 * for it at most streamIdleTimeoutMs (nginx's send_timeout), then cuts it: the upstream call is closed, what was
 * streamed is booked, and no breaker moves (the client's fault, not the upstream's).
 */
import { connect, type Socket } from 'node:net';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { behave } from '../../fixtures/providers/index.js';
import { type FaultBed, faultBed } from './bed.js';

let bed: FaultBed;
let sock: Socket | undefined;
afterEach(async () => {
  sock?.destroy();
  await bed.close();
});

// 200 frames of 64 KiB: more than a paused client's socket and the sidecar's send buffer hold on loopback.
const HUGE = Array.from({ length: 200 }, (_, i) => `${i}${'x'.repeat(65_536)}`).join(' ');

describe('fault: a client that never reads its stream', () => {
  it('is cut after streamIdleTimeoutMs with nothing read; the upstream is closed, usage booked, no breaker moved', async () => {
    bed = await faultBed({ timeoutMs: 5_000, firstByteTimeoutMs: 5_000, streamIdleTimeoutMs: 300 });
    bed.flaky.script([behave.ok(HUGE, { prompt: 9, completion: 50_000 })]);
    const body = JSON.stringify({ model: 'auto', stream: true, messages: [{ role: 'user', content: 'hi' }] });
    const { port } = new URL(bed.sidecar.url);
    sock = connect(Number(port), '127.0.0.1');
    sock.on('error', () => {});
    await new Promise((r) => sock!.once('connect', r));
    sock.write(
      `POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
    );
    // Reads nothing from here on: the kernel's receive buffer fills, then the sidecar's.
    sock.pause();
    const closed = new Promise((r) => sock!.once('close', r));
    const line = await vi.waitFor(
      () => {
        const l = bed.lastLog('request');
        expect(l).toBeDefined();
        return l!;
      },
      { timeout: 10_000, interval: 20 },
    );
    expect(line).toMatchObject({ status: 499, provider: 'flaky' });
    expect((line['error'] as { message: string }).message).toContain('read nothing of the stream for 300ms');
    await expect(bed.flaky.calls[0]!.ended).resolves.toBe('aborted');
    // What was streamed before the cut is booked (an estimate: the usage chunk never came).
    expect(line['outputTokens']).toBeGreaterThan(0);
    expect(await bed.tokensBooked()).toBeGreaterThan(0);
    expect(bed.breaker('flaky')).toBe('closed');
    sock.resume();
    await closed;
  });

  it('a client that reads slowly but keeps reading is served whole', async () => {
    bed = await faultBed({ timeoutMs: 5_000, firstByteTimeoutMs: 5_000, streamIdleTimeoutMs: 300 });
    const text = Array.from({ length: 40 }, (_, i) => `${i}${'y'.repeat(65_536)}`).join(' ');
    bed.flaky.script([behave.ok(text, { prompt: 9, completion: 2_000 })]);
    const res = await fetch(`${bed.sidecar.baseURL}/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'auto', stream: true, messages: [{ role: 'user', content: 'hi' }] }),
    });
    const reader = res.body!.getReader();
    let got = '';
    const dec = new TextDecoder();
    for (;;) {
      // Pauses shorter than the bound, again and again: the whole stream takes well over 300 ms.
      await new Promise((r) => setTimeout(r, 50));
      const { done, value } = await reader.read();
      if (done) break;
      got += dec.decode(value, { stream: true });
    }
    expect(got).toContain('data: [DONE]');
    expect(bed.lastLog('request')).toMatchObject({ status: 200, outputTokens: 2_000 });
  });
});
