import { describe, expect, it } from 'vitest';
import { reviewTask } from './review.js';

const spec = {
  taskTypes: { legal: 'premium', chat: 'cheap', medical: 'premium' },
  review: { taskTypes: { legal: { requireHumanReview: true }, chat: { requireHumanReview: false } } },
};

describe('reviewTask', () => {
  it('flags a task marked requireHumanReview', () => {
    expect(reviewTask(spec, 'legal')).toBe('legal');
  });
  it('does not flag tasks marked false, unmarked, or absent', () => {
    expect(reviewTask(spec, 'chat')).toBeUndefined();
    expect(reviewTask(spec, 'medical')).toBeUndefined();
    expect(reviewTask(spec, undefined)).toBeUndefined();
  });
  it('ignores a route without spec.review and names that are not declared task types', () => {
    expect(reviewTask({ taskTypes: spec.taskTypes }, 'legal')).toBeUndefined();
    expect(reviewTask({ review: spec.review }, 'legal')).toBeUndefined();
    expect(reviewTask(spec, 'constructor')).toBeUndefined();
    expect(reviewTask(spec, '__proto__')).toBeUndefined();
  });
});
