/**
 * Logging for a call that is retried in the background (usage reports, allowance requests, the config stream),
 * so its levels mean something: a failure the system expects and rides out (the operator replica answering is not
 * the leader, as happens for a few seconds after every leader change) is one info line for the whole run of
 * failures and debug lines after it; any other failure is a warning, once per run, then debug until it clears,
 * with the count when it does.
 */
import type { Logger } from 'pino';

/** Whether a failure is the expected, self-healing kind (logged at info) or worth an operator's attention. */
export type FailureClass = 'expected' | 'unexpected';

export class RetryLog {
  private failures = 0;
  private loudest: FailureClass | undefined;

  constructor(
    private readonly log: Logger | undefined,
    /** What is being retried, as the start of each message: "usage report", "allowance request". */
    private readonly what: string,
    private readonly classify: (e: unknown) => FailureClass,
  ) {}

  failed(e: unknown, fields: Record<string, unknown> = {}): void {
    this.failures++;
    const kind = this.classify(e);
    // `fields` may carry a better `err` than the error's own message (a one-line summary of an API error).
    const line = { err: e instanceof Error ? e.message : String(e), ...fields, failures: this.failures };
    // The first failure of a run, or the first unexpected one after expected ones, is said out loud.
    if (this.loudest === undefined || (this.loudest === 'expected' && kind === 'unexpected')) {
      this.loudest = kind;
      if (kind === 'expected') this.log?.info(line, `${this.what} failed; retrying`);
      else this.log?.warn(line, `${this.what} failed; retrying`);
      return;
    }
    this.log?.debug(line, `${this.what} failed again; retrying`);
  }

  succeeded(): void {
    if (this.failures === 0) return;
    this.log?.info({ failures: this.failures }, `${this.what} works again`);
    this.failures = 0;
    this.loudest = undefined;
  }
}
