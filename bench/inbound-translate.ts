/**
 * What the inbound API adapters cost per request: reading an Anthropic Messages or Responses body (schema + the
 * translation to the internal request) and answering in that API's shape, for a 6-turn conversation with a system
 * prompt and a tool; and the response cache's key (canonical JSON + SHA-256). p50/p99 in microseconds next to a
 * same-run baseline: the chat path's own schema parse of the equivalent chat-completions body.
 *
 *   tsx bench/inbound-translate.ts [--iterations 20000]
 */
import { parseArgs } from 'node:util';
import { anthropicMessagesRequest } from '../src/api/anthropic-messages.js';
import { type ChatCompletion, chatCompletionRequest } from '../src/api/openai.js';
import { responsesRequest } from '../src/api/responses.js';
import { fromAnthropicRequest, toAnthropicMessage } from '../src/sidecar/apis/anthropic-messages.js';
import { fromResponsesRequest, toResponse } from '../src/sidecar/apis/responses.js';
import { cacheKey } from '../src/sidecar/cache.js';
import { measureMicro } from './lib/micro.js';

const { values } = parseArgs({ options: { iterations: { type: 'string', default: '20000' } } });
const iterations = Number(values.iterations);
if (!Number.isInteger(iterations) || iterations < 100)
  throw new Error('--iterations must be an integer >= 100');

const schema = { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] };
const question = (i: number) => `${i} What should I pack for a week in Paris in March? `.repeat(8);
const reply = 'A light coat, layers and an umbrella. Anything else?';
const toolOut = '{"tempC":11,"sky":"overcast"}';

const chatBodies = Array.from({ length: 64 }, (_, i) =>
  JSON.stringify({
    model: 'auto',
    max_tokens: 512,
    tools: [{ type: 'function', function: { name: 'get_weather', parameters: schema } }],
    messages: [
      { role: 'system', content: 'You are a concise travel assistant.' },
      { role: 'user', content: question(i) },
      { role: 'assistant', content: reply },
      { role: 'user', content: 'And the weather now?' },
      {
        role: 'assistant',
        content: null,
        tool_calls: [
          { id: 'c1', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Paris"}' } },
        ],
      },
      { role: 'tool', tool_call_id: 'c1', content: toolOut },
    ],
  }),
);
const anthropicBodies = Array.from({ length: 64 }, (_, i) =>
  JSON.stringify({
    model: 'auto',
    max_tokens: 512,
    system: 'You are a concise travel assistant.',
    tools: [{ name: 'get_weather', input_schema: schema }],
    messages: [
      { role: 'user', content: question(i) },
      { role: 'assistant', content: reply },
      { role: 'user', content: 'And the weather now?' },
      {
        role: 'assistant',
        content: [{ type: 'tool_use', id: 'c1', name: 'get_weather', input: { city: 'Paris' } }],
      },
      { role: 'user', content: [{ type: 'tool_result', tool_use_id: 'c1', content: toolOut }] },
    ],
  }),
);
const responsesBodies = Array.from({ length: 64 }, (_, i) =>
  JSON.stringify({
    model: 'auto',
    max_output_tokens: 512,
    instructions: 'You are a concise travel assistant.',
    tools: [{ type: 'function', name: 'get_weather', parameters: schema }],
    input: [
      { role: 'user', content: question(i) },
      { role: 'assistant', content: [{ type: 'output_text', text: reply }] },
      { role: 'user', content: 'And the weather now?' },
      { type: 'function_call', call_id: 'c1', name: 'get_weather', arguments: '{"city":"Paris"}' },
      { type: 'function_call_output', call_id: 'c1', output: toolOut },
    ],
  }),
);
const answer: ChatCompletion = {
  id: 'chatcmpl-bench',
  object: 'chat.completion',
  created: 1,
  model: 'gpt-4o-mini',
  choices: [
    {
      index: 0,
      message: { role: 'assistant', content: 'Bring the coat and the umbrella. '.repeat(8) },
      finish_reason: 'stop',
    },
  ],
  usage: { prompt_tokens: 180, completion_tokens: 60, total_tokens: 240 },
};
const scope = { namespace: 'bench', route: 'default' };
const chatRequests = chatBodies.map((b) => chatCompletionRequest.parse(JSON.parse(b)));
let id = 0;

const measure = (fn: (i: number) => number) => measureMicro(fn, iterations, 64);
const results = {
  'baseline: chat body parse + schema': measure(
    (i) => chatCompletionRequest.parse(JSON.parse(chatBodies[i]!)).messages.length,
  ),
  'messages: parse + schema + translate in + answer out': measure((i) => {
    const req = anthropicMessagesRequest.parse(JSON.parse(anthropicBodies[i]!));
    return fromAnthropicRequest(req).messages.length + JSON.stringify(toAnthropicMessage(answer)).length;
  }),
  'responses: parse + schema + translate in + answer out': measure((i) => {
    const req = responsesRequest.parse(JSON.parse(responsesBodies[i]!));
    const out = toResponse(answer, req, (p) => `${p}_${++id}`);
    return fromResponsesRequest(req).messages.length + JSON.stringify(out).length;
  }),
  'cache key of the chat request': measure((i) => cacheKey(scope, 'cheap', chatRequests[i]!).length),
};

const base = results['baseline: chat body parse + schema'];
console.log(`6-turn conversation with a tool, ${iterations} iterations, node ${process.version}`);
console.table(
  Object.entries(results).map(([name, r]) => ({
    name,
    'wall p50 µs': r.wall.p50.toFixed(1),
    'wall p99 µs': r.wall.p99.toFixed(1),
    'p50 / baseline': (r.wall.p50 / base.wall.p50).toFixed(2),
    'p99 / baseline': (r.wall.p99 / base.wall.p99).toFixed(2),
  })),
);
