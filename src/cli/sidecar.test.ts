import { describe, expect, it } from 'vitest';
import { parseListen } from './sidecar.js';

describe('parseListen', () => {
  it('reads host:port, [v6]:port and a bare port (loopback)', () => {
    expect(parseListen('127.0.0.1:4000')).toEqual({ host: '127.0.0.1', port: 4000 });
    expect(parseListen('0.0.0.0:80')).toEqual({ host: '0.0.0.0', port: 80 });
    expect(parseListen('[::1]:4000')).toEqual({ host: '::1', port: 4000 });
    expect(parseListen(':4000')).toEqual({ host: '127.0.0.1', port: 4000 });
    expect(parseListen('4000')).toEqual({ host: '127.0.0.1', port: 4000 });
  });

  it('rejects garbage and out-of-range ports', () => {
    expect(() => parseListen('localhost')).toThrow(/--listen/);
    expect(() => parseListen('127.0.0.1:70000')).toThrow(/--listen/);
    expect(() => parseListen('127.0.0.1:')).toThrow(/--listen/);
  });
});
