import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { run } from './explain.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'tiermesh-explain-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function capture(args: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const o = vi.spyOn(process.stdout, 'write').mockImplementation((s) => {
    out += String(s);
    return true;
  });
  const e = vi.spyOn(process.stderr, 'write').mockImplementation((s) => {
    err += String(s);
    return true;
  });
  try {
    return { code: await run(args), out, err };
  } finally {
    o.mockRestore();
    e.mockRestore();
  }
}

describe('tiermesh explain', () => {
  it('prints the decision for the example config as JSON and exits 0', async () => {
    const r = await capture(['--config', 'examples/standalone.yaml', 'hello there']);
    expect(r.code).toBe(0);
    const x = JSON.parse(r.out);
    expect(x).toMatchObject({ route: 'default', tier: { name: 'cheap' }, model: 'gpt-4o-mini' });
    expect(x.cost.baselineUSD).toBeGreaterThan(x.cost.estimatedUSD);
  });

  it('honours --task and --model', async () => {
    const t = await capture(['--config', 'examples/standalone.yaml', '--task', 'code', 'hello']);
    expect(JSON.parse(t.out)).toMatchObject({ source: 'task', tier: { name: 'premium' } });
    const m = await capture(['--config', 'examples/standalone.yaml', '--model', 'gpt-4o', 'hello']);
    expect(JSON.parse(m.out)).toMatchObject({ source: 'explicit-model', model: 'gpt-4o' });
  });

  it('learned-mode routes use the learned classifier', async () => {
    const text = (await readFile('examples/standalone.yaml', 'utf8')).replace(/mode: \w+/, 'mode: learned');
    const path = join(dir, 'learned.yaml');
    await writeFile(path, text);
    const r = await capture(['--config', path, 'Prove that every bounded monotone sequence converges.']);
    expect(r.code).toBe(0);
    const x = JSON.parse(r.out);
    expect(x.classification.source).toBe('learned');
    expect(x.classification.signals).toContain('learned');
  });

  it('an unknown model is an error naming the param, exit 1', async () => {
    const r = await capture(['--config', 'examples/standalone.yaml', '--model', 'nope', 'hello']);
    expect(r.code).toBe(1);
    expect(r.err).toContain('TM_MODEL_NOT_FOUND');
    expect(r.out).toBe('');
  });

  it('a config error names the field, exit 1', async () => {
    const text = (await readFile('examples/standalone.yaml', 'utf8')).replace(
      'contextWindow: 128000',
      'contextWindow: -5',
    );
    const path = join(dir, 'bad.yaml');
    await writeFile(path, text);
    const r = await capture(['--config', path, 'hello']);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/spec\.models\[0\]\.contextWindow/);
  });

  it('a missing file or missing arguments fail', async () => {
    expect((await capture(['--config', join(dir, 'none.yaml'), 'x'])).code).toBe(1);
    expect((await capture(['hello'])).code).toBe(2);
    expect((await capture(['--config', 'examples/standalone.yaml'])).code).toBe(2);
    expect((await capture(['--bogus'])).code).toBe(2);
  });

  it('explains a whole request body: capabilities needed, models skipped, priority class', async () => {
    const text = (await readFile('examples/standalone.yaml', 'utf8'))
      .replace(
        'pricing: { inputPerMTok: 0.15, outputPerMTok: 0.6 }',
        'pricing: { inputPerMTok: 0.15, outputPerMTok: 0.6 }\n      capabilities: { vision: false }',
      )
      .replace(
        '  classifier:\n',
        '  priority:\n    classes: { batch: { maxTier: cheap }, exec: { minTier: standard } }\n  classifier:\n',
      );
    expect(text).toContain('capabilities: { vision: false }');
    const config = join(dir, 'caps.yaml');
    await writeFile(config, text);
    const body = join(dir, 'body.json');
    await writeFile(
      body,
      JSON.stringify({
        model: 'auto',
        messages: [
          {
            role: 'user',
            content: [
              { type: 'text', text: 'what is this?' },
              { type: 'image_url', image_url: { url: 'https://example.invalid/x.png' } },
            ],
          },
        ],
      }),
    );
    const r = await capture(['--config', config, '--priority', 'batch', '--request', body]);
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    const x = JSON.parse(r.out);
    expect(x).toMatchObject({
      tier: { name: 'cheap' },
      model: 'claude-3-5-haiku-latest',
      // An https image URL is also a need: Gemini cannot fetch one (src/routing/capabilities.ts).
      needs: [
        { capability: 'vision', param: 'messages[0].content[1]' },
        { capability: 'image_urls', param: 'messages[0].content[1]' },
      ],
      skipped: [{ model: 'gpt-4o-mini', tier: 'cheap', reason: 'vision' }],
      priority: { class: 'batch', source: 'header', minTier: 'cheap', maxTier: 'cheap' },
      cascade: [],
    });
    const bad = await capture(['--config', config, '--priority', 'urgent', 'hello']);
    expect(bad.code).toBe(1);
    expect(bad.err).toContain('(param: x-tiermesh-priority)');
  });

  it('--request must be a valid chat request, and replaces the prompt', async () => {
    const body = join(dir, 'empty.json');
    await writeFile(body, JSON.stringify({ model: 'auto', messages: [] }));
    const r = await capture(['--config', 'examples/standalone.yaml', '--request', body]);
    expect(r.code).toBe(1);
    expect(r.err).toContain('messages');
    expect((await capture(['--config', 'examples/standalone.yaml', '--request', body, 'hi'])).code).toBe(2);
  });
});
