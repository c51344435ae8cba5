import { describe, expect, it } from 'vitest';
import { OperatorAnswer, operatorFailureClass } from './config-stream-operator.js';

const notLeader = JSON.stringify({
  error: {
    message: 'this operator replica is not the leader; retry',
    type: 'server_error',
    param: null,
    code: 'TM_NOT_READY',
  },
});

describe('operatorFailureClass', () => {
  it('a follower answering 503 TM_NOT_READY is expected (a leader change); anything else is not', () => {
    expect(operatorFailureClass(new OperatorAnswer(503, '/v1/usage', notLeader))).toBe('expected');
    expect(operatorFailureClass(new OperatorAnswer(500, '/v1/usage', notLeader))).toBe('unexpected');
    expect(operatorFailureClass(new OperatorAnswer(503, '/v1/usage', '<html>bad gateway</html>'))).toBe(
      'unexpected',
    );
    expect(operatorFailureClass(new TypeError('fetch failed'))).toBe('unexpected');
  });

  it('keeps status, code and a bounded piece of the body in the message', () => {
    const e = new OperatorAnswer(503, '/v1/allowance', notLeader + 'x'.repeat(1000));
    expect(e.code).toBeUndefined(); // the body is no longer JSON
    expect(e.message.length).toBeLessThan(400);
    expect(new OperatorAnswer(503, '/v1/allowance', notLeader).code).toBe('TM_NOT_READY');
  });
});
