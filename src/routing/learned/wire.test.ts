import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import type { ChatCompletionRequest } from '../../api/openai.js';
import type { Snapshot } from '../../api/snapshot.js';
import { compileManifests, parseManifests } from '../../config/manifests.js';
import { decide } from '../decide.js';
import { explainDecision } from '../explain.js';
import { tiePosition } from './calibration.js';
import { classifierFromModel, type LearnedClassifier } from './classifier.js';
import { loadLearnedClassifier } from './model.js';
import { trainOnOutcomes } from './train-outcomes.js';
import { DEFAULT_PREMIUM_SHARE, learnedScorer, learnedThreshold, withLearnedThresholds } from './wire.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const example = readFileSync(join(root, 'examples', 'standalone.yaml'), 'utf8');

function snapshotWith(classifier: string): Snapshot {
  return compileManifests(
    parseManifests(example.replace(/ {2}classifier:\n {4}mode: \w+\n {4}confidenceBand: 0.1\n/, classifier)),
  );
}

/** A stand-in classifier: "hard" prompts score 0.9, others 0.05; calibration uniform on [0, 1]. */
const fake: LearnedClassifier = {
  score: (t) => (t.includes('hard') ? 0.9 : 0.05),
  headOf: () => 'fake',
  heads: ['fake'],
  tableBytes: 0,
  thresholdForShare: (s) => 1 - s,
  shareAbove: (t) => 1 - t,
};

/** Scores a prompt by the number in it: traffic with any score distribution, unlike the calibration set. */
const numeric: LearnedClassifier = {
  ...fake,
  score: (t) => Number(t.replace(/\D/g, '')) / 1000,
  // Calibration says everything scores in [0, 1] uniformly; the traffic below is bunched in [0.2, 0.3].
  shareAbove: (t) => 1 - Math.min(1, Math.max(0, t)),
};

const ask = (content: string): ChatCompletionRequest => ({
  model: 'auto',
  messages: [{ role: 'user', content }],
});

describe('learned classifier wiring', () => {
  it('threshold (as its percentile) wins over premiumShare; neither means the default share', () => {
    expect(
      learnedThreshold({ mode: 'learned', confidenceBand: 0.1, threshold: 0.42, premiumShare: 0.9 }, fake),
    ).toBeCloseTo(0.42, 9);
    const skewed: LearnedClassifier = { ...fake, shareAbove: (t) => (t > 0.2 ? 0.1 : 0.6) };
    expect(learnedThreshold({ mode: 'learned', confidenceBand: 0.1, threshold: 0.3 }, skewed)).toBeCloseTo(
      0.9,
      9,
    );
    expect(learnedThreshold({ mode: 'learned', confidenceBand: 0.1, premiumShare: 0.2 }, fake)).toBeCloseTo(
      0.8,
      9,
    );
    expect(learnedThreshold({ mode: 'hybrid', confidenceBand: 0.1 }, fake)).toBeCloseTo(
      1 - DEFAULT_PREMIUM_SHARE,
      9,
    );
  });

  it("the operator's calibration offset raises the share: from premiumShare, from a gain threshold, from 0", () => {
    const spec = { mode: 'learned' as const, confidenceBand: 0.1 };
    expect(learnedThreshold({ ...spec, premiumShare: 0.2 }, fake, 0.06)).toBeCloseTo(0.74, 9);
    expect(learnedThreshold({ ...spec, threshold: 0.9 }, fake, 0.05)).toBeCloseTo(0.85, 9);
    // premiumShare 0 is "never" without an offset, a share of the offset with one.
    expect(learnedThreshold({ ...spec, premiumShare: 0 }, fake, 0)).toBeGreaterThan(1);
    expect(learnedThreshold({ ...spec, premiumShare: 0 }, fake, 0.1)).toBeCloseTo(0.9, 9);
    expect(learnedThreshold({ ...spec, premiumShare: 0.95 }, fake, 0.1)).toBe(0);
    const s = snapshotWith('  classifier:\n    mode: learned\n    premiumShare: 0.25\n');
    const calibrated = { ...s, routes: s.routes.map((r) => ({ ...r, calibration: { offset: 0.1 } })) };
    expect(withLearnedThresholds(calibrated, fake).routes[0]!.spec.classifier.threshold).toBeCloseTo(0.65, 9);
  });

  it('resolves thresholds of learned/hybrid routes only, without touching the input', () => {
    const s = snapshotWith('  classifier:\n    mode: learned\n    premiumShare: 0.25\n');
    const out = withLearnedThresholds(s, fake);
    expect(out.routes[0]!.spec.classifier.threshold).toBeCloseTo(0.75, 9);
    expect(s.routes[0]!.spec.classifier.threshold).toBeUndefined();
    const rules = snapshotWith('  classifier:\n    mode: rules\n');
    expect(withLearnedThresholds(rules, fake).routes[0]).toBe(rules.routes[0]);
  });

  it('decide() in learned mode sends prompts over the threshold above the cheapest tier', () => {
    const s = withLearnedThresholds(
      snapshotWith('  classifier:\n    mode: learned\n    confidenceBand: 0\n    premiumShare: 0.3\n'),
      fake,
    );
    const learned = learnedScorer(fake);
    expect(learned('hard')).toBeCloseTo(0.9, 9);
    const easy = decide({ snapshot: s, request: ask('what time is it'), learned });
    const hard = decide({ snapshot: s, request: ask('a hard question'), learned });
    expect(easy.classification.source).toBe('learned');
    expect(easy.tierIndex).toBe(0);
    expect(hard.tierIndex).toBeGreaterThan(0);
  });

  it("premiumShare 0.3 sends 30% of the route's own traffic above the cheapest tier, band or not", () => {
    for (const band of [0, 0.1]) {
      const s = withLearnedThresholds(
        snapshotWith(
          `  classifier:\n    mode: learned\n    confidenceBand: ${band}\n    premiumShare: 0.3\n`,
        ),
        numeric,
      );
      const learned = learnedScorer(numeric);
      let above = 0;
      let counted = 0;
      for (let i = 0; i < 3000; i++) {
        // Scores 0.200..0.299, shuffled: the calibration scale would send none above the cheapest tier.
        const n = 200 + ((i * 37) % 100);
        const d = decide({ snapshot: s, request: ask(`request ${n}`), learned });
        if (i >= 1000) {
          counted++;
          if (d.tierIndex > 0) above++;
        }
      }
      expect(above / counted).toBeGreaterThan(0.27);
      expect(above / counted).toBeLessThan(0.33);
    }
  });

  it("with the operator's offset 0.1 on premiumShare 0.3, 40% of the route's own traffic leaves the cheapest tier", () => {
    const base = snapshotWith(
      '  classifier:\n    mode: learned\n    confidenceBand: 0.1\n    premiumShare: 0.3\n',
    );
    const s = withLearnedThresholds(
      { ...base, routes: base.routes.map((r) => ({ ...r, calibration: { offset: 0.1 } })) },
      numeric,
    );
    const learned = learnedScorer(numeric);
    let above = 0;
    for (let i = 0; i < 3000; i++) {
      const n = 200 + ((i * 37) % 100);
      const d = decide({ snapshot: s, request: ask(`request ${n}`), learned });
      if (i >= 1000 && d.tierIndex > 0) above++;
    }
    expect(above / 2000).toBeGreaterThan(0.37);
    expect(above / 2000).toBeLessThan(0.43);
  });

  it('before a route has enough traffic, the calibration quantiles set the percentile; routes are calibrated apart', () => {
    const learned = learnedScorer(numeric, { minSamples: 3, window: 10 });
    expect(learned('request 250', 'a')).toBeCloseTo(0.25, 9); // calibration: 1 - shareAbove(0.25)
    learned('request 100', 'a');
    learned('request 300', 'a');
    // Route "a" has 3 samples now (250, 100, 300): its own scale.
    expect(learned('request 200', 'a')).toBeCloseTo(1 / 3, 9);
    // Route "b" has none: still the calibration scale.
    expect(learned('request 200', 'b')).toBeCloseTo(0.2, 9);
  });

  it('peek gives what a real call would get now and records nothing: real calls around peeks are placed as without them', () => {
    const real = learnedScorer(numeric, { minSamples: 3, window: 20 });
    const twin = learnedScorer(numeric, { minSamples: 3, window: 20 });
    const prompts = Array.from({ length: 60 }, (_, i) => `request ${200 + ((i * 37) % 100)}`);
    // Before the window fills (calibration scale) and after (its own scale), on a known route and a new one.
    for (const [i, p] of prompts.entries()) {
      const peeked = real.peek(p, 'a');
      const peekedTie = { ...real.peek.tie };
      expect(real.peek.gain).toBeCloseTo(numeric.score(p), 12);
      // A burst of skewed explains (all low scores) in between: they must not drag the real percentiles.
      for (let k = 0; k < 5; k++) real.peek(`request ${k}`, 'a');
      real.peek('request 999', `new-${i}`);
      const got = real(p, 'a');
      expect(got).toBe(peeked);
      expect({ ...real.tie }).toEqual(peekedTie);
      expect(got).toBe(twin(p, 'a'));
      expect(real.gain).toBe(twin.gain);
    }
    // The peeked routes got no window: their first real call is still on the calibration scale.
    expect(real('request 500', 'new-0')).toBeCloseTo(0.5, 9);
  });

  it('decide() with the peek scorer decides as the real one would, tie and gain included', () => {
    const s = withLearnedThresholds(
      snapshotWith('  classifier:\n    mode: learned\n    confidenceBand: 0\n    premiumShare: 0.3\n'),
      numeric,
    );
    const learned = learnedScorer(numeric, { minSamples: 5 });
    for (let i = 0; i < 10; i++) decide({ snapshot: s, request: ask(`request ${200 + i * 10}`), learned });
    for (const n of [150, 250, 280, 400]) {
      const peeked = decide({ snapshot: s, request: ask(`request ${n}`), learned: learned.peek });
      const got = decide({ snapshot: s, request: ask(`request ${n}`), learned });
      expect(peeked.classification).toEqual(got.classification);
      expect(peeked.tierIndex).toBe(got.tierIndex);
      expect(got.classification.learned?.gain).toBeCloseTo(n / 1000, 12);
    }
  });

  it('the shipped classifier plugs into decide() too', () => {
    const s = withLearnedThresholds(snapshotWith('  classifier:\n    mode: hybrid\n    premiumShare: 0.3\n'));
    const d = decide({
      snapshot: s,
      request: ask('hello!'),
      learned: learnedScorer(loadLearnedClassifier()),
    });
    expect(d.classification.source).toBe('hybrid');
    expect(d.classification.signals).toContain('learned');
  });
});

describe('ties keep premiumShare', () => {
  // What `tiermesh train` writes for outcomes that carry no signal: a constant head, every score and quantile equal.
  // (The strong model helps on every prompt alike: there is a gain to recover, so train accepts them, but nothing
  // in a prompt says where it is larger.)
  const trained = trainOnOutcomes(
    Array.from({ length: 120 }, (_, i) => ({
      prompt: `question ${i} about ${'topic '.repeat(i % 9)}`,
      weak: 0,
      strong: 1,
    })),
  );
  const constant = classifierFromModel(JSON.parse(JSON.stringify(trained.file)));
  const subjects = [
    'kubernetes',
    'tax law',
    'sorting',
    'poetry',
    'chemistry',
    'football',
    'baking',
    'networks',
  ];
  /** Varied prompts, all of which the constant model scores alike. */
  const varied = (i: number) => `${i % 2 ? 'Explain' : 'What is'} ${subjects[i % 8]} (ticket ${i})?`;
  const route = (c: LearnedClassifier, share: number, band: number) =>
    withLearnedThresholds(
      snapshotWith(
        `  classifier:\n    mode: learned\n    confidenceBand: ${band}\n    premiumShare: ${share}\n`,
      ),
      c,
    );

  it('the trained constant model really ties: one score, one calibration quantile', () => {
    expect(trained.chosen).toBe('constant');
    expect(new Set(trained.file.calibration).size).toBe(1);
    expect(new Set(Array.from({ length: 50 }, (_, i) => constant.score(varied(i)))).size).toBe(1);
  });

  it('a constant-score stream sends premiumShare of its varied prompts up: on the calibration scale and on its own window', () => {
    for (const minSamples of [Number.POSITIVE_INFINITY, 50])
      for (const band of [0, 0.1])
        for (const share of [0.3, 0.6]) {
          const s = route(constant, share, band);
          const learned = learnedScorer(constant, { minSamples });
          let above = 0;
          for (let i = 0; i < 3100; i++) {
            const d = decide({ snapshot: s, request: ask(varied(i)), learned });
            if (i >= 100 && d.tierIndex > 0) above++;
          }
          expect(above / 3000, `share ${share}, band ${band}, minSamples ${minSamples}`).toBeGreaterThan(
            share - 0.03,
          );
          expect(above / 3000).toBeLessThan(share + 0.03);
        }
  });

  it('a tie across the threshold is split in proportion, the untied rest ranked as before', () => {
    // Half the traffic ties at 0.5 in the middle of the other half's uniform spread: percentile run [0.25, 0.75].
    const bunched: LearnedClassifier = {
      ...fake,
      score: (t) => (t.startsWith('same') ? 0.5 : Number(t.split(' ')[1]) / 1000),
    };
    const prompt = (i: number) => (i % 2 ? `same score, ticket ${i}` : `spread ${(i * 389) % 1000}`);
    // premiumShare 0.3: the 25% above the tie and a tenth of the tie; 0.6: 25% and 70% of the tie.
    for (const share of [0.3, 0.6]) {
      const s = route(bunched, share, 0.1);
      const learned = learnedScorer(bunched);
      let above = 0;
      let tiedAbove = 0;
      for (let i = 0; i < 4100; i++) {
        const d = decide({ snapshot: s, request: ask(prompt(i)), learned });
        if (i < 100 || d.tierIndex === 0) continue;
        above++;
        if (i % 2) tiedAbove++;
      }
      expect(above / 4000).toBeGreaterThan(share - 0.03);
      expect(above / 4000).toBeLessThan(share + 0.03);
      expect(tiedAbove / 2000).toBeCloseTo((0.75 - (1 - share)) / 0.5, 1);
    }
  });

  it('identical prompts are routed alike: the same text takes the same place in every tie', () => {
    // Two prompts repeated among varied ones: one whose place is above the 0.7 threshold, one below.
    const repeated = ['Summarise this email.', 'Translate this to French.', 'Fix the typo.', 'Say hi.'];
    const up = repeated.find((t) => tiePosition(t) >= 0.75)!;
    const down = repeated.find((t) => tiePosition(t) < 0.65)!;
    expect(up).toBeDefined();
    expect(down).toBeDefined();
    const s = route(constant, 0.3, 0.1);
    const learned = learnedScorer(constant);
    // Above the cheapest tier or not, per repeated prompt.
    const tiers = { up: new Set<boolean>(), down: new Set<boolean>() };
    let variedAbove = 0;
    for (let i = 0; i < 2000; i++) {
      const text = i % 5 === 0 ? up : i % 5 === 1 ? down : varied(i);
      const d = decide({ snapshot: s, request: ask(text), learned });
      if (text === up) tiers.up.add(d.tierIndex > 0);
      else if (text === down) tiers.down.add(d.tierIndex > 0);
      else if (d.tierIndex > 0) variedAbove++;
    }
    expect([...tiers.up]).toEqual([true]);
    expect([...tiers.down]).toEqual([false]);
    expect(variedAbove / 1200).toBeGreaterThan(0.25);
    expect(variedAbove / 1200).toBeLessThan(0.35);
  });

  it("a tied prompt's classification keeps the model's own score apart from its hash-drawn place in the tie", () => {
    const s = route(constant, 0.3, 0);
    const name = s.routes[0]!.name;
    const learned = learnedScorer(constant, { minSamples: 5 });
    for (let i = 0; i < 10; i++) learned(varied(i), name);
    const gain = constant.score(varied(0));
    const ds = [11, 12, 13, 14].map((i) => decide({ snapshot: s, request: ask(varied(i)), learned }));
    for (const d of ds) {
      const l = d.classification.learned!;
      // One model score for all of them, the whole window one tie: the percentile is a place the hash drew.
      expect(l.gain).toBe(gain);
      expect(l.tie).toEqual({ lo: 0, hi: 1 });
      expect(l.percentile).toBeGreaterThanOrEqual(0);
      expect(l.percentile).toBeLessThanOrEqual(1);
    }
    expect(new Set(ds.map((d) => d.classification.learned!.percentile)).size).toBe(4);
    expect(new Set(ds.map((d) => d.classification.score)).size).toBeGreaterThan(1);
    // Untied: no tie, and the percentile is the score's own place in the window.
    const n = learnedScorer(numeric, { minSamples: 3 });
    for (const t of ['request 100', 'request 200', 'request 300']) n(t, name);
    const u = decide({ snapshot: route(numeric, 0.3, 0), request: ask('request 250'), learned: n });
    expect(u.classification.learned).toEqual({ gain: 0.25, percentile: 2 / 3 });
    // Rules mode has none.
    const rules = decide({ snapshot: snapshotWith('  classifier:\n    mode: rules\n'), request: ask('hi') });
    expect(rules.classification.learned).toBeUndefined();
  });

  it('explain says when a tie was split, with the confidence of the middle of the tie', () => {
    const s = route(constant, 0.3, 0.1);
    const name = s.routes[0]!.name;
    const learned = learnedScorer(constant, { minSamples: 5 });
    for (let i = 0; i < 10; i++) learned(varied(i), name);
    const e = explainDecision(decide({ snapshot: s, request: ask(varied(99)), learned }));
    expect(e.classification.signals.slice(0, 2)).toEqual(['learned', 'learned-tie']);
    // The whole window is one tie: the model cannot tell this prompt from any other.
    expect(e.classification.confidence).toBe(0.5);
    expect(learned.tie).toEqual({ lo: 0, hi: 1 });
    // Untied scores say nothing of ties, and their confidence is their percentile's as before.
    const n = learnedScorer(numeric, { minSamples: 3 });
    for (const t of ['request 100', 'request 200', 'request 300']) n(t, name);
    const u = explainDecision(
      decide({ snapshot: route(numeric, 0.3, 0.1), request: ask('request 250'), learned: n }),
    );
    expect(u.classification.signals).not.toContain('learned-tie');
    expect(u.classification.signals[0]).toBe('learned');
    expect(u.classification.confidence).toBeCloseTo(0.5 + Math.abs(2 / 3 - 0.5), 5);
    expect(n.tie.lo).toBe(n.tie.hi);
  });
});
