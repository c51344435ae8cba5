/** Kube.reviewToken, the operator's one TokenReview client, against the real apiserver over its kept-alive pool. */
import { describe, expect, test } from 'vitest';
import { Kube } from '../../src/operator/kube.js';
import { freshNamespace, kubeConfig, serviceAccountToken } from '../cluster/fixtures.js';

describe('Kube.reviewToken', () => {
  test('names the service account of a tiermesh token; another audience, a bad token: no one', async () => {
    const ns = await freshNamespace('review');
    const kube = new Kube(kubeConfig(), 'review-test');
    const token = await serviceAccountToken(ns, 'app', 'tiermesh');
    expect(await kube.reviewToken(token, 'tiermesh')).toBe(`system:serviceaccount:${ns}:app`);
    expect(await kube.reviewToken(token, 'someone-else')).toBeUndefined();
    expect(await kube.reviewToken('not-a-token', 'tiermesh')).toBeUndefined();
  });

  test('many at once share the pool and each gets its own answer', async () => {
    const ns = await freshNamespace('review-many');
    const kube = new Kube(kubeConfig(), 'review-test');
    const names = Array.from({ length: 40 }, (_, i) => `sa-${i}`);
    const tokens = await Promise.all(names.map((n) => serviceAccountToken(ns, n, 'tiermesh')));
    // More reviews in flight than the pool has connections (32): the queued ones must still be answered.
    const users = await Promise.all(tokens.map((t) => kube.reviewToken(t, 'tiermesh')));
    expect(users).toEqual(names.map((n) => `system:serviceaccount:${ns}:${n}`));
  });
});
