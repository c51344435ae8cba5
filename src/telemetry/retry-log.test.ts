import { Writable } from 'node:stream';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { RetryLog } from './retry-log.js';

function capture() {
  const lines: Array<{ level: number; msg: string; failures?: number }> = [];
  const stream = new Writable({
    write(chunk, _enc, done) {
      for (const l of String(chunk).split('\n').filter(Boolean)) lines.push(JSON.parse(l));
      done();
    },
  });
  return { lines, log: pino({ level: 'debug' }, stream) };
}
const notLeader = new Error('operator answered 503: not the leader');
const classify = (e: unknown) => (e === notLeader ? 'expected' : 'unexpected') as 'expected' | 'unexpected';
const levels = (lines: Array<{ level: number }>) => lines.map((l) => pino.levels.labels[l.level]);

describe('RetryLog', () => {
  it('a leader change is one info line, debug after it, and one line when it clears', () => {
    const { lines, log } = capture();
    const r = new RetryLog(log, 'usage report', classify);
    for (let i = 0; i < 5; i++) r.failed(notLeader);
    r.succeeded();
    expect(levels(lines)).toEqual(['info', 'debug', 'debug', 'debug', 'debug', 'info']);
    expect(lines[0]!.msg).toBe('usage report failed; retrying');
    expect(lines.at(-1)).toMatchObject({ msg: 'usage report works again', failures: 5 });
  });

  it('an unexpected failure warns once per run, also after expected ones; success resets the run', () => {
    const { lines, log } = capture();
    const r = new RetryLog(log, 'allowance request', classify);
    r.failed(notLeader);
    r.failed(new Error('ECONNREFUSED'));
    r.failed(new Error('ECONNREFUSED'));
    r.failed(notLeader);
    r.succeeded();
    r.succeeded();
    r.failed(new Error('ECONNREFUSED'));
    expect(levels(lines)).toEqual(['info', 'warn', 'debug', 'debug', 'info', 'warn']);
  });
});
