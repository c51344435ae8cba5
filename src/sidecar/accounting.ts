/**
 * Accounting: what every upstream answer spent, booked against budgets, the operator link and the usage metrics.
 * Spent is spent: served answers, answers a cascade check rejected, broken or abandoned streams and shadow calls are
 * all booked, with the upstream's own token counts or, when it gave none, an estimate.
 */
import type { ModelEntry, ModelRouteSpec } from '../api/modelroute.js';
import type { ChatCompletion, ChatCompletionChunk, Usage } from '../api/openai.js';
import { baselineCostUSD, type CacheTokens, costUSD } from '../budget/cost.js';
import type { BudgetGate } from '../budget/gate.js';
import type { Reservation, UsageRecord } from '../budget/types.js';
import { estimateTextTokens } from '../routing/tokens.js';
import type { Logger } from '../telemetry/logger.js';
import type { SidecarMetrics } from '../telemetry/metrics.js';

/** The counts booked for one answer; `cache` is the prompt-cache share of prompt_tokens, priced apart (budget/cost.ts). */
export type TokenCounts = Pick<Usage, 'prompt_tokens' | 'completion_tokens'> & { cache?: CacheTokens };

/** Where booked usage goes; one per sidecar. */
export interface Books {
  metrics: SidecarMetrics;
  logger: Logger;
  /** Every usage record, after the local budget gate booked it (the operator link reports them). */
  onUsage?: ((u: UsageRecord) => void) | undefined;
  now: () => number;
}

/** A token count as booked: a finite integer >= 0, or undefined when the upstream gave none that is. */
function count(n: unknown): number | undefined {
  return typeof n === 'number' && Number.isFinite(n) && n >= 0 ? Math.round(n) : undefined;
}

/**
 * The counts to book for an answer: the upstream's own where they are usable. An OpenAI-compatible server may leave
 * a count out or send garbage (`{prompt_tokens: 12, total_tokens: 12}`); such a count comes from total_tokens when it
 * can, else from `estimate`, so a cost is never NaN (a NaN poisons every budget total it is added to).
 */
export function usableUsage(
  usage: (Partial<Usage> & { cache?: CacheTokens | undefined }) | null | undefined,
  estimate: () => TokenCounts,
): TokenCounts {
  const prompt = count(usage?.prompt_tokens);
  let completion = count(usage?.completion_tokens);
  const total = count(usage?.total_tokens);
  if (completion === undefined && prompt !== undefined && total !== undefined && total >= prompt)
    completion = total - prompt;
  // Cache counts only with the upstream's own prompt count they are a part of (an estimated prompt has no cache share).
  // Counts booked once already (execute.ts hands its TokenCounts on to the account) keep their cache share.
  const details = usage?.cache ?? {
    read: usage?.prompt_tokens_details?.cached_tokens,
    write: usage?.prompt_tokens_details?.cache_creation_tokens,
  };
  const read = prompt !== undefined ? count(details.read) : undefined;
  const write = prompt !== undefined ? count(details.write) : undefined;
  const cache = read || write ? { cache: { read, write } } : {};
  if (prompt !== undefined && completion !== undefined)
    return { prompt_tokens: prompt, completion_tokens: completion, ...cache };
  const guess = estimate();
  return {
    prompt_tokens: prompt ?? guess.prompt_tokens,
    completion_tokens: completion ?? guess.completion_tokens,
    ...cache,
  };
}

/** What one upstream answer spent, priced at the model that produced it. */
export function usageRecord(
  route: string,
  model: ModelEntry,
  user: string | undefined,
  usage: TokenCounts,
  baselineUSD: number,
  at: number,
): UsageRecord {
  return {
    route,
    model: model.name,
    user,
    inputTokens: usage.prompt_tokens,
    outputTokens: usage.completion_tokens,
    costUSD: costUSD(model.pricing, usage.prompt_tokens, usage.completion_tokens, usage.cache),
    baselineCostUSD: baselineUSD,
    at,
  };
}

/** Budgets, the operator link and the usage metrics, for one answer an upstream produced. */
export function book(books: Books, budget: BudgetGate, record: UsageRecord, savedUSD: number): void {
  const alerts = budget.record(record);
  books.onUsage?.(record);
  for (const a of alerts) books.logger.warn({ ...a }, 'budget threshold crossed');
  books.metrics.usage(
    record.route,
    record.model,
    record.inputTokens,
    record.outputTokens,
    record.costUSD,
    savedUSD,
  );
}

/**
 * What a stream chunk's choices generated, for an estimate of the completion tokens when no usage arrives: the
 * text, the refusal, the reasoning and the tool calls' argument fragments (a tool call's arguments are output tokens
 * like any text).
 */
export function chunkText(chunk: ChatCompletionChunk): string {
  let text = '';
  for (const c of chunk.choices) text += generated(c.delta);
  return text;
}

/** What a whole answer's first choice generated, as chunkText: text, refusal and tool call arguments. */
export function completionText(c: ChatCompletion): string {
  const m = c.choices[0]?.message;
  return m ? generated(m) : '';
}

function generated(m: {
  content?: string | null;
  refusal?: string | null;
  tool_calls?: unknown[];
  reasoning_content?: string | null;
}): string {
  let text = '';
  if (typeof m.content === 'string') text += m.content;
  // Thinking is output too (its text; a whole thinking block in a stream repeats fragments already counted).
  if (typeof m.reasoning_content === 'string') text += m.reasoning_content;
  if (typeof m.refusal === 'string') text += m.refusal;
  if (!Array.isArray(m.tool_calls)) return text;
  for (const tc of m.tool_calls as Array<{ function?: { arguments?: unknown } } | null>) {
    const args = tc?.function?.arguments;
    if (typeof args === 'string') text += args;
  }
  return text;
}

/** Token counts for an answer the upstream did not count (aborted, or a provider without usage). */
export function estimateUsage(promptTokens: number, answer: string): Usage {
  const completion = estimateTextTokens(answer);
  return {
    prompt_tokens: promptTokens,
    completion_tokens: completion,
    total_tokens: promptTokens + completion,
  };
}

/** A request's running totals, for its headers and its log line. */
export interface Spent {
  costUSD: number;
  inputTokens: number;
  outputTokens: number;
}

/**
 * One request's account with the budget gate: holds what the gate reserved, settles it with the first booked answer
 * and releases it when the request ends without one.
 */
export class RequestAccount {
  readonly spent: Spent = { costUSD: 0, inputTokens: 0, outputTokens: 0 };
  private reservations: Reservation[];
  /** What the baseline model would have cost for the answer the client got: the request's saving is against it. */
  private servedBaselineUSD: number | undefined;

  constructor(
    private readonly books: Books,
    private readonly budget: BudgetGate,
    private readonly route: string,
    private readonly spec: ModelRouteSpec,
    private readonly user: string | undefined,
    reservations: Reservation[],
    /** The request's estimated prompt tokens: booked for an answer whose usage has no usable prompt count. */
    private readonly promptTokens = 0,
  ) {
    this.reservations = reservations;
  }

  /** What the gate reserved for the request and is not settled yet (none once an answer was booked). */
  get held(): readonly Reservation[] {
    return this.reservations;
  }

  /**
   * Books one answer's usage, priced at `model`. A count the upstream left out or garbled is estimated (from
   * `answer` for the completion). `served`: this is the answer the client got (the last one booked, by default),
   * whose baseline the request's saving is measured against when it closes.
   */
  book(
    model: ModelEntry,
    upstream: (Partial<Usage> & { cache?: CacheTokens | undefined }) | null | undefined,
    answer = '',
    served = true,
  ): UsageRecord {
    const usage = usableUsage(upstream, () => estimateUsage(this.promptTokens, answer));
    const baseline = baselineCostUSD(this.spec, usage.prompt_tokens, usage.completion_tokens, usage.cache);
    const record = usageRecord(this.route, model, this.user, usage, baseline, this.books.now());
    if (this.reservations.length > 0) {
      record.reservations = this.reservations;
      this.reservations = [];
    }
    this.spent.costUSD += record.costUSD;
    this.spent.inputTokens += usage.prompt_tokens;
    this.spent.outputTokens += usage.completion_tokens;
    if (served) this.servedBaselineUSD = baseline;
    book(this.books, this.budget, record, 0);
    return record;
  }

  /** The request is over: hands back whatever was reserved and never settled, and refreshes the budget gauges. */
  close(): void {
    const now = this.books.now();
    if (this.reservations.length > 0) {
      this.budget.release(this.reservations, now);
      this.reservations = [];
    }
    for (const b of this.budget.status(now)) this.books.metrics.budget(b.name, b.remainingUSD);
    // Once per request, against everything it spent: an escalated request that cost more than the baseline would
    // have for its answer saved nothing, whatever its cheap first answer alone would have saved.
    if (this.spec.baselineModel && this.servedBaselineUSD !== undefined)
      this.books.metrics.requestSaved(this.route, Math.max(0, this.servedBaselineUSD - this.spent.costUSD));
    this.servedBaselineUSD = undefined;
  }
}
