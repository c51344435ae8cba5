/**
 * Structural signals of a request, computed in local memory from its text: the rule classifier's input.
 *
 *   promptText(req): string                      user-message text (all message text when there is no user message)
 *   extractFeatures(req, text?, promptTokens?): Features   counts and flags; never holds prompt text
 */
import type { ChatCompletionRequest } from '../api/openai.js';
import { estimateRequestTokens, messageText } from './tokens.js';

export interface Features {
  /** Characters of prompt text (user messages). */
  chars: number;
  /** Estimated prompt tokens of the whole request (system prompt, history, tools included). */
  promptTokens: number;
  messages: number;
  /** ``` fenced blocks. */
  codeFences: number;
  /** Code-like tokens: keywords (def, function, return...), operators (=>, ==, ::), braces with semicolons. */
  codeTokens: number;
  /** Asks for code to be written or fixed ("write a python function that ..."). */
  codeRequest: boolean;
  /** LaTeX commands, $...$ math, equations and math vocabulary. */
  mathMarkers: number;
  /** Multi-step reasoning words: prove, step by step, analyze, compare, design, debug... */
  reasoningWords: number;
  /** Starts as a greeting or thanks and is short. */
  greeting: boolean;
  /** A short single question ("what is X?", "how do I Y?"). */
  shortQuestion: boolean;
  /** Extraction / classification / formatting phrasing: extract, classify, label, translate, summarize... */
  extraction: boolean;
  /** Number of separate constraints / numbered steps in the prompt ("1.", "- ", "must", "should"). */
  listItems: number;
  hasTools: boolean;
  jsonFormat: boolean;
}

/** What the classifier reads: what users asked. System prompts are the same on every request and say little. */
export function promptText(req: ChatCompletionRequest): string {
  let out = '';
  for (const m of req.messages) {
    if (m.role !== 'user') continue;
    const t = messageText(m);
    if (t) out = out ? `${out}\n${t}` : t;
  }
  if (out) return out;
  for (const m of req.messages) {
    const t = messageText(m);
    if (t) out = out ? `${out}\n${t}` : t;
  }
  return out;
}

// Regexes are module-level constants: compiled once, and all linear-time (no nested quantifiers). In multi-line
// mode a pattern starts or ends a line with [ \t]*, never \s*: \s also takes newlines, so at each of N line starts
// in a run of blank lines it ran over all the rest and back (a prompt of 64k newlines took 5 s; the search trying each
// line start finds the same matches).
const CODE_TOKEN =
  /\b(?:def|class|function|return|import|const|let|var|fn|func|public|private|static|void|async|await|SELECT|FROM|WHERE|#include|println|printf|console\.log|lambda|struct|impl|interface)\b|=>|==|!=|::|->|\+\+|&&|\|\||[{};][ \t]*$|^[ \t]*(?:if|for|while)\s*\(/gm;
const CODE_REQUEST =
  /\b(?:write|implement|code|fix|create|generate)\b[^.?!\n]{0,40}\b(?:function|script|program|class|method|regex|query|code|unit tests?|endpoint|api)\b/i;
const MATH =
  /\\(?:frac|sum|int|sqrt|alpha|beta|theta|lambda|sigma|partial|infty|cdot|times|leq|geq|mathbb|begin\{(?:equation|align))|\$[^$\n]{1,200}\$|\b(?:integral|derivative|eigen\w*|theorem|lemma|equation|matrix|polynomial|probability|logarithm|factorial|modulo|prime numbers?)\b|\^\s*\d|\d\s*[*/]\s*\d|[∑∫√∂∞≤≥≠π]/gi;
const REASONING =
  /\b(?:prove|proof|step[- ]by[- ]step|analy[sz]e|analysis|compare|contrast|trade-?offs?|designs?|architect\w*|debug|diagnose|optimi[sz]e|refactor|derive|reason|explain why|evaluate|critique|plan|strategy|implications?|pros and cons|root cause|edge cases?|algorithm|complexity)\b/gi;
const GREETING =
  /^\s*(?:hi|hello|hey|yo|hiya|good (?:morning|afternoon|evening)|thanks?(?: you)?|thx|ty|cheers|ok(?:ay)?|great|cool|bye|goodbye|how are you)\b/i;
const SHORT_QUESTION =
  /^\s*(?:what|who|when|where|which|how (?:do|can|much|many|long|old)|is|are|can|does|do)\b[^?\n]*\?\s*$/i;
const EXTRACTION =
  /\b(?:extract|classify|categori[sz]e|label|tag|detect the language|sentiment|translate|summari[sz]e|tl;?dr|rephrase|paraphrase|fix (?:the )?(?:grammar|typos?|spelling)|convert (?:this|the following)|format (?:this|as)|list (?:all|the))\b/i;
const LIST_ITEM = /^[ \t]*(?:\d+[.)]|[-*•])\s+\S/gm;

function countFences(text: string, cap: number): number {
  let n = 0;
  for (let i = text.indexOf('```'); i !== -1 && n < cap; i = text.indexOf('```', i + 3)) n++;
  return n;
}

function count(re: RegExp, text: string, cap: number): number {
  re.lastIndex = 0;
  let n = 0;
  while (n < cap && re.exec(text) !== null) n++;
  re.lastIndex = 0;
  return n;
}

/** Signals saturate: past the caps more matches say nothing new, and capping bounds the work on huge prompts. */
const CAP = 32;
/** Greeting and short-question checks only make sense on short prompts. */
const SHORT_CHARS = 160;

/** `promptTokens` may be passed when the caller already estimated it. */
export function extractFeatures(
  req: ChatCompletionRequest,
  text: string = promptText(req),
  promptTokens: number = estimateRequestTokens(req),
): Features {
  const rf = req.response_format?.type;
  const tools = (req as { tools?: unknown }).tools;
  const short = text.length <= SHORT_CHARS;
  return {
    chars: text.length,
    promptTokens,
    messages: req.messages.length,
    codeFences: Math.ceil(countFences(text, CAP * 2) / 2),
    codeTokens: count(CODE_TOKEN, text, CAP),
    codeRequest: CODE_REQUEST.test(text),
    mathMarkers: count(MATH, text, CAP),
    reasoningWords: count(REASONING, text, CAP),
    greeting: short && GREETING.test(text),
    shortQuestion: short && SHORT_QUESTION.test(text),
    extraction: EXTRACTION.test(text),
    listItems: count(LIST_ITEM, text, CAP),
    hasTools: Array.isArray(tools) && tools.length > 0,
    jsonFormat: rf === 'json_object' || rf === 'json_schema',
  };
}
