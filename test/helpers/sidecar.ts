/** Test helpers: start a real sidecar in-process on 127.0.0.1:0 from YAML, and capture its log lines. */
import { Writable } from 'node:stream';
import type { Allowance } from '../../src/budget/gate.js';
import { compileManifests, parseManifests } from '../../src/config/manifests.js';
import type { KeyEnv } from '../../src/providers/keys.js';
import { type Sidecar, startSidecar } from '../../src/sidecar/app.js';
import { createLogger } from '../../src/telemetry/logger.js';

/** Log lines written by a sidecar, parsed. */
export class LogCapture extends Writable {
  readonly lines: Array<Record<string, unknown>> = [];
  readonly raw: string[] = [];
  override _write(chunk: Buffer, _enc: BufferEncoding, cb: () => void): void {
    for (const line of chunk.toString('utf8').split('\n')) {
      if (!line) continue;
      this.raw.push(line);
      this.lines.push(JSON.parse(line) as Record<string, unknown>);
    }
    cb();
  }
  byMsg(msg: string): Array<Record<string, unknown>> {
    return this.lines.filter((l) => l['msg'] === msg);
  }
}

export interface TestSidecar extends Sidecar {
  /** `<url>/v1`, what an OpenAI SDK's baseURL wants. */
  readonly baseURL: string;
  readonly logs: LogCapture;
}

export interface TestSidecarOptions {
  /** Environment the provider keys resolve from (standalone `apiKey: { env: ... }`). */
  env?: Record<string, string>;
  maxBodyBytes?: number;
  logPrompts?: boolean;
  /** The cluster-wide spending hook, e.g. a spy on what the gate reserves. */
  allowance?: Allowance;
  decisions?: { size?: number; ttlMs?: number };
  feedbackRpm?: number;
  decisionLog?: { path: string; maxBytes?: number; keep?: number };
}

export function testKeyEnv(env: Record<string, string> = {}): KeyEnv {
  return {
    env,
    secretsDir: '/nonexistent/tiermesh-test-secrets',
    readFile: () => {
      throw new Error('no secret files in tests');
    },
  };
}

export async function startTestSidecar(yaml: string, opts: TestSidecarOptions = {}): Promise<TestSidecar> {
  const logs = new LogCapture();
  const snapshot = compileManifests(parseManifests(yaml, 'test'), 'test');
  const sidecar = await startSidecar({
    host: '127.0.0.1',
    port: 0,
    snapshot,
    logger: createLogger({ level: 'debug', destination: logs }),
    keyEnv: testKeyEnv(opts.env),
    ...(opts.maxBodyBytes !== undefined ? { maxBodyBytes: opts.maxBodyBytes } : {}),
    ...(opts.logPrompts !== undefined ? { logPrompts: opts.logPrompts } : {}),
    ...(opts.allowance ? { allowance: opts.allowance } : {}),
    ...(opts.decisions ? { decisions: opts.decisions } : {}),
    ...(opts.feedbackRpm !== undefined ? { feedbackRpm: opts.feedbackRpm } : {}),
    ...(opts.decisionLog ? { decisionLog: opts.decisionLog } : {}),
  });
  return Object.assign(sidecar, { baseURL: `${sidecar.url}/v1`, logs });
}

/** Value of one sample in Prometheus text output, or undefined when the series does not exist. */
export function metricValue(
  text: string,
  name: string,
  labels: Record<string, string> = {},
): number | undefined {
  for (const line of text.split('\n')) {
    if (line.startsWith('#') || !line.startsWith(name)) continue;
    const m = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})?\s+(\S+)$/.exec(line);
    if (!m || m[1] !== name) continue;
    const have = Object.fromEntries(
      [...(m[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map((x) => [x[1], x[2]]),
    );
    if (Object.entries(labels).every(([k, v]) => have[k] === v)) return Number(m[3]);
  }
  return undefined;
}

/** Sum of every sample of `name` whose labels include `labels`. */
export function metricSum(text: string, name: string, labels: Record<string, string> = {}): number {
  let sum = 0;
  for (const line of text.split('\n')) {
    const m = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})?\s+(\S+)$/.exec(line);
    if (!m || m[1] !== name) continue;
    const have = Object.fromEntries(
      [...(m[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map((x) => [x[1], x[2]]),
    );
    if (Object.entries(labels).every(([k, v]) => have[k] === v)) sum += Number(m[3]);
  }
  return sum;
}
