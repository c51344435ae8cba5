/** `tiermesh outcomes export`: a sidecar decision log turned into routing outcomes for `eval`/`train --outcomes`. */
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { type DecisionLogEntry, decisionLogEntry } from '../api/decision-log.js';
import {
  type ExportStats,
  exportOutcomes,
  SKIP_REASONS,
  type SkipReason,
} from '../routing/outcomes-export.js';
import { parseCliArgs } from './args.js';

const HELP = `usage: tiermesh outcomes export --log FILE [--out FILE] [--features] [--assume-strong Q]

Reads a sidecar decision log (tiermesh sidecar --decision-log FILE; its rotated FILE.1, FILE.2, ... are read
too, oldest first, and FILE itself may be missing) and writes one JSON line per request whose outcome the log
tells:
  {"prompt": "...", "weak": q, "strong": q, "group": "<route>"}       (what eval/train --outcomes read)
Prompts are only in the log when the sidecar ran with --log-prompts; without them, use --features.

Only requests first sent to the route's cheapest tier compare it with a stronger one: a request routed higher,
or moved off the cheap tier by tier promotion, is skipped, and so are lines of a sidecar from before
decision-log v2 (they do not record which tier was tried first).
  weak    quality of the cheapest tier: the mean feedback score when its answer was served, else 0 when a
          cascade check failed that answer, else unknown
  strong  quality of the tier above, from a cascade escalation or else the latest served feedback retry one
          tier up: the mean feedback score when its answer was served, else 0 when a cascade check failed it,
          else 1 when it was served; else --assume-strong Q, else unknown
          (the user's rating of what they saw > a check's verdict > an assumption)
  Feedback and retries belong to the latest decision with their request id before them in the log.
  Skipped requests are counted on stderr, one line per reason.

  --log FILE          decision log to read
  --out FILE          write here instead of stdout
  --features          write every decision's structural features and known outcome instead (no prompt text):
                      {"requestId", "route", "initialTier", "tier", "score", "confidence", "fingerprint",
                       "features"?, "learned"?, "weak"?, "strong"?}, for threshold calibration (features and
                       fingerprint only for rules/hybrid routes; "learned": the model's own gain, its percentile
                       and, when tied, the tie's run, where score is a place the prompt's hash drew)
  --assume-strong Q   strong quality (0..1) to use when the log does not tell it
`;

/**
 * The files of a log that exist: FILE.N rotations (oldest = highest N) and then FILE itself, the order the lines were
 * written in. FILE may be missing while its rotations are not (the sidecar has not written since the last rotation,
 * or the live file was moved away); an empty list means no file of the log exists.
 */
export function logFiles(path: string): string[] {
  const dir = dirname(path);
  const base = basename(path);
  const rotated = existsSync(dir)
    ? readdirSync(dir)
        .map((f) => ({ f, n: f.startsWith(`${base}.`) ? Number(f.slice(base.length + 1)) : Number.NaN }))
        .filter((x) => Number.isInteger(x.n) && x.n > 0)
        .sort((a, b) => b.n - a.n)
        .map((x) => join(dir, x.f))
    : [];
  return existsSync(path) ? [...rotated, path] : rotated;
}

/**
 * Every entry of the log at `path` and its rotations, oldest first; unreadable lines are counted in `bad`. Throws,
 * naming the file, when no file of the log exists or one cannot be read.
 */
export function readLog(path: string, bad: string[]): DecisionLogEntry[] {
  const files = logFiles(path);
  if (files.length === 0)
    throw new Error(`${path}: no such file, and no rotated ${basename(path)}.N beside it`);
  const entries: DecisionLogEntry[] = [];
  for (const f of files) {
    let text: string;
    try {
      text = readFileSync(f, 'utf8');
    } catch (e) {
      throw new Error(`${f}: ${(e as Error).message}`);
    }
    // One by one, not push(...spread): a spread passes each entry as an argument, and one file under the default
    // 64 MiB rotation holds more lines than the call stack has room for.
    for (const e of parseLog(text, f, bad)) entries.push(e);
  }
  return entries;
}

/** Lines that are not a decision-log entry are skipped and counted by line number; their text is never echoed. */
export function parseLog(text: string, file: string, bad: string[]): DecisionLogEntry[] {
  const out: DecisionLogEntry[] = [];
  text.split('\n').forEach((line, i) => {
    if (line.trim() === '') return;
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch {
      bad.push(`${file}:${i + 1}`);
      return;
    }
    const parsed = decisionLogEntry.safeParse(value);
    if (parsed.success) out.push(parsed.data);
    else bad.push(`${file}:${i + 1}`);
  });
  return out;
}

export async function run(args: string[]): Promise<number> {
  const [sub, ...rest] = args;
  if (sub === '--help' || sub === '-h') {
    process.stdout.write(HELP);
    return 0;
  }
  if (sub !== 'export') {
    process.stderr.write(`${sub ? `unknown subcommand: ${sub}\n\n` : ''}${HELP}`);
    return 2;
  }
  const values = parseCliArgs(
    rest,
    {
      log: { type: 'string' },
      out: { type: 'string' },
      features: { type: 'boolean', default: false },
      'assume-strong': { type: 'string' },
      help: { type: 'boolean', short: 'h', default: false },
    },
    HELP,
  );
  if (typeof values === 'number') return values;
  const log = values['log'] as string | undefined;
  if (!log) {
    process.stderr.write(`--log is required\n\n${HELP}`);
    return 2;
  }
  let assumeStrong: number | undefined;
  if (values['assume-strong'] !== undefined) {
    assumeStrong = Number(values['assume-strong']);
    if (!(assumeStrong >= 0 && assumeStrong <= 1)) {
      process.stderr.write('--assume-strong: expected a number between 0 and 1\n');
      return 2;
    }
  }
  const bad: string[] = [];
  let entries: DecisionLogEntry[];
  try {
    entries = readLog(log, bad);
  } catch (e) {
    process.stderr.write(`cannot read the decision log: ${(e as Error).message}\n`);
    return 1;
  }
  const r = exportOutcomes(entries, { assumeStrong });
  const rows = values['features'] ? r.features : r.outcomes;
  const text = rows.map((x) => `${JSON.stringify(x)}\n`).join('');
  const out = values['out'] as string | undefined;
  if (out) writeFileSync(out, text);
  else process.stdout.write(text);
  process.stderr.write(summary(r.stats, rows.length, values['features'] === true, bad));
  return 0;
}

/**
 * What the export read and wrote, then one line per reason a request gave no outcome (counts only, never a line of
 * the log). With --features every decision is written; the lines then say which have no weak/strong figures.
 */
export function summary(s: ExportStats, written: number, features: boolean, bad: string[]): string {
  const lines = [
    `outcomes export: ${s.decisions} decisions (${s.withPrompt} with prompt text), ${s.feedback} feedback, ` +
      `${s.retries} retries; wrote ${written} ${features ? 'feature' : 'outcome'} lines`,
  ];
  for (const [reason, text] of Object.entries(SKIP_REASONS) as Array<[SkipReason, string]>) {
    const n = s.skipped[reason];
    // A features line needs no prompt: only the outcome lines are short of one.
    if (n === 0 || (features && reason === 'no-prompt')) continue;
    lines.push(`outcomes export: ${features ? 'no outcome for' : 'skipped'} ${n}: ${text}`);
  }
  if (bad.length > 0)
    lines.push(`outcomes export: skipped ${bad.length} unreadable lines (${bad.slice(0, 5).join(', ')})`);
  return `${lines.join('\n')}\n`;
}
