import { describe, expect, it } from 'vitest';
import { commaList, parseHostPort, parseLogLevel, untilStopSignal } from './args.js';

describe('commaList', () => {
  it('trims the names and drops empty entries', () => {
    expect(commaList(' a, b,,c ,')).toEqual(['a', 'b', 'c']);
    expect(commaList('')).toEqual([]);
    expect(commaList(undefined)).toEqual([]);
  });
});

describe('parseHostPort', () => {
  it('reads host:port and [v6]:port; an empty host is loopback', () => {
    expect(parseHostPort('listen', '0.0.0.0:8443')).toEqual({ host: '0.0.0.0', port: 8443 });
    expect(parseHostPort('listen', '[::1]:9090')).toEqual({ host: '::1', port: 9090 });
    expect(parseHostPort('listen', ':9090')).toEqual({ host: '127.0.0.1', port: 9090 });
  });

  it('takes a bare port only when asked to', () => {
    expect(() => parseHostPort('metrics', '9090')).toThrow('--metrics: expected host:port, got "9090"');
    expect(parseHostPort('metrics', '9090', true)).toEqual({ host: '127.0.0.1', port: 9090 });
  });
});

describe('untilStopSignal', () => {
  it('stops once on the first SIGTERM/SIGINT and keeps a handler for the next, so it cannot kill the drain', async () => {
    const before = { term: process.listeners('SIGTERM'), int: process.listeners('SIGINT') };
    const stops: string[] = [];
    let finish: () => void = () => undefined;
    const done = untilStopSignal(async (signal) => {
      stops.push(signal);
      await new Promise<void>((r) => (finish = r));
    });
    const ours = {
      term: process.listeners('SIGTERM').filter((l) => !before.term.includes(l)),
      int: process.listeners('SIGINT').filter((l) => !before.int.includes(l)),
    };
    try {
      process.emit('SIGINT');
      // The terminal's SIGINT and the one bin/tiermesh.js forwards: without a listener the second would kill.
      process.emit('SIGINT');
      process.emit('SIGTERM');
      expect(stops).toEqual(['SIGINT']);
      expect(process.listeners('SIGINT')).toEqual(expect.arrayContaining(ours.int));
      expect(process.listeners('SIGTERM')).toEqual(expect.arrayContaining(ours.term));
      finish();
      expect(await done).toBe(0);
    } finally {
      for (const l of ours.term) process.off('SIGTERM', l);
      for (const l of ours.int) process.off('SIGINT', l);
    }
  });
});

describe('parseLogLevel', () => {
  it('takes the five levels and names the flag for anything else', () => {
    expect(parseLogLevel('debug')).toBe('debug');
    expect(() => parseLogLevel('verbose')).toThrow(
      '--log-level: expected one of trace|debug|info|warn|error, got "verbose"',
    );
  });
});
