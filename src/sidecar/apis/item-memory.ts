/**
 * The Responses items this sidecar answered with recently, by id, so `item_reference` inputs resolve. The Vercel AI
 * SDK sends a reference instead of the item for assistant messages of earlier turns whenever `store` is not false
 * (its default), so a stateless sidecar would refuse its second turn. This is not response storage: nothing is
 * listed, retrieved or chained by `previous_response_id`; an item forgotten (bound, TTL, restart) is a clear 400
 * naming it. Bounded like the response cache, by the same LRU.
 *
 * It also keeps, by call_id, what the tool calls it answered with came with: their `extra_content` (Gemini's thought
 * signature) and the reasoning item of their answer (Claude's thinking blocks), apart from the items so no
 * `item_reference` can name one. Clients that rebuild function_call items from call_id, name and arguments (Codex,
 * the Vercel AI SDK) drop the one, may leave out the other, and Gemini 3 and Claude refuse a turn without them.
 */
import type { ResponsesInputItem } from '../../api/responses.js';
import { ByteLru } from '../lru.js';
import type { OutputItem } from './responses.js';

export const ITEM_MEMORY_BYTES = 8 * 1024 * 1024;
export const ITEM_MEMORY_TTL_MS = 60 * 60 * 1000;
/** One part in this of the bound is kept for tool calls' extra content (signatures are small, items can be large). */
const CALL_EXTRA_SHARE = 8;

/** What is kept of a tool call: its name, its extra content, the id of its answer's reasoning item. */
interface CallNote {
  name: string;
  extra?: unknown;
  reasoningId?: string;
}

export class ItemMemory {
  private readonly lru: ByteLru<ResponsesInputItem>;
  private readonly callExtras: ByteLru<CallNote>;

  constructor(
    maxBytes = ITEM_MEMORY_BYTES,
    private readonly ttlMs = ITEM_MEMORY_TTL_MS,
  ) {
    const extraBytes = Math.floor(maxBytes / CALL_EXTRA_SHARE);
    this.lru = new ByteLru(maxBytes - extraBytes);
    this.callExtras = new ByteLru(extraBytes);
  }

  /** Remembers the output items of one answer, as the input items a later request may reference. */
  remember(items: readonly OutputItem[], now: number): void {
    // The answer's reasoning item (the thinking its tool calls were made with), kept by id with the items.
    const reasoningId = items.find((i) => i.type === 'reasoning')?.id;
    for (const item of items) {
      const input = toInputItem(item);
      this.lru.set(item.id, input, item.id.length + JSON.stringify(input).length * 2, this.ttlMs, now);
      if (item.type === 'message' || item.type === 'reasoning') continue;
      if (item.extra_content == null && reasoningId === undefined) continue;
      const note: CallNote = {
        name: item.name,
        ...(item.extra_content != null ? { extra: item.extra_content } : {}),
        ...(reasoningId !== undefined ? { reasoningId } : {}),
      };
      this.callExtras.set(
        item.call_id,
        note,
        (item.call_id.length + JSON.stringify(note).length) * 2,
        this.ttlMs,
        now,
      );
    }
  }

  resolve(id: string, now: number): ResponsesInputItem | undefined {
    return this.lru.get(id, now);
  }

  /** The extra content of the tool call this sidecar answered with under `callId`, if its name matches. */
  callExtra(callId: string, name: string, now: number): unknown {
    const found = this.callExtras.get(callId, now);
    return found?.name === name ? found.extra : undefined;
  }

  /** The reasoning item of the answer that made the call `callId`, while both are remembered. */
  callReasoning(callId: string, now: number): ResponsesInputItem | undefined {
    const id = this.callExtras.get(callId, now)?.reasoningId;
    return id === undefined ? undefined : this.lru.get(id, now);
  }

  get bytes(): number {
    return this.lru.bytes + this.callExtras.bytes;
  }
}

/** An output item as the input item that means the same: the shapes coincide except for status. */
function toInputItem(item: OutputItem): ResponsesInputItem {
  if (item.type === 'reasoning')
    return {
      type: 'reasoning',
      id: item.id,
      summary: [],
      encrypted_content: item.encrypted_content,
    } as ResponsesInputItem;
  const extra =
    item.type !== 'message' && item.extra_content != null ? { extra_content: item.extra_content } : {};
  if (item.type === 'custom_tool_call')
    return { type: 'custom_tool_call', call_id: item.call_id, name: item.name, input: item.input, ...extra };
  if (item.type === 'function_call')
    return {
      type: 'function_call',
      call_id: item.call_id,
      name: item.name,
      arguments: item.arguments,
      ...extra,
    };
  return {
    type: 'message',
    role: 'assistant',
    content: item.content.map((p) =>
      p.type === 'refusal' ? { type: 'refusal', refusal: p.refusal } : { type: 'output_text', text: p.text },
    ),
  } as ResponsesInputItem;
}
