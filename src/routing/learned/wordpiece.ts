/**
 * BERT's uncased WordPiece tokenizer (the one all-MiniLM-L6-v2 uses), for the static embedding table.
 *
 * Matches Hugging Face `tokenizers` (BertNormalizer with clean_text, handle_chinese_chars, lowercase and accent
 * stripping; BertPreTokenizer; WordPiece with `##` continuations and 100-character words), checked against its
 * output in wordpiece.test.ts. ASCII text, most traffic, takes a loop over char codes with no regular expressions.
 *
 *   wordPieceIds(vocab, text, out): number of ids written to `out` (stops when `out` is full)
 */

export interface Vocab {
  ids: ReadonlyMap<string, number>;
  unk: number;
}

export function vocabFromLines(lines: readonly string[]): Vocab {
  const ids = new Map<string, number>();
  lines.forEach((t, i) => {
    if (!ids.has(t)) ids.set(t, i);
  });
  const unk = ids.get('[UNK]');
  if (unk === undefined) throw new Error('vocabulary has no [UNK] token');
  return { ids, unk };
}

const MAX_WORD_CHARS = 100;
// Unicode classes of the normaliser and pre-tokenizer (non-ASCII text only).
const CONTROL = /\p{C}|\ufffd/gu;
// biome-ignore lint/suspicious/noControlCharactersInRegex: finding control characters is the point.
const ASCII_CONTROL = /[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]/g;
const SPACE = /\p{White_Space}/u;
const PUNCT = /\p{P}/u;
const MARKS = /\p{Mn}/gu;

function isAsciiPunct(c: number): boolean {
  return (c >= 33 && c <= 47) || (c >= 58 && c <= 64) || (c >= 91 && c <= 96) || (c >= 123 && c <= 126);
}

function isCjk(cp: number): boolean {
  return (
    (cp >= 0x4e00 && cp <= 0x9fff) ||
    (cp >= 0x3400 && cp <= 0x4dbf) ||
    (cp >= 0x20000 && cp <= 0x2a6df) ||
    (cp >= 0x2a700 && cp <= 0x2b73f) ||
    (cp >= 0x2b740 && cp <= 0x2b81f) ||
    (cp >= 0x2b820 && cp <= 0x2ceaf) ||
    (cp >= 0xf900 && cp <= 0xfaff) ||
    (cp >= 0x2f800 && cp <= 0x2fa1f)
  );
}

/** Cleaned, lower-cased, accent-stripped text; true when it is all ASCII (then every char is one UTF-16 unit). */
function normalise(text: string): { s: string; ascii: boolean } {
  // clean_text: control and format characters vanish (tab, newline and carriage return are whitespace).
  // biome-ignore lint/suspicious/noControlCharactersInRegex: finding control characters is the point.
  if (/^[\x00-\x7f]*$/.test(text)) return { s: text.replace(ASCII_CONTROL, '').toLowerCase(), ascii: true };
  const clean = text.replace(CONTROL, (c) => (c === '\t' || c === '\n' || c === '\r' ? c : ''));
  return { s: clean.normalize('NFD').replace(MARKS, '').toLowerCase(), ascii: false };
}

/** Calls `word` for each pre-token (whitespace-separated; punctuation and CJK ideographs on their own) until it says stop. */
function preTokens(s: string, ascii: boolean, word: (w: string) => boolean): void {
  let start = -1;
  for (let i = 0; i < s.length; ) {
    const cp = ascii ? s.charCodeAt(i) : s.codePointAt(i)!;
    const w = cp > 0xffff ? 2 : 1;
    const ch = cp < 128 ? '' : String.fromCodePoint(cp);
    const space = cp < 128 ? cp === 32 || cp === 9 || cp === 10 || cp === 13 : SPACE.test(ch);
    const alone = !space && (cp < 128 ? isAsciiPunct(cp) : PUNCT.test(ch) || isCjk(cp));
    if (space || alone) {
      if (start >= 0 && word(s.slice(start, i))) return;
      start = -1;
      if (alone && word(s.slice(i, i + w))) return;
    } else if (start < 0) start = i;
    i += w;
  }
  if (start >= 0) word(s.slice(start));
}

/** WordPiece ids of `text` into `out`; returns how many were written. */
export function wordPieceIds(v: Vocab, text: string, out: Int32Array): number {
  const { s, ascii } = normalise(text);
  let n = 0;
  preTokens(s, ascii, (w) => {
    n = pieces(v, w, ascii, out, n);
    return n >= out.length;
  });
  return n;
}

function pieces(v: Vocab, word: string, ascii: boolean, out: Int32Array, n: number): number {
  // Most words are one vocabulary entry: one lookup.
  const whole = v.ids.get(word);
  if (whole !== undefined) {
    out[n] = whole;
    return n + 1;
  }
  // Code points, not UTF-16 units, as the reference counts them.
  const cps = !ascii && /[\ud800-\udfff]/.test(word) ? Array.from(word) : null;
  const len = cps ? cps.length : word.length;
  if (len > MAX_WORD_CHARS) {
    out[n] = v.unk;
    return n + 1;
  }
  const slice = (a: number, b: number) => (cps ? cps.slice(a, b).join('') : word.slice(a, b));
  const first = n;
  let start = 0;
  while (start < len) {
    let end = len;
    let id = -1;
    while (start < end) {
      const sub = start > 0 ? `##${slice(start, end)}` : slice(start, end);
      const found = v.ids.get(sub);
      if (found !== undefined) {
        id = found;
        break;
      }
      end--;
    }
    if (id < 0) {
      out[first] = v.unk;
      return first + 1;
    }
    if (n >= out.length) return n;
    out[n++] = id;
    start = end;
  }
  return n;
}
