/**
 * A team's own logged outcomes, one JSON object per line: {"prompt": string, "weak": q, "strong": q, "group"?: string}
 * with qualities q in [0, 1] (correctness, a judge's score / 10, a win rate...). The input of `tiermesh eval
 * --outcomes` and `tiermesh train --outcomes`.
 *
 *   parseOutcomes(text): Outcome[]     throws OutcomesError naming the line; messages never quote prompt text
 */
import { z } from 'zod';

export interface LoggedOutcome {
  prompt: string;
  weak: number;
  strong: number;
  group?: string | undefined;
}

export class OutcomesError extends Error {}

const quality = z.number().finite().min(0).max(1);
const line = z.object({
  prompt: z.string().min(1, 'must be a non-empty string'),
  weak: quality,
  strong: quality,
  group: z.string().min(1).max(200).optional(),
});

/** At most this many lines: a sanity bound, far above what a routing evaluation needs. */
export const MAX_OUTCOMES = 1_000_000;

export function parseOutcomes(text: string): LoggedOutcome[] {
  const out: LoggedOutcome[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const raw = lines[i]!.trim();
    if (raw === '') continue;
    const where = `line ${i + 1}`;
    let json: unknown;
    try {
      json = JSON.parse(raw);
    } catch {
      throw new OutcomesError(`${where}: not valid JSON`);
    }
    if (typeof json !== 'object' || json === null || Array.isArray(json))
      throw new OutcomesError(`${where}: expected an object {"prompt", "weak", "strong", "group"?}`);
    const r = line.safeParse(json);
    if (!r.success) {
      const issue = r.error.issues[0]!;
      const field = issue.path.join('.') || '(object)';
      // zod's messages name expected types and bounds, never the received string value.
      const msg =
        issue.code === 'invalid_type'
          ? `must be a ${issue.expected}${(json as Record<string, unknown>)[field] === undefined ? ' (missing)' : ''}`
          : field === 'weak' || field === 'strong'
            ? 'must be a number in [0, 1]'
            : issue.message;
      throw new OutcomesError(`${where}: "${field}" ${msg}`);
    }
    out.push(r.data);
    if (out.length > MAX_OUTCOMES) throw new OutcomesError(`more than ${MAX_OUTCOMES} outcomes`);
  }
  if (out.length === 0) throw new OutcomesError('no outcomes (the file is empty)');
  return out;
}
