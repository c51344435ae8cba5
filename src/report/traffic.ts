/** One line of a traffic sample (traffic.jsonl): a chat request plus optional routing headers and expected usage. */
import { z } from 'zod';
import { type ChatCompletionRequest, chatMessage } from '../api/openai.js';

export const trafficLine = z.looseObject({
  model: z.string().min(1).default('auto'),
  messages: z.array(chatMessage).min(1),
  max_tokens: z.number().int().min(1).optional(),
  task: z.string().max(63).optional().describe('Sent as the x-tiermesh-task header.'),
  user: z.string().max(256).optional(),
  usage: z
    .object({ prompt_tokens: z.number().int().min(0), completion_tokens: z.number().int().min(0) })
    .optional()
    .describe('Expected token counts; estimated from the text when absent.'),
});
export type TrafficLine = z.infer<typeof trafficLine>;

export interface ParsedTraffic {
  lines: { line: number; request: ChatCompletionRequest; entry: TrafficLine }[];
  problems: string[];
}

/** Parses JSONL text; bad lines are reported by number and skipped, blank lines ignored. */
export function parseTraffic(text: string): ParsedTraffic {
  const out: ParsedTraffic = { lines: [], problems: [] };
  text.split('\n').forEach((raw, i) => {
    if (raw.trim() === '') return;
    let json: unknown;
    try {
      json = JSON.parse(raw);
    } catch {
      out.problems.push(`line ${i + 1}: not JSON`);
      return;
    }
    const r = trafficLine.safeParse(json);
    if (!r.success) {
      const issue = r.error.issues[0];
      out.problems.push(
        `line ${i + 1}: ${issue?.path.join('.') || '(root)'}: ${issue?.message ?? 'invalid'}`,
      );
      return;
    }
    const { task: _task, usage: _usage, ...request } = r.data;
    out.lines.push({ line: i + 1, request: request as ChatCompletionRequest, entry: r.data });
  });
  return out;
}
