/**
 * The cascade's `judge` check, its pure parts: a configured cheap model rates the answer 0-1 against the question
 * ("Rate answer quality 0.0-1.0"); below `minScore` the request escalates. The call itself (and booking its cost) is
 * the execute stage's; a judge that times out, fails or answers something unreadable passes the answer and is counted.
 *
 *   judgeRequest(model, request, answer): ChatCompletionRequest    what to send the judge
 *   parseJudgeScore(text): number | undefined                       the score in [0, 1], if the reply holds one
 *   judgeVerdict(outcome, minScore): JudgeVerdict                   escalate or not, and the metric's outcome label
 *
 * The judge sees the question and the answer (it has to); neither ever reaches a log or a metric from here.
 */
import type { ChatCompletionRequest, ChatMessage } from '../api/openai.js';
import { messageText } from './tokens.js';

export const JUDGE_INSTRUCTION =
  'You grade answers. Rate answer quality 0.0-1.0: 1.0 fully and correctly answers the question, 0.0 does not ' +
  'answer it or is wrong. Reply with the number only.';

/** Bounds the judge's prompt (and its cost): the head of a long question or answer is what it can judge by. */
export const JUDGE_MAX_CHARS = 6_000;

const head = (text: string) =>
  text.length <= JUDGE_MAX_CHARS ? text : `${text.slice(0, JUDGE_MAX_CHARS)}\n[... truncated]`;

/** The question: the last user turn, with the system prompt when there is one (it may define the task). */
function question(messages: readonly ChatMessage[]): string {
  const system = messages
    .filter((m) => m.role === 'system' || m.role === 'developer')
    .map(messageText)
    .join('\n');
  const lastUser = [...messages].reverse().find((m) => m.role === 'user');
  const q = lastUser ? messageText(lastUser) : '';
  return system ? `${system}\n\n${q}` : q;
}

export function judgeRequest(
  model: string,
  request: ChatCompletionRequest,
  answer: string,
): ChatCompletionRequest {
  return {
    model,
    messages: [
      { role: 'system', content: JUDGE_INSTRUCTION },
      {
        role: 'user',
        content: `Question:\n${head(question(request.messages))}\n\nAnswer:\n${head(answer)}\n\nScore (0.0-1.0):`,
      },
    ],
    temperature: 0,
    max_tokens: 8,
    stream: false,
  };
}

/**
 * The first number of the reply, when it is in [0, 1] ("0.7", "Score: 0.85", "1"). Anything else (a 0-10 scale, a
 * sentence without a number) is unreadable: the caller counts it and passes the answer.
 */
export function parseJudgeScore(text: string): number | undefined {
  const m = /-?\d+(?:\.\d+)?|-?\.\d+/.exec(text);
  if (!m) return undefined;
  const x = Number(m[0]);
  return Number.isFinite(x) && x >= 0 && x <= 1 ? x : undefined;
}

export type JudgeOutcome =
  | { kind: 'reply'; text: string }
  | { kind: 'timeout' }
  /** The call failed (any upstream error): the judge is optional, the answer must not suffer for it. */
  | { kind: 'error' };

export interface JudgeVerdict {
  escalate: boolean;
  /** The metric label: pass / fail on a score, or why there was none. */
  outcome: 'pass' | 'fail' | 'timeout' | 'error' | 'unreadable';
  score?: number;
}

export function judgeVerdict(o: JudgeOutcome, minScore: number): JudgeVerdict {
  if (o.kind !== 'reply') return { escalate: false, outcome: o.kind };
  const score = parseJudgeScore(o.text);
  if (score === undefined) return { escalate: false, outcome: 'unreadable' };
  return score < minScore
    ? { escalate: true, outcome: 'fail', score }
    : { escalate: false, outcome: 'pass', score };
}
