/** Polls `cond` every 5 ms for up to 10 s (a condition, not a timing assertion); throws naming `what` if it never holds. */
export async function until(cond: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 2000 && !cond(); i++) await new Promise((r) => setTimeout(r, 5));
  if (!cond()) throw new Error(`never happened: ${what}`);
}
