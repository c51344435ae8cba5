/**
 * The rule classifier: structural signals plus the route's `spec.classifier.rules`, to a difficulty score.
 *
 *   compiledClassifier(spec): CompiledClassifier     rules compiled once per spec object (one per config version)
 *   structuralScore(features): Scored                score/confidence/signals from structure alone
 *   applyRules(compiled, text, base): Scored         blends the rule votes into a base score
 *   classifyRules(compiled, features, text): Classification
 */
import type { ModelRouteSpec } from '../api/modelroute.js';
import type { Features } from './features.js';
import { regexHazard } from './regex-hazard.js';
import { clamp01, scoreToTier, tierCenter } from './tiering.js';
import type { Classification } from './types.js';

export interface CompiledRule {
  name: string;
  tierIndex: number;
  weight: number;
  pattern: RegExp | undefined;
  keywords: RegExp | undefined;
}

export interface CompiledClassifier {
  tiers: number;
  band: number;
  rules: CompiledRule[];
}

export interface Scored {
  score: number;
  confidence: number;
  signals: string[];
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** Keywords match whole words, case-insensitively: "sql" must not fire inside "mysql" ... unless written so. */
function keywordRegExp(keywords: string[]): RegExp | undefined {
  const alts = keywords
    .filter((k) => k.trim() !== '')
    .map((k) => {
      const t = k.trim();
      return `${/^\w/.test(t) ? '\\b' : ''}${escapeRegExp(t)}${/\w$/.test(t) ? '\\b' : ''}`;
    });
  return alts.length > 0 ? new RegExp(alts.join('|'), 'i') : undefined;
}

export function compileClassifier(spec: ModelRouteSpec): CompiledClassifier {
  const tierIndex = new Map(spec.tiers.map((t, i) => [t.name, i]));
  const rules: CompiledRule[] = [];
  for (const r of spec.classifier.rules ?? []) {
    const index = tierIndex.get(r.tier);
    // The compiler rejects rules naming unknown tiers or bad patterns; a stale spec skips them rather than crash.
    if (index === undefined) continue;
    let pattern: RegExp | undefined;
    if (r.pattern !== undefined) {
      // Refused by the schema; a snapshot from an operator that did not screen it still never runs it.
      if (regexHazard(r.pattern)) continue;
      try {
        pattern = new RegExp(r.pattern, 'i');
      } catch {
        continue;
      }
    }
    const keywords = r.keywords ? keywordRegExp(r.keywords) : undefined;
    if (!pattern && !keywords) continue;
    rules.push({ name: r.name, tierIndex: index, weight: r.weight ?? 1, pattern, keywords });
  }
  return { tiers: spec.tiers.length, band: spec.classifier.confidenceBand, rules };
}

/** Keyed by the spec object: a snapshot never mutates, so a new config version brings new spec objects. */
const cache = new WeakMap<ModelRouteSpec, CompiledClassifier>();

export function compiledClassifier(spec: ModelRouteSpec): CompiledClassifier {
  let c = cache.get(spec);
  if (!c) {
    c = compileClassifier(spec);
    cache.set(spec, c);
  }
  return c;
}

const NEUTRAL = 0.2;

/**
 * Hand-set weights: each signal nudges the difficulty; easy signals pull it down. Confidence grows with strong,
 * agreeing signals and drops when easy and hard signals conflict (a greeting with a stack trace).
 */
export function structuralScore(f: Features): Scored {
  const signals: string[] = [];
  let score = NEUTRAL;
  let strong = 0;
  let hard = false;
  let easy = false;

  if (f.promptTokens > 8000) {
    score += 0.3;
    signals.push('very-long-prompt');
    strong++;
    hard = true;
  } else if (f.promptTokens > 2000) {
    score += 0.18;
    signals.push('long-prompt');
  } else if (f.promptTokens > 600) {
    score += 0.08;
    signals.push('medium-prompt');
  }
  if (f.codeFences > 0) {
    score += 0.25;
    signals.push('code-block');
    strong++;
    hard = true;
  } else if (f.codeTokens >= 3) {
    score += 0.2;
    signals.push('code');
    hard = true;
  } else if (f.codeTokens > 0) {
    score += 0.05;
    signals.push('code-hint');
  }
  if (f.codeRequest && f.codeFences === 0 && f.codeTokens < 3) {
    score += 0.12;
    signals.push('code-request');
    hard = true;
  }
  if (f.mathMarkers >= 3) {
    score += 0.3;
    signals.push('math');
    strong++;
    hard = true;
  } else if (f.mathMarkers > 0) {
    score += 0.15;
    signals.push('math-hint');
    hard = true;
  }
  if (f.reasoningWords > 0) {
    score += 0.25 + 0.1 * (Math.min(f.reasoningWords, 4) - 1);
    signals.push('reasoning');
    if (f.reasoningWords >= 2) strong++;
    hard = true;
  }
  if (f.listItems >= 3) {
    score += 0.07;
    signals.push('multi-constraint');
  }
  if (f.messages > 8) {
    score += 0.05;
    signals.push('long-conversation');
  }
  if (f.hasTools) {
    score += 0.08;
    signals.push('tools');
  }
  if (f.jsonFormat) {
    score += 0.03;
    signals.push('json-output');
  }
  if (f.extraction) {
    score -= 0.12;
    signals.push('extraction');
    easy = true;
  }
  if (f.shortQuestion) {
    score -= 0.08;
    signals.push('short-question');
    easy = true;
  }
  if (f.greeting) {
    signals.push('greeting');
    easy = true;
    // "Hi!" alone is trivial; "Ok, now design the schema" is not, whatever it opens with.
    if (hard) score -= 0.1;
    else {
      score = Math.min(score, 0.05);
      strong++;
    }
  }
  let confidence = signals.length === 0 ? 0.5 : 0.6 + 0.12 * strong;
  if (easy && hard) confidence -= 0.3;
  return { score: clamp01(score), confidence: clamp01(confidence), signals };
}

/** The weight the structural score keeps against rule votes: a weight-1 rule outweighs it four to one (operators mean it). */
const STRUCTURAL_WEIGHT = 0.25;

export function applyRules(c: CompiledClassifier, text: string, base: Scored): Scored {
  let votes = 0;
  let weighted = 0;
  const signals = [...base.signals];
  for (const r of c.rules) {
    if (r.weight <= 0) continue;
    if (r.pattern?.test(text) || r.keywords?.test(text)) {
      votes += r.weight;
      weighted += r.weight * tierCenter(r.tierIndex, c.tiers);
      signals.push(`rule:${r.name}`);
    }
  }
  if (votes === 0) return base;
  return {
    score: clamp01((base.score * STRUCTURAL_WEIGHT + weighted) / (STRUCTURAL_WEIGHT + votes)),
    confidence: Math.max(base.confidence, votes / (votes + STRUCTURAL_WEIGHT)),
    signals,
  };
}

/** Turns a scored request into a Classification; `tierIndex` is before band/confidence escalation. */
export function toClassification(
  c: CompiledClassifier,
  s: Scored,
  source: Classification['source'],
): Classification {
  return {
    score: s.score,
    confidence: s.confidence,
    tierIndex: scoreToTier(s.score, c.tiers),
    signals: s.signals,
    source,
  };
}

export function classifyRules(c: CompiledClassifier, features: Features, text: string): Classification {
  return toClassification(c, applyRules(c, text, structuralScore(features)), 'rules');
}
