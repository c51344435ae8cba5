/**
 * Removes what an upstream echoed from the request out of its error text before the text goes to a log: upstreams
 * quote the messages they reject ("Invalid content: [{"role":"user",...}]"), and logs hold no prompt text unless
 * --log-prompts. The rest of the upstream's words (status, error type, what it objects to) stay: they are what an
 * operator acts on.
 *
 *   requestTexts(body): RequestTexts              the client's text in a request body (chat or embeddings)
 *   scrubEcho(text, sources): string              every run of >= 16 characters shared with a source, and every
 *                                                 exact occurrence of a short message text (>= 4), as "[prompt]"
 *   scrubRequestEcho(text, body): string          both
 *
 * Error path only, but the client decides the prompt's size: the error text (short, ours to cap) is indexed by its
 * 8-character windows and each source is read at a stride of 8 against that index, so the cost is one set lookup
 * per 8 characters of prompt, with a cap on how much prompt is read.
 */
import { messageText } from '../routing/tokens.js';

/** Shared runs at least this long are an echo; shorter ones are too likely to be ordinary words. */
export const MIN_ECHO_RUN = 16;
/** Message texts at least this long are scrubbed where they occur whole, however short. */
export const MIN_EXACT_TEXT = 4;
/** How much of the error text is looked at (upstream text is cut to 300 characters before this). */
const MAX_TEXT = 4096;
/** How much client text is read, all sources together. */
const MAX_SOURCE_CHARS = 4_000_000;
const WINDOW = MIN_ECHO_RUN / 2;
const MARK = '[prompt]';

export interface RequestTexts {
  /** Client text, matched by shared runs (JSON-escaped forms included, since upstreams echo JSON). */
  long: string[];
  /** Whole message texts, matched where they occur exactly. */
  short: string[];
}

/** The client's text in a request body: message contents, tool-call arguments, tool and schema definitions, input. */
export function requestTexts(body: unknown): RequestTexts {
  const out: RequestTexts = { long: [], short: [] };
  if (!body || typeof body !== 'object') return out;
  const b = body as Record<string, unknown>;
  const add = (s: unknown, exact: boolean) => {
    if (typeof s !== 'string' || s.length < MIN_EXACT_TEXT) return;
    if (s.length >= MIN_ECHO_RUN) {
      out.long.push(s);
      const escaped = JSON.stringify(s).slice(1, -1);
      if (escaped !== s) out.long.push(escaped);
    } else if (exact) out.short.push(s);
  };
  if (Array.isArray(b['messages']))
    for (const m of b['messages'] as Array<Record<string, unknown>>) {
      if (!m || typeof m !== 'object') continue;
      add(messageText(m as Parameters<typeof messageText>[0]), true);
      if (Array.isArray(m['content']))
        for (const p of m['content'] as Array<Record<string, unknown>>) add(p?.['text'], true);
      if (Array.isArray(m['tool_calls']))
        for (const c of m['tool_calls'] as Array<{ function?: { arguments?: unknown } }>)
          add(c?.function?.arguments, true);
    }
  const input = b['input'];
  if (typeof input === 'string') add(input, true);
  else if (Array.isArray(input)) for (const s of input) add(s, true);
  for (const k of ['tools', 'response_format'] as const)
    if (b[k] !== undefined) {
      const json = JSON.stringify(b[k]);
      add(json, false);
    }
  return out;
}

/** `text` with every stretch echoed from `sources` replaced by "[prompt]". */
export function scrubEcho(text: string, sources: RequestTexts): string {
  const t = text.length > MAX_TEXT ? text.slice(0, MAX_TEXT) : text;
  const covered = new Uint8Array(t.length);
  let any = false;
  if (t.length >= MIN_ECHO_RUN && sources.long.length > 0) {
    // Where each 8-character window of the error text starts.
    const windows = new Map<string, number[]>();
    for (let j = 0; j + WINDOW <= t.length; j++) {
      const w = t.slice(j, j + WINDOW);
      const at = windows.get(w);
      if (at) at.push(j);
      else windows.set(w, [j]);
    }
    let budget = MAX_SOURCE_CHARS;
    for (const src of sources.long) {
      if (budget <= 0) break;
      const end = Math.min(src.length, budget);
      budget -= end;
      // A shared run of >= 16 characters holds a whole window starting at a multiple of 8 in the source.
      for (let p = 0; p + WINDOW <= end; p += WINDOW) {
        const w = src.slice(p, p + WINDOW);
        const at = windows.get(w);
        if (!at) continue;
        let open = false;
        for (const j of at) {
          if (covered[j] && covered[j + WINDOW - 1]) continue;
          let l = 0;
          while (j - l > 0 && p - l > 0 && t[j - l - 1] === src[p - l - 1]) l++;
          let r = WINDOW;
          while (j + r < t.length && p + r < src.length && t[j + r] === src[p + r]) r++;
          if (l + r >= MIN_ECHO_RUN) {
            covered.fill(1, j - l, j + r);
            any = true;
          } else open = true;
        }
        // Every place of this window is scrubbed already: a repetitive prompt costs one lookup per window after.
        if (!open) windows.delete(w);
      }
    }
  }
  for (const s of sources.short)
    for (let i = t.indexOf(s); i !== -1; i = t.indexOf(s, i + s.length)) {
      covered.fill(1, i, i + s.length);
      any = true;
    }
  if (!any) return t;
  let out = '';
  for (let i = 0; i < t.length; ) {
    if (!covered[i]) {
      let k = i;
      while (k < t.length && !covered[k]) k++;
      out += t.slice(i, k);
      i = k;
    } else {
      while (i < t.length && covered[i]) i++;
      out += MARK;
    }
  }
  return out;
}

/** `text` without what it echoed of the request `body`. */
export function scrubRequestEcho(text: string, body: unknown): string {
  return scrubEcho(text, requestTexts(body));
}
