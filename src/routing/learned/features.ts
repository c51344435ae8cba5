/**
 * Turns a prompt into sparse hashed features (word uni/bigrams, char 4-grams) plus a few dense structural ones,
 * written into caller-owned buffers so scoring allocates nothing but a lower-cased copy of the text.
 */

export const HASH_BITS = 16;
export const HASH_DIM = 1 << HASH_BITS;
const HASH_MASK = HASH_DIM - 1;

/** Names of the dense structural features, in weight order (also shown by `--explain`). */
export const STRUCTURAL = [
  'log-chars',
  'log-words',
  'digit-ratio',
  'math-symbols',
  'code-markers',
  'question-marks',
  'sentences',
  'lines',
  'upper-ratio',
  'multiple-choice',
  'avg-word-length',
  'non-ascii-ratio',
  'numbers',
  'latex',
  // Set by featurizePrompt (prompt.ts), not by the scan: the prompt is a Python list-of-strings literal.
  'list-literal',
] as const;
export const STRUCT_DIM = STRUCTURAL.length;

/** N-grams are read from at most this many characters (head and tail), so cost is bounded for huge prompts. */
export const MAX_NGRAM_CHARS = 4096;
/** Upper bound on hashed entries one prompt can produce (words <= chars, bigrams <= words, 4-grams <= chars). */
export const MAX_FEATURES = MAX_NGRAM_CHARS * 3 + 8;

export interface FeatureBuffers {
  idx: Int32Array;
  val: Float32Array;
  dense: Float32Array;
  /** Entries featurize() wrote before the character 4-grams: word unigrams and bigrams come first. */
  wordEntries: number;
}

export function newBuffers(): FeatureBuffers {
  return {
    idx: new Int32Array(MAX_FEATURES),
    val: new Float32Array(MAX_FEATURES),
    dense: new Float32Array(STRUCT_DIM),
    wordEntries: 0,
  };
}

const P = 0x01000193;
const SEED_WORD = 0x811c9dc5;
const SEED_BIGRAM = 0x2f1b3c4d;
const SEED_CHAR = 0x5bd1e995;

function finish(h: number): number {
  h = Math.imul(h ^ (h >>> 15), 0x2c1b3c6d);
  return (h ^ (h >>> 13)) & HASH_MASK;
}

/** Character class used for n-grams: letters lower-cased, every digit is '0', whitespace runs are one space. */
function norm(c: number): number {
  if (c >= 65 && c <= 90) return c + 32;
  if (c >= 48 && c <= 57) return 48;
  if (c === 32 || c === 9 || c === 10 || c === 13) return 32;
  return c;
}

const isWordChar = (c: number) => (c >= 97 && c <= 122) || c === 48 || c > 127 || c === 95;

// [ \t]*, not \s*: after each of N newlines in a row, \s* ran over the rest of them (quadratic in the run).
const MC_A = /\n[ \t]*A[.)]\s/;
const MC_B = /\n[ \t]*B[.)]\s/;

// ASCII character classes in one table lookup per character (Sets were a third of the scoring time).
const C_UPPER = 1;
const C_DIGIT = 2;
const C_MATH = 4;
const C_CODE = 8;
const C_QMARK = 16;
const C_NEWLINE = 32;
const C_LATEX = 64;
const C_END = 128;
const CLASS = new Uint8Array(128);
for (let c = 65; c <= 90; c++) CLASS[c] = C_UPPER;
for (let c = 48; c <= 57; c++) CLASS[c] = C_DIGIT;
for (const ch of '=+*/^<>%') CLASS[ch.charCodeAt(0)] = C_MATH;
for (const ch of '{};[]`') CLASS[ch.charCodeAt(0)] = C_CODE;
CLASS[63] = C_QMARK | C_END;
CLASS[33] = C_END;
CLASS[46] = C_END;
CLASS[10] = C_NEWLINE;
CLASS[36] = C_LATEX;
CLASS[92] = C_LATEX;
// Non-ASCII maths symbols: rare enough to test only for characters above 127.
const MATH_EXTRA = '∑∫√≤≥±×÷';

/**
 * Fills `b` with the features of `text`; returns how many hashed entries were written. Values are scaled by
 * 1/sqrt(count) per family so a long prompt does not swamp the bias.
 */
export function featurize(text: string, b: FeatureBuffers): number {
  const total = text.length;
  const src =
    total > MAX_NGRAM_CHARS
      ? text.slice(0, MAX_NGRAM_CHARS * 0.75) + ' ' + text.slice(total - MAX_NGRAM_CHARS / 4 + 1)
      : text;
  const n = src.length;
  const { idx, val } = b;
  let k = 0;
  let words = 0;
  let h = SEED_WORD;
  let prevWord = 0;
  let inWord = false;
  let wordChars = 0;
  const bigramBase = MAX_NGRAM_CHARS + 2;
  let bigrams = 0;
  const charBase = MAX_NGRAM_CHARS * 2 + 4;
  let chars = 0;
  // The last four normalised characters packed 8 bits each (non-ASCII folded into 8 bits): one shift per character.
  let gram = 0x20202020;
  let prevSpace = true;
  let digits = 0;
  let math = 0;
  let code = 0;
  let qmarks = 0;
  let sentences = 0;
  let lines = 0;
  let upper = 0;
  let nonAscii = 0;
  let numbers = 0;
  let latex = 0;
  let inNumber = false;
  for (let i = 0; i < n; i++) {
    const raw = src.charCodeAt(i);
    const c = norm(raw);
    if (raw < 128) {
      const cls = CLASS[raw]!;
      if (cls !== 0) {
        if (cls & C_UPPER) upper++;
        else if (cls & C_DIGIT) digits++;
        else if (cls & C_MATH) math++;
        else if (cls & C_CODE) code++;
        else if (cls & C_NEWLINE) lines++;
        else if (cls & C_LATEX) latex++;
        if (cls & C_QMARK) qmarks++;
        if (cls & C_END && (i + 1 === n || src.charCodeAt(i + 1) === 32)) sentences++;
      }
    } else {
      nonAscii++;
      if (MATH_EXTRA.includes(src[i]!)) math++;
    }
    if (c === 48) {
      if (!inNumber) numbers++;
      inNumber = true;
    } else inNumber = false;

    if (isWordChar(c)) {
      h = Math.imul(h ^ c, P);
      inWord = true;
      wordChars++;
    } else if (inWord) {
      const w = h;
      const fw = finish(w);
      idx[words] = fw;
      if (words > 0) {
        const fb = finish(Math.imul(prevWord ^ SEED_BIGRAM, P) ^ w);
        idx[bigramBase + bigrams] = fb;
        bigrams++;
      }
      prevWord = w;
      words++;
      h = SEED_WORD;
      inWord = false;
    }
    // Char 4-grams over the normalised stream, collapsing whitespace runs.
    if (c === 32 && prevSpace) continue;
    prevSpace = c === 32;
    gram = (gram << 8) | (c < 256 ? c : (c ^ (c >>> 8)) & 0xff);
    const fc = finish(Math.imul(gram ^ SEED_CHAR, P));
    idx[charBase + chars] = fc;
    chars++;
  }
  if (inWord) {
    const fw = finish(h);
    idx[words] = fw;
    if (words > 0) {
      const fb = finish(Math.imul(prevWord ^ SEED_BIGRAM, P) ^ h);
      idx[bigramBase + bigrams] = fb;
      bigrams++;
    }
    words++;
  }
  const sw = words > 0 ? 1 / Math.sqrt(words) : 0;
  const sb = bigrams > 0 ? 1 / Math.sqrt(bigrams) : 0;
  const sc = chars > 0 ? 1 / Math.sqrt(chars) : 0;
  k = words;
  for (let i = 0; i < k; i++) val[i] = sw;
  for (let i = 0; i < bigrams; i++) {
    idx[k] = idx[bigramBase + i]!;
    val[k++] = sb;
  }
  b.wordEntries = k;
  for (let i = 0; i < chars; i++) {
    idx[k] = idx[charBase + i]!;
    val[k++] = sc;
  }

  const d = b.dense;
  const len = Math.max(1, n);
  d[0] = Math.log1p(total) / 8;
  d[1] = Math.log1p(words) / 6;
  d[2] = (digits / len) * 5;
  d[3] = Math.log1p(math) / 3;
  d[4] = Math.log1p(code) / 3;
  d[5] = Math.log1p(qmarks) / 2;
  d[6] = Math.log1p(sentences) / 3;
  d[7] = Math.log1p(lines) / 3;
  d[8] = (upper / len) * 5;
  d[9] = MC_A.test(src) && MC_B.test(src) ? 1 : 0;
  d[10] = words > 0 ? wordChars / words / 10 : 0;
  d[11] = (nonAscii / len) * 5;
  d[12] = Math.log1p(numbers) / 3;
  d[13] = Math.log1p(latex) / 3;
  return k;
}
