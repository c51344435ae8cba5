import { describe, expect, it } from 'vitest';
import { parseHostPort } from './args.js';

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
