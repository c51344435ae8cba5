/**
 * The Responses items this sidecar answered with recently, by id, so `item_reference` inputs resolve. The Vercel AI
 * SDK sends a reference instead of the item for assistant messages of earlier turns whenever `store` is not false
 * (its default), so a stateless sidecar would refuse its second turn. This is not response storage: nothing is
 * listed, retrieved or chained by `previous_response_id`; an item forgotten (bound, TTL, restart) is a clear 400
 * naming it. Bounded like the response cache, by the same LRU.
 */
import type { ResponsesInputItem } from '../../api/responses.js';
import { ByteLru } from '../lru.js';
import type { OutputItem } from './responses.js';

export const ITEM_MEMORY_BYTES = 8 * 1024 * 1024;
export const ITEM_MEMORY_TTL_MS = 60 * 60 * 1000;

export class ItemMemory {
  private readonly lru: ByteLru<ResponsesInputItem>;

  constructor(
    maxBytes = ITEM_MEMORY_BYTES,
    private readonly ttlMs = ITEM_MEMORY_TTL_MS,
  ) {
    this.lru = new ByteLru(maxBytes);
  }

  /** Remembers the output items of one answer, as the input items a later request may reference. */
  remember(items: readonly OutputItem[], now: number): void {
    for (const item of items) {
      const input = toInputItem(item);
      this.lru.set(item.id, input, item.id.length + JSON.stringify(input).length * 2, this.ttlMs, now);
    }
  }

  resolve(id: string, now: number): ResponsesInputItem | undefined {
    return this.lru.get(id, now);
  }

  get bytes(): number {
    return this.lru.bytes;
  }
}

/** An output item as the input item that means the same: the shapes coincide except for status. */
function toInputItem(item: OutputItem): ResponsesInputItem {
  if (item.type === 'function_call')
    return { type: 'function_call', call_id: item.call_id, name: item.name, arguments: item.arguments };
  return {
    type: 'message',
    role: 'assistant',
    content: item.content.map((p) =>
      p.type === 'refusal' ? { type: 'refusal', refusal: p.refusal } : { type: 'output_text', text: p.text },
    ),
  } as ResponsesInputItem;
}
