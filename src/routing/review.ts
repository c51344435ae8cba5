/**
 * The review flag (spec.review): a task type marked `requireHumanReview` has every answer flagged, so the app can gate
 * it behind a person. The flag follows the request's declared task only (x-tiermesh-task); the prompt is not read.
 */
import type { ModelRouteSpec } from '../api/modelroute.js';

export const REVIEW_HEADER = 'x-tiermesh-review';

/** The task whose answers need review, or undefined. Only a declared spec.taskTypes key can be flagged. */
export function reviewTask(
  spec: Pick<ModelRouteSpec, 'review' | 'taskTypes'>,
  task: string | undefined,
): string | undefined {
  if (task === undefined || !spec.review) return undefined;
  if (!Object.hasOwn(spec.taskTypes ?? {}, task)) return undefined;
  return Object.hasOwn(spec.review.taskTypes, task) &&
    spec.review.taskTypes[task]?.requireHumanReview === true
    ? task
    : undefined;
}
