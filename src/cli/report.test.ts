import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { repoRoot as root, runTiermesh as run } from '../../test/helpers/cli.js';

describe('tiermesh report (real process)', { timeout: 60_000 }, () => {
  it('routes the example traffic, prints tiers and savings, writes the SVG', async () => {
    const out = join(mkdtempSync(join(tmpdir(), 'tm-report-')), 'report.svg');
    const r = await run([
      'report',
      '--config',
      'examples/standalone.yaml',
      'examples/traffic.jsonl',
      '--out',
      out,
    ]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const lines = readFileSync(join(root, 'examples', 'traffic.jsonl'), 'utf8')
      .trim()
      .split('\n');
    expect(r.stdout).toContain(`requests:       ${lines.length}`);
    const counts = [...r.stdout.matchAll(/^(cheap|standard|premium)\s+(\d+)/gm)].map((m) => Number(m[2]));
    expect(counts).toHaveLength(3);
    expect(counts.reduce((a, b) => a + b, 0)).toBe(lines.length);
    // A mixed sample must use more than one tier, and routing below the baseline model must save money.
    expect(counts.filter((c) => c > 0).length).toBeGreaterThan(1);
    const savings = Number(/savings:\s+(-?[0-9.]+)%/.exec(r.stdout)?.[1]);
    expect(savings).toBeGreaterThan(0);
    expect(savings).toBeLessThan(100);
    expect(readFileSync(out, 'utf8')).toContain(`savings ${savings.toFixed(1)}%`);
  });

  it('learned mode routes too, and bad input fails with a message', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tm-report-'));
    const cfg = join(dir, 'route.yaml');
    writeFileSync(
      cfg,
      readFileSync(join(root, 'examples', 'standalone.yaml'), 'utf8').replace(
        /mode: \w+/,
        'mode: learned\n    premiumShare: 0.5',
      ),
    );
    const traffic = join(dir, 'traffic.jsonl');
    writeFileSync(
      traffic,
      [
        JSON.stringify({ messages: [{ role: 'user', content: 'hi' }] }),
        '{oops',
        JSON.stringify({
          messages: [
            { role: 'user', content: 'Prove that the square root of 2 is irrational, step by step.' },
          ],
        }),
      ].join('\n'),
    );
    const r = await run(['report', '--config', cfg, traffic]);
    expect(r.code).toBe(0);
    expect(r.stderr).toContain('skipped line 2: not JSON');
    expect(r.stdout).toContain('requests:       2');
    const bad = await run(['report', '--config', join(dir, 'missing.yaml'), traffic]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/cannot read file/);
    const usage = await run(['report', traffic]);
    expect(usage.code).toBe(2);
    expect(usage.stderr).toMatch(/usage: tiermesh report/);
  });
});
