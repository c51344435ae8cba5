/**
 * The answer's thinking (the internal representation: `thinking_blocks`, src/api/openai.ts) as Responses `reasoning`
 * items and back. Claude with thinking on refuses a tool-use turn whose assistant message does not start with the
 * thinking blocks it answered that turn with, signatures intact; a Responses client keeps reasoning items and sends
 * them back (Codex with `store: false` and `include: ["reasoning.encrypted_content"]`, the Agents SDK, the `openai`
 * SDK's `...response.output`), so the blocks travel in the item's `encrypted_content`.
 *
 * `encrypted_content` is the Responses API's name for an opaque blob the client returns as it got it; here it is
 * the blocks' JSON, base64url, behind a `tm1.` prefix: not encrypted (the signatures in it are Anthropic's, which
 * checks them), and a blob without the prefix (OpenAI's own) means nothing here and is dropped as before.
 */
import { z } from 'zod';
import { type ThinkingBlock, thinkingBlock } from '../../api/openai.js';
import { invalid } from './invalid.js';

const PREFIX = 'tm1.';
const blocks = z.array(thinkingBlock).min(1);

/** The blocks as a reasoning item's `encrypted_content`. */
export function encodeThinking(b: readonly ThinkingBlock[]): string {
  return PREFIX + Buffer.from(JSON.stringify(b)).toString('base64url');
}

/**
 * The blocks of a reasoning item's `encrypted_content`, or undefined when it is not one of ours (absent, or another
 * server's). One of ours that does not decode is a 400 naming `param`: sent on, it would be a turn without them.
 */
export function decodeThinking(encrypted: unknown, param: string): ThinkingBlock[] | undefined {
  if (typeof encrypted !== 'string' || !encrypted.startsWith(PREFIX)) return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(encrypted.slice(PREFIX.length), 'base64url').toString('utf8'));
  } catch {
    parsed = undefined;
  }
  const r = blocks.safeParse(parsed);
  if (!r.success)
    throw invalid(param, 'is not the reasoning this sidecar answered with; send it back as it came');
  return r.data;
}

/** The blocks of a reasoning item this sidecar answered with (as the item memory keeps it), if it is one. */
export function reasoningBlocks(item: unknown): ThinkingBlock[] | undefined {
  const encrypted = (item as { encrypted_content?: unknown } | undefined)?.encrypted_content;
  return decodeThinking(encrypted, 'input');
}
