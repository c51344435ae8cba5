/**
 * What the learned model reads of a prompt. RouterBench stores its prompts as the Python repr of a list of strings
 * (`['Question...\nA) ...']`); a team logging the same questions sends the decoded text. Both must score alike, so a
 * prompt that is exactly such a list literal is decoded (elements joined by newlines); anything else is unchanged.
 *
 *   canonicalPrompt(text): string
 *   featurizePrompt(text, buffers[, canonical]): hashed entry count   features of the canonical text, plus the list-literal flag
 */
import { type FeatureBuffers, featurize, STRUCTURAL } from './features.js';

const LIST_LITERAL = STRUCTURAL.indexOf('list-literal');

/**
 * What scoring and training both call: n-grams and structure of the canonical text, so a decoded and an encoded
 * prompt score alike, and one flag that says it came encoded (the recogniser may use it to tell sources apart).
 */
export function featurizePrompt(text: string, b: FeatureBuffers, c = canonicalPrompt(text)): number {
  const k = featurize(c, b);
  b.dense[LIST_LITERAL] = c === text ? 0 : 1;
  return k;
}

const ESCAPES: Record<string, string> = {
  n: '\n',
  t: '\t',
  r: '\r',
  '\\': '\\',
  "'": "'",
  '"': '"',
  '0': '\0',
};

/** Decodes one Python string literal starting at `i` (the quote); returns [value, index after the quote] or undefined. */
function pyString(s: string, i: number): [string, number] | undefined {
  const q = s[i];
  if (q !== "'" && q !== '"') return undefined;
  let out = '';
  for (let j = i + 1; j < s.length; j++) {
    const c = s[j]!;
    if (c === q) return [out, j + 1];
    if (c !== '\\') {
      out += c;
      continue;
    }
    const e = s[++j];
    if (e === undefined) return undefined;
    if (e === 'x' || e === 'u') {
      const len = e === 'x' ? 2 : 4;
      const code = Number.parseInt(s.slice(j + 1, j + 1 + len), 16);
      if (Number.isNaN(code)) return undefined;
      out += String.fromCharCode(code);
      j += len;
    } else out += ESCAPES[e] ?? `\\${e}`;
  }
  return undefined;
}

/** The decoded text of a Python list-of-strings literal, or the text itself. Cheap when it is not one. */
export function canonicalPrompt(text: string): string {
  const n = text.length;
  if (n < 4 || text.charCodeAt(0) !== 91 /* [ */ || text.charCodeAt(n - 1) !== 93 /* ] */) return text;
  const c1 = text[1];
  if (c1 !== "'" && c1 !== '"') return text;
  const parts: string[] = [];
  let i = 1;
  for (;;) {
    const r = pyString(text, i);
    if (!r) return text;
    parts.push(r[0]);
    i = r[1];
    while (text[i] === ' ') i++;
    if (text[i] === ']') return i === n - 1 ? parts.join('\n') : text;
    if (text[i] !== ',') return text;
    i++;
    while (text[i] === ' ') i++;
  }
}
