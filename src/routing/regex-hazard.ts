/**
 * A route's `classifier.rules[].pattern` runs on every prompt, in the sidecar's one thread, against text a client
 * wrote. JavaScript regular expressions backtrack: a repeated group that itself repeats, such as `(a+)+b` or
 * `(\w+\s?)*$`, takes time exponential in the length of a prompt that almost matches (26 characters took over a second
 * here), and one such prompt stalls every request of the pod. A linear-time engine (RE2, as Envoy uses) in
 * JavaScript measured about 100 times slower than V8 on ordinary patterns, more than a routing decision may cost, so
 * patterns are screened when the route is compiled instead: a group under an unbounded quantifier that holds an
 * unbounded quantifier of its own is refused, with the field named. It errs on the side of refusing (`(\d+\.)+` is
 * safe but refused); the same can be written without nesting, or as a keyword list. Not caught: alternatives that
 * overlap under a repeat (`(a|a)*`), which are rarer in hand-written rules.
 */

/** Why `pattern` is refused, or undefined when it has no nested unbounded repetition. */
export function regexHazard(pattern: string): string | undefined {
  // One frame per open group: whether something inside it repeats without bound.
  const groups: boolean[] = [];
  let repeatsInside = false; // the innermost open group's (or the top level's) content so far
  let lastAtomRepeats = false; // the atom just read was a group whose content repeats
  let i = 0;
  const unbounded = (at: number): { ok: boolean; length: number } => {
    const c = pattern[at];
    if (c === '*' || c === '+') return { ok: true, length: 1 };
    if (c === '{') {
      const m = /^\{(\d+)(,(\d*))?\}/.exec(pattern.slice(at));
      if (!m) return { ok: false, length: 0 };
      const max = m[2] === undefined ? Number(m[1]) : m[3] === '' ? Number.POSITIVE_INFINITY : Number(m[3]);
      return { ok: max > 1, length: m[0].length };
    }
    return { ok: false, length: 0 };
  };
  while (i < pattern.length) {
    const c = pattern[i]!;
    if (c === '\\') {
      i += 2;
      lastAtomRepeats = false;
      continue;
    }
    if (c === '[') {
      // A character class: quantifier characters inside are literal. `]` right after `[` or `[^` is literal too.
      i++;
      if (pattern[i] === '^') i++;
      if (pattern[i] === ']') i++;
      while (i < pattern.length && pattern[i] !== ']') i += pattern[i] === '\\' ? 2 : 1;
      i++;
      lastAtomRepeats = false;
      continue;
    }
    if (c === '(') {
      groups.push(repeatsInside);
      repeatsInside = false;
      i++;
      lastAtomRepeats = false;
      continue;
    }
    if (c === ')') {
      const inner = repeatsInside;
      repeatsInside = groups.pop() ?? false;
      i++;
      lastAtomRepeats = inner;
      // The group's own quantifier, if any, is read next; a group not repeated passes its repetition outward.
      if (inner && !unbounded(i).ok) repeatsInside = true;
      continue;
    }
    const q = unbounded(i);
    if (q.ok) {
      if (lastAtomRepeats)
        return 'a repeated group that itself repeats (like (a+)+ or (\\w+\\s?)*) can take exponential time on some prompts; write it without the nesting, or as keywords';
      repeatsInside = true;
      i += q.length;
      if (pattern[i] === '?' || pattern[i] === '+') i++; // lazy or possessive marker
      lastAtomRepeats = false;
      continue;
    }
    lastAtomRepeats = false;
    i++;
  }
  return undefined;
}
