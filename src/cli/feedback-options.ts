/**
 * The sidecar flags of the routing-quality loop (docs/feedback.md): the decision ring behind POST /v1/feedback, the
 * feedback rate, and the opt-in decision log. Spread `feedbackFlags` into the sidecar's options and help text;
 * `feedbackOptions(values)` validates them into what startSidecar takes, or throws an Error naming the flag.
 */
import type { CliOptions, CliValues } from './args.js';

export const DEFAULT_FEEDBACK_RPM = 600;

export const feedbackFlags: CliOptions = {
  'decision-log': { type: 'string' },
  'decision-log-max-bytes': { type: 'string' },
  'decision-log-keep': { type: 'string' },
  'decisions-size': { type: 'string' },
  'decisions-ttl': { type: 'string' },
  'feedback-rpm': { type: 'string' },
};

export const feedbackHelp = `  --decision-log <file|->         JSONL line per decision and feedback (prompts only with --log-prompts)
  --decision-log-max-bytes <n>    rotate the decision log past this size (default 67108864)
  --decision-log-keep <n>         rotated decision logs kept (default 5)
  --decisions-size <n>            recent decisions kept for POST /v1/feedback (default 10000)
  --decisions-ttl <seconds>       how long a decision can still get feedback (default 900)
  --feedback-rpm <n>              feedback requests per minute this sidecar accepts (default ${DEFAULT_FEEDBACK_RPM})
`;

export interface FeedbackOptions {
  decisions: { size?: number; ttlMs?: number };
  feedbackRpm: number;
  decisionLog?: { path: string; maxBytes?: number; keep?: number };
}

function positiveInt(values: CliValues, flag: string, min = 1): number | undefined {
  const v = values[flag];
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isInteger(n) || n < min)
    throw new Error(`--${flag}: expected an integer >= ${min}, got "${String(v)}"`);
  return n;
}

export function feedbackOptions(values: CliValues): FeedbackOptions {
  const size = positiveInt(values, 'decisions-size');
  const ttl = positiveInt(values, 'decisions-ttl');
  const out: FeedbackOptions = {
    decisions: {
      ...(size !== undefined ? { size } : {}),
      ...(ttl !== undefined ? { ttlMs: ttl * 1000 } : {}),
    },
    feedbackRpm: positiveInt(values, 'feedback-rpm') ?? DEFAULT_FEEDBACK_RPM,
  };
  const path = values['decision-log'];
  const maxBytes = positiveInt(values, 'decision-log-max-bytes');
  const keep = positiveInt(values, 'decision-log-keep', 0);
  if (typeof path === 'string' && path !== '') {
    out.decisionLog = {
      path,
      ...(maxBytes !== undefined ? { maxBytes } : {}),
      ...(keep !== undefined ? { keep } : {}),
    };
  } else if (maxBytes !== undefined || keep !== undefined) {
    throw new Error('--decision-log-max-bytes and --decision-log-keep need --decision-log');
  }
  return out;
}
