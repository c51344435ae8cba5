/**
 * The body of `POST /v1/feedback`: how an app tells the sidecar that an answer was good or bad.
 *
 *   {"request_id": "...", "score": 0.3}               a quality score in [0, 1] (1 = perfect)
 *   {"request_id": "...", "rating": "down"}           or a thumbs up/down (up = 1, down = 0)
 *   optional "comment" (kept out of every log unless the sidecar logs prompts), optional "retry": true to re-run
 *   the request one tier up and get the new answer, with optional "messages" to re-send when the sidecar did not
 *   keep the request (it keeps bodies only with --log-prompts).
 *
 * Unknown fields are refused, so a misspelt "rating" is a 400 naming it rather than a silently empty vote.
 */
import { z } from 'zod';
import { chatMessage } from './openai.js';

/** The same shape the sidecar accepts in x-request-id and returns in its answers. */
export const requestId = z
  .string()
  .regex(/^[\w.:-]{1,128}$/, 'must be 1-128 characters of A-Z a-z 0-9 _ . : -');

export const feedbackRequest = z
  .strictObject({
    request_id: requestId,
    score: z.number().min(0, 'must be between 0 and 1').max(1, 'must be between 0 and 1').optional(),
    rating: z.enum(['up', 'down']).optional(),
    comment: z.string().max(4096).optional(),
    retry: z.boolean().optional(),
    messages: z.array(chatMessage).min(1, 'messages must not be empty').optional(),
  })
  .superRefine((b, ctx) => {
    if ((b.score === undefined) === (b.rating === undefined))
      ctx.addIssue({
        code: 'custom',
        path: [b.score === undefined ? 'score' : 'rating'],
        message: 'exactly one of score (0..1) or rating ("up" | "down") is required',
      });
    if (b.messages !== undefined && b.retry !== true)
      ctx.addIssue({
        code: 'custom',
        path: ['messages'],
        message: 'messages are only used with "retry": true',
      });
  });
export type FeedbackRequest = z.infer<typeof feedbackRequest>;

/** The score a feedback stands for: the given score, or 1 for up and 0 for down. */
export function feedbackScore(f: Pick<FeedbackRequest, 'score' | 'rating'>): number {
  if (f.score !== undefined) return f.score;
  return f.rating === 'up' ? 1 : 0;
}
