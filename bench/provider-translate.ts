/**
 * What translating to and from a vendor's wire format costs per call: building the upstream body (Gemini's and
 * Anthropic's translations, OpenAI's pass-through) and turning the answer back into an OpenAI completion, for a
 * 6-turn conversation with a system prompt and a tool. p50/p99 in microseconds, wall clock and on-CPU, next to a
 * same-run baseline (JSON.parse of the request body, which the sidecar pays on every request anyway).
 *
 *   tsx bench/provider-translate.ts [--iterations 20000]
 */
import { parseArgs } from 'node:util';
import type { ChatCompletionRequest } from '../src/api/openai.js';
import { fromAnthropicMessage, toAnthropicRequest } from '../src/providers/anthropic-translate.js';
import { fromGeminiResponse, toGeminiRequest } from '../src/providers/gemini-translate.js';
import { measureMicro } from './lib/micro.js';

const { values } = parseArgs({ options: { iterations: { type: 'string', default: '20000' } } });
const iterations = Number(values.iterations);
if (!Number.isInteger(iterations) || iterations < 100)
  throw new Error('--iterations must be an integer >= 100');

const tool = {
  type: 'function',
  function: {
    name: 'get_weather',
    description: 'Current weather for a city',
    parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] },
  },
};
// 64 variants so caches see different text.
const bodies = Array.from({ length: 64 }, (_, i) =>
  JSON.stringify({
    model: 'gemini-2.5-flash',
    temperature: 0.2,
    max_tokens: 512,
    tools: [tool],
    messages: [
      { role: 'system', content: 'You are a concise travel assistant.' },
      { role: 'user', content: `${i} What should I pack for a week in Paris in March? `.repeat(8) },
      { role: 'assistant', content: 'A light coat, layers and an umbrella. Anything else?' },
      { role: 'user', content: 'And what is the weather right now?' },
      {
        role: 'assistant',
        content: null,
        tool_calls: [
          {
            id: 'call_1',
            type: 'function',
            function: { name: 'get_weather', arguments: '{"city":"Paris"}' },
          },
        ],
      },
      { role: 'tool', tool_call_id: 'call_1', content: '{"tempC":11,"sky":"overcast"}' },
    ],
  }),
);
const requests: ChatCompletionRequest[] = bodies.map((b) => JSON.parse(b));
const text = 'It is 11°C and overcast in Paris: bring the coat and the umbrella. '.repeat(4);
const geminiAnswer = JSON.stringify({
  candidates: [{ content: { role: 'model', parts: [{ text }] }, finishReason: 'STOP', index: 0 }],
  usageMetadata: { promptTokenCount: 180, candidatesTokenCount: 60, totalTokenCount: 240 },
  modelVersion: 'gemini-2.5-flash',
  responseId: 'bench',
});
const anthropicAnswer = JSON.stringify({
  id: 'msg_bench',
  type: 'message',
  role: 'assistant',
  model: 'claude-haiku',
  content: [{ type: 'text', text }],
  stop_reason: 'end_turn',
  usage: { input_tokens: 180, output_tokens: 60 },
});
const openaiAnswer = JSON.stringify({
  id: 'chatcmpl-bench',
  object: 'chat.completion',
  created: 1,
  model: 'gpt-4o-mini',
  choices: [{ index: 0, message: { role: 'assistant', content: text }, finish_reason: 'stop' }],
  usage: { prompt_tokens: 180, completion_tokens: 60, total_tokens: 240 },
});

const measure = (fn: (i: number) => number) => measureMicro(fn, iterations, requests.length);
const results = {
  'baseline: JSON.parse(body)': measure(
    (i) => (JSON.parse(bodies[i]!) as { messages: unknown[] }).messages.length,
  ),
  'openai: body out + answer in (pass-through)': measure((i) => {
    const out = JSON.stringify({ ...requests[i]!, stream: false }).length;
    return out + (JSON.parse(openaiAnswer) as { choices: unknown[] }).choices.length;
  }),
  'anthropic: translate out + answer in': measure((i) => {
    const out = JSON.stringify(toAnthropicRequest({ ...requests[i]!, stream: false })).length;
    return out + fromAnthropicMessage(JSON.parse(anthropicAnswer), 1).choices.length;
  }),
  'gemini: translate out + answer in': measure((i) => {
    const out = JSON.stringify(toGeminiRequest(requests[i]!)).length;
    return out + fromGeminiResponse(JSON.parse(geminiAnswer), 'gemini-2.5-flash', 1).choices.length;
  }),
};

const base = results['baseline: JSON.parse(body)'];
const rows = Object.entries(results).map(([name, r]) => ({
  name,
  'wall p50 µs': r.wall.p50.toFixed(1),
  'wall p99 µs': r.wall.p99.toFixed(1),
  'cpu p50 µs': r.cpu.p50.toFixed(0),
  'cpu p99 µs': r.cpu.p99.toFixed(0),
  'p50 / baseline': (r.wall.p50 / base.wall.p50).toFixed(2),
  'p99 / baseline': (r.wall.p99 / base.wall.p99).toFixed(2),
}));
console.log(`6-turn conversation with a tool, ${iterations} iterations, node ${process.version}`);
console.table(rows);
