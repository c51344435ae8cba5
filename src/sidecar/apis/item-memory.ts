/**
 * The Responses items this sidecar answered with recently, by id, so `item_reference` inputs resolve. The Vercel AI
 * SDK sends a reference instead of the item for assistant messages of earlier turns whenever `store` is not false
 * (its default), so a stateless sidecar would refuse its second turn. This is not response storage: nothing is
 * listed, retrieved or chained by `previous_response_id`; an item forgotten (bound, TTL, restart) is a clear 400
 * naming it. Bounded like the response cache, by the same LRU.
 *
 * It also keeps the `extra_content` of the tool calls it answered with (Gemini's thought signature), by call_id,
 * apart from the items so no `item_reference` can name one: clients that rebuild function_call items from call_id,
 * name and arguments (Codex, the Vercel AI SDK) drop it, and Gemini 3 refuses a turn whose calls lost it.
 */
import type { ResponsesInputItem } from '../../api/responses.js';
import { ByteLru } from '../lru.js';
import type { OutputItem } from './responses.js';

export const ITEM_MEMORY_BYTES = 8 * 1024 * 1024;
export const ITEM_MEMORY_TTL_MS = 60 * 60 * 1000;
/** One part in this of the bound is kept for tool calls' extra content (signatures are small, items can be large). */
const CALL_EXTRA_SHARE = 8;

export class ItemMemory {
  private readonly lru: ByteLru<ResponsesInputItem>;
  private readonly callExtras: ByteLru<{ name: string; extra: unknown }>;

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
    for (const item of items) {
      const input = toInputItem(item);
      this.lru.set(item.id, input, item.id.length + JSON.stringify(input).length * 2, this.ttlMs, now);
      if (item.type !== 'message' && item.extra_content != null) {
        const bytes =
          (item.call_id.length + item.name.length + JSON.stringify(item.extra_content).length) * 2;
        this.callExtras.set(
          item.call_id,
          { name: item.name, extra: item.extra_content },
          bytes,
          this.ttlMs,
          now,
        );
      }
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

  get bytes(): number {
    return this.lru.bytes + this.callExtras.bytes;
  }
}

/** An output item as the input item that means the same: the shapes coincide except for status. */
function toInputItem(item: OutputItem): ResponsesInputItem {
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
