import { describe, expect, it } from 'vitest';
import { type Linked, RecencyList } from './recency-list.js';

interface Item extends Linked<Item> {
  name: string;
}
const item = (name: string): Item => ({ name, older: undefined, newer: undefined });

function order(l: RecencyList<Item>): string[] {
  const out: string[] = [];
  for (let e = l.oldest; e; e = e.newer) out.push(e.name);
  const back: string[] = [];
  for (let e = l.newest; e; e = e.older) back.push(e.name);
  expect(back.reverse()).toEqual(out); // both directions agree
  return out;
}

describe('RecencyList', () => {
  it('appends as the newest and takes entries out from the ends and the middle', () => {
    const l = new RecencyList<Item>();
    const [a, b, c, d] = ['a', 'b', 'c', 'd'].map(item) as [Item, Item, Item, Item];
    for (const e of [a, b, c, d]) l.push(e);
    expect(order(l)).toEqual(['a', 'b', 'c', 'd']);
    l.unlink(b);
    expect(order(l)).toEqual(['a', 'c', 'd']);
    l.unlink(a);
    l.unlink(d);
    expect(order(l)).toEqual(['c']);
    l.push(b); // a taken-out entry can come back, as the newest
    expect(order(l)).toEqual(['c', 'b']);
    l.unlink(c);
    l.unlink(b);
    expect(order(l)).toEqual([]);
    expect([l.oldest, l.newest]).toEqual([undefined, undefined]);
  });
});
