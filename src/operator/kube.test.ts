import { ApiException } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { apiErrorMessage, apiFailureClass } from './kube.js';

const status = (code: number, message: string) =>
  new ApiException(
    code,
    `HTTP-Code: ${code}\nMessage: Unknown API Status Code!\nBody: ...\nHeaders: {"audit-id":"..."}`,
    JSON.stringify({ kind: 'Status', status: 'Failure', message, reason: 'TooManyRequests', code }),
    { 'audit-id': 'x', 'retry-after': '1' },
  );

describe('API errors in logs', () => {
  it('are one short line: the code and the Status message, no header dump', () => {
    expect(apiErrorMessage(status(429, 'storage is (re)initializing'))).toBe(
      'HTTP 429: storage is (re)initializing',
    );
    expect(apiErrorMessage(new ApiException(500, 'x', 'not json', {}))).toBe('HTTP 500');
    expect(apiErrorMessage(new Error('connect ECONNREFUSED'))).toBe('connect ECONNREFUSED');
  });

  it('a 429 is the apiserver asking to retry later (expected); other failures are not', () => {
    expect(apiFailureClass(status(429, 'storage is (re)initializing'))).toBe('expected');
    expect(apiFailureClass(status(500, 'etcd timeout'))).toBe('unexpected');
    expect(apiFailureClass(new Error('connect ECONNREFUSED'))).toBe('unexpected');
  });
});
