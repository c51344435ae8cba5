/**
 * What every request-of-death test asserts: the client is told it is its fault (4xx, the registry's body), nothing
 * reached a provider, no breaker moved, the log line names the cause without quoting the body, and the very next
 * ordinary request is served.
 */
import { expect } from 'vitest';
import { ask, type FaultBed } from './bed.js';

export async function expectRefusedHarmlessly(
  bed: FaultBed,
  send: () => Promise<{ status: number; json: { error?: { code?: string; message?: string } } }>,
  expected: { status: number; code: string; cause: RegExp; secret?: string },
): Promise<void> {
  const upstreamCalls = () => bed.flaky.calls.length + bed.healthy.calls.length;
  const before = upstreamCalls();
  const answer = await send();
  expect(answer.status).toBe(expected.status);
  expect(answer.json.error?.code).toBe(expected.code);
  expect(answer.json.error?.message).toMatch(expected.cause);
  expect(upstreamCalls()).toBe(before);
  expect(bed.sidecar.breakers.states().every((s) => s.state === 'closed')).toBe(true);
  const line = bed.lastLog('request');
  expect(line).toMatchObject({ status: expected.status, error: { code: expected.code } });
  expect(String((line?.['error'] as { message?: string })?.message)).toMatch(expected.cause);
  if (expected.secret) expect(bed.sidecar.logs.raw.join('\n')).not.toContain(expected.secret);
  const next = await ask(bed);
  expect(next.response.status).toBe(200);
  expect(next.response.headers.get('x-tiermesh-provider')).toBe('flaky');
  expect(upstreamCalls()).toBe(before + 1);
}
