import { describe, expect, it } from 'vitest';
import type { ChatCompletionRequest } from '../api/openai.js';
import { extractFeatures, promptText } from './features.js';

const req = (content: string, extra: Partial<ChatCompletionRequest> = {}): ChatCompletionRequest => ({
  model: 'auto',
  messages: [{ role: 'user', content }],
  ...extra,
});

describe('promptText', () => {
  it('reads user messages only, falling back to every message', () => {
    const r: ChatCompletionRequest = {
      model: 'auto',
      messages: [
        { role: 'system', content: 'You are a helpful assistant.' },
        { role: 'user', content: 'first' },
        { role: 'assistant', content: 'reply' },
        { role: 'user', content: [{ type: 'text', text: 'second' }] },
      ],
    };
    expect(promptText(r)).toBe('first\nsecond');
    expect(promptText({ model: 'auto', messages: [{ role: 'system', content: 'only system' }] })).toBe(
      'only system',
    );
  });
});

describe('extractFeatures', () => {
  it('counts line-start code and list items after runs of blank lines, as before the linear-time patterns', () => {
    const f = extractFeatures(req('intro\n\n\n  if (x) {\n\n\n\n1. one\n\t- two\n\n\nend;\n\n\nmore'));
    // "if (", "{" at a line end and "end;" at a line end; "1." and "- ".
    expect(f.codeTokens).toBe(3);
    expect(f.listItems).toBe(2);
    const blank = extractFeatures(req('\n'.repeat(100_000)));
    expect(blank.codeTokens).toBe(0);
    expect(blank.listItems).toBe(0);
  });

  it('sees greetings and short questions only in short prompts', () => {
    expect(extractFeatures(req('Hi there!')).greeting).toBe(true);
    expect(extractFeatures(req('thanks a lot')).greeting).toBe(true);
    expect(extractFeatures(req(`Hi, ${'please review this design document. '.repeat(10)}`)).greeting).toBe(
      false,
    );
    expect(extractFeatures(req('What is the capital of France?')).shortQuestion).toBe(true);
    expect(extractFeatures(req('Whatever you do, do not stop.')).shortQuestion).toBe(false);
    expect(extractFeatures(req('history of the high street')).greeting).toBe(false);
  });

  it('counts code fences, code tokens and code requests', () => {
    const f = extractFeatures(req('Why does this fail?\n```js\nconst x = () => { return a == b; };\n```'));
    expect(f.codeFences).toBe(1);
    expect(f.codeTokens).toBeGreaterThanOrEqual(3);
    expect(extractFeatures(req('Write a python function that merges two sorted lists')).codeRequest).toBe(
      true,
    );
    const prose = extractFeatures(req('Tell me a story about a dragon who loves to read books.'));
    expect(prose.codeFences + prose.codeTokens).toBe(0);
    expect(prose.codeRequest).toBe(false);
  });

  it('sees math: LaTeX, inline $...$, equations and math vocabulary', () => {
    expect(extractFeatures(req('Compute \\frac{a}{b} + \\sqrt{x}')).mathMarkers).toBeGreaterThanOrEqual(2);
    expect(extractFeatures(req('Solve $x^2 - 4 = 0$ for x')).mathMarkers).toBeGreaterThanOrEqual(1);
    expect(extractFeatures(req('Find the eigenvalues of this matrix')).mathMarkers).toBe(2);
    expect(extractFeatures(req('I love my cat')).mathMarkers).toBe(0);
  });

  it('counts multi-step reasoning words and extraction phrasing', () => {
    const f = extractFeatures(req('Analyze and compare both designs step by step, then prove the bound.'));
    expect(f.reasoningWords).toBe(5);
    expect(extractFeatures(req('Extract the dates from this email')).extraction).toBe(true);
    expect(extractFeatures(req('Classify the sentiment of this review')).extraction).toBe(true);
    expect(extractFeatures(req('Tell me a joke')).extraction).toBe(false);
  });

  it('notes tools, JSON output, list items and message count', () => {
    const f = extractFeatures(
      req('Do this:\n1. parse\n2. check\n3. report', {
        tools: [{ type: 'function', function: { name: 'x' } }],
        response_format: { type: 'json_object' },
      } as Partial<ChatCompletionRequest>),
    );
    expect(f.hasTools).toBe(true);
    expect(f.jsonFormat).toBe(true);
    expect(f.listItems).toBe(3);
    expect(f.messages).toBe(1);
  });

  it('caps counts so a huge prompt costs bounded work', () => {
    const f = extractFeatures(req('prove '.repeat(10_000)));
    expect(f.reasoningWords).toBe(32);
    expect(f.chars).toBe(60_000);
  });

  it('never carries prompt text', () => {
    const secret = 'SECRET-PASSPHRASE-12345';
    const f = extractFeatures(req(`please extract ${secret}`));
    expect(JSON.stringify(f)).not.toContain('SECRET');
  });
});
