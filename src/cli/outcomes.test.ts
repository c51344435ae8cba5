import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runTiermesh as run } from '../../test/helpers/cli.js';
import { parseOutcomes } from '../routing/learned/outcomes.js';
import { logFiles, parseLog, readLog } from './outcomes.js';

const at = '2026-12-01T10:00:00.000Z';
/** A v2 line: the cheap tier answered first, failed the `empty` check, and premium served. */
const decision = (id: string, extra: Record<string, unknown> = {}) => ({
  type: 'decision',
  v: 2,
  at,
  requestId: id,
  route: 'default',
  initialTier: 'cheap',
  tierIndex: 0,
  tier: 'premium',
  model: 'big',
  provider: 'sim',
  source: 'rules',
  score: 0.3,
  confidence: 0.7,
  signals: ['short-question'],
  fingerprint: 'abc123abc123',
  features: { chars: 20 },
  costUSD: 0.01,
  cascade: [
    { tier: 'cheap', model: 'mini', ok: false, checked: true, check: 'empty', to: 'premium' },
    { tier: 'premium', model: 'big', ok: true, checked: false },
  ],
  escalations: 1,
  bandEscalated: false,
  status: 200,
  stream: false,
  ...extra,
});
const jsonl = (xs: unknown[]) => xs.map((x) => `${JSON.stringify(x)}\n`).join('');

describe('logFiles', () => {
  it('lists rotations oldest first, then the live file', () => {
    const dir = mkdtempSync(join(tmpdir(), 'tm-out-'));
    for (const f of ['d.jsonl', 'd.jsonl.1', 'd.jsonl.2', 'd.jsonl.10', 'd.jsonl.x', 'other.1'])
      writeFileSync(join(dir, f), '');
    expect(logFiles(join(dir, 'd.jsonl')).map((f) => f.slice(dir.length + 1))).toEqual([
      'd.jsonl.10',
      'd.jsonl.2',
      'd.jsonl.1',
      'd.jsonl',
    ]);
  });
});

describe('readLog', () => {
  it('reads one file of more lines than a call can take as arguments (64 MiB of decision lines is some 140k)', () => {
    const dir = mkdtempSync(join(tmpdir(), 'tm-out-'));
    // A feedback line: the shortest entry, so the file is small and quick to parse.
    const { requestId, route, tier, initialTier, model } = decision('r');
    const line = JSON.stringify({
      type: 'feedback',
      at,
      requestId,
      route,
      tier,
      initialTier,
      model,
      score: 1,
      retry: false,
    });
    const n = 150_000;
    writeFileSync(join(dir, 'd.jsonl'), `${line}\n`.repeat(n));
    const bad: string[] = [];
    const entries = readLog(join(dir, 'd.jsonl'), bad);
    expect(entries).toHaveLength(n);
    expect(bad).toEqual([]);
  });

  it('reads the rotations when the live file is missing, and names the log when no file of it exists', () => {
    const dir = mkdtempSync(join(tmpdir(), 'tm-out-'));
    const log = join(dir, 'd.jsonl');
    expect(() => readLog(log, [])).toThrow(`${log}: no such file, and no rotated d.jsonl.N beside it`);
    writeFileSync(`${log}.2`, jsonl([decision('a')]));
    writeFileSync(`${log}.1`, jsonl([decision('b')]));
    expect(logFiles(log)).toEqual([`${log}.2`, `${log}.1`]);
    expect(readLog(log, []).map((e) => e.requestId)).toEqual(['a', 'b']);
  });
});

describe('parseLog', () => {
  it('skips broken and foreign lines by number without echoing them', () => {
    const bad: string[] = [];
    // A line that says v2 without what v2 adds is broken, not old.
    const half = { ...decision('b'), tierIndex: undefined };
    const text = `${jsonl([decision('a')])}{"secret prompt"\n{"type":"other"}\n${jsonl([half])}`;
    expect(parseLog(text, 'f', bad).map((e) => e.requestId)).toEqual(['a']);
    expect(bad).toEqual(['f:2', 'f:3', 'f:4']);
    expect(bad.join()).not.toContain('secret');
  });
});

describe('tiermesh outcomes export (real process)', { timeout: 60_000 }, () => {
  it('turns a rotated log into outcome lines, and into features without prompts', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tm-out-'));
    const log = join(dir, 'decisions.jsonl');
    const { v: _v, tierIndex: _t, ...before } = decision('old', { prompt: 'an old line' });
    const premium = {
      ...decision('p', { prompt: 'prove it', initialTier: 'premium', tierIndex: 1, escalations: 0 }),
      cascade: [{ tier: 'premium', model: 'big', ok: true, checked: false }],
    };
    writeFileSync(`${log}.1`, jsonl([decision('a', { prompt: 'what is 2+2?' }), before, premium]));
    writeFileSync(
      log,
      jsonl([
        decision('b'),
        decision('c', {
          prompt: 'hello',
          tier: 'cheap',
          model: 'mini',
          escalations: 0,
          cascade: [{ tier: 'cheap', model: 'mini', ok: true, checked: false }],
        }),
        ...['c', 'p'].map((id) => ({
          type: 'feedback',
          at,
          requestId: id,
          route: 'default',
          tier: id === 'c' ? 'cheap' : 'premium',
          initialTier: id === 'c' ? 'cheap' : 'premium',
          model: 'mini',
          score: id === 'c' ? 1 : 0,
          retry: false,
        })),
      ]),
    );
    const out = join(dir, 'outcomes.jsonl');
    const r = await run(['outcomes', 'export', '--log', log, '--out', out]);
    expect(r.code).toBe(0);
    expect(readFileSync(out, 'utf8')).toBe(
      `${JSON.stringify({ prompt: 'what is 2+2?', weak: 0, strong: 1, group: 'default' })}\n`,
    );
    expect(r.stderr).toContain('5 decisions (4 with prompt text)');
    // One line per reason, counts only: no prompt text of the skipped lines.
    expect(r.stderr).toContain('skipped 1: written before decision-log v2');
    expect(r.stderr).toContain("skipped 1: first sent to a tier above the route's cheapest");
    expect(r.stderr).toContain('skipped 1: nothing tells how the tier above would have done');
    expect(r.stderr).toContain('skipped 1: no prompt text');
    expect(r.stderr).not.toContain('an old line');
    // The contract with eval/train --outcomes: their own parser reads what we wrote.
    expect(parseOutcomes(readFileSync(out, 'utf8'))).toEqual([
      { prompt: 'what is 2+2?', weak: 0, strong: 1, group: 'default' },
    ]);

    const assumed = await run(['outcomes', 'export', '--log', log, '--assume-strong', '1']);
    expect(
      assumed.stdout
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l).prompt),
    ).toEqual(['what is 2+2?', 'hello']);

    const f = await run(['outcomes', 'export', '--log', log, '--features']);
    const rows = f.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(rows.map((x) => x.requestId)).toEqual(['a', 'old', 'p', 'b', 'c']);
    expect(rows[1]).not.toHaveProperty('weak');
    expect(rows[2]).not.toHaveProperty('weak');
    expect(f.stderr).toContain('no outcome for 1: written before decision-log v2');
    expect(f.stderr).not.toContain('no prompt text');
    expect(rows[3]).toMatchObject({
      fingerprint: 'abc123abc123',
      features: { chars: 20 },
      weak: 0,
      strong: 1,
    });
    expect(f.stdout).not.toContain('what is 2+2?');
  });

  it('reads the rotations of a log whose live file is missing; fails clearly when it has none', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tm-out-'));
    const log = join(dir, 'decisions.jsonl');
    const none = await run(['outcomes', 'export', '--log', log]);
    expect(none.code).toBe(1);
    expect(none.stderr).toContain(`cannot read the decision log: ${log}: no such file`);
    writeFileSync(`${log}.1`, jsonl([decision('a', { prompt: 'what is 2+2?' })]));
    const r = await run(['outcomes', 'export', '--log', log]);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(
      `${JSON.stringify({ prompt: 'what is 2+2?', weak: 0, strong: 1, group: 'default' })}\n`,
    );
  });

  it('refuses a missing --log and a bad --assume-strong', async () => {
    expect((await run(['outcomes', 'export'])).code).toBe(2);
    expect((await run(['outcomes', 'export', '--log', 'x', '--assume-strong', '2'])).code).toBe(2);
    expect((await run(['outcomes', 'nope'])).code).toBe(2);
  });
});
