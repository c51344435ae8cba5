/**
 * The OpenAI Responses API request the sidecar accepts on `POST /v1/responses`. Item and part types tiermesh cannot
 * carry (files, hosted tools, computer use, ...) pass the schema and are refused by the translation in
 * src/sidecar/apis/responses.ts with an error naming the field.
 */
import { z } from 'zod';
import { userId } from './common.js';
import { byType, oneOfType, stringOr } from './tagged.js';

const inputText = z.looseObject({ type: z.literal('input_text'), text: z.string() });
const inputImage = z.looseObject({
  type: z.literal('input_image'),
  image_url: z.string().min(1).nullish(),
  file_id: z.string().nullish(),
  detail: z.enum(['low', 'high', 'auto']).nullish(),
});
const outputText = z.looseObject({ type: z.literal('output_text'), text: z.string() });
const refusal = z.looseObject({ type: z.literal('refusal'), refusal: z.string() });

export const responsesContentPart = byType({
  input_text: inputText,
  input_image: inputImage,
  output_text: outputText,
  refusal,
});

const messageItem = z.looseObject({
  type: z.literal('message').optional(),
  role: z.enum(['user', 'assistant', 'system', 'developer']),
  content: stringOr(z.array(responsesContentPart)),
});

const functionCallItem = z.looseObject({
  type: z.literal('function_call'),
  call_id: z.string().min(1),
  name: z.string().min(1),
  arguments: z.string(),
  id: z.string().nullish(),
});

const functionCallOutputItem = z.looseObject({
  type: z.literal('function_call_output'),
  call_id: z.string().min(1),
  output: stringOr(z.array(responsesContentPart)),
});

const itemReference = z.looseObject({ type: z.literal('item_reference'), id: z.string().min(1) });

/** A call of a custom (freeform) tool and its output: text in, text out (src/sidecar/apis/custom-tools.ts). */
const customToolCallItem = z.looseObject({
  type: z.literal('custom_tool_call'),
  call_id: z.string().min(1),
  name: z.string().min(1),
  input: z.string(),
  id: z.string().nullish(),
});

const customToolCallOutputItem = z.looseObject({
  type: z.literal('custom_tool_call_output'),
  call_id: z.string().min(1),
  output: stringOr(z.array(responsesContentPart)),
});

/** An input item: a message (with or without `type`), a function call or its output, or another type to refuse. */
export const responsesInputItem = byType(
  {
    message: messageItem,
    function_call: functionCallItem,
    function_call_output: functionCallOutputItem,
    custom_tool_call: customToolCallItem,
    custom_tool_call_output: customToolCallOutputItem,
    item_reference: itemReference,
  },
  { untyped: 'message' },
);
export type ResponsesInputItem = z.infer<typeof responsesInputItem>;
export type ResponsesMessageItem = z.infer<typeof messageItem>;
export type ResponsesFunctionCallItem = z.infer<typeof functionCallItem>;
export type ResponsesFunctionCallOutputItem = z.infer<typeof functionCallOutputItem>;
export type ResponsesCustomToolCallItem = z.infer<typeof customToolCallItem>;
export type ResponsesCustomToolCallOutputItem = z.infer<typeof customToolCallOutputItem>;

const functionTool = z.looseObject({
  type: z.literal('function'),
  name: z.string().min(1).max(128),
  description: z.string().nullish(),
  parameters: z.record(z.string(), z.unknown()).nullish(),
  strict: z.boolean().nullish(),
});
/** A custom (freeform) tool: its input is text, free or held to a Lark or regex grammar. */
const customTool = z.looseObject({
  type: z.literal('custom'),
  name: z.string().min(1).max(128),
  description: z.string().nullish(),
  format: oneOfType({
    text: z.looseObject({ type: z.literal('text') }),
    grammar: z.looseObject({
      type: z.literal('grammar'),
      syntax: z.enum(['lark', 'regex']),
      definition: z.string(),
    }),
  }).nullish(),
});
export type ResponsesCustomTool = z.infer<typeof customTool>;
export const responsesTool = byType({ function: functionTool, custom: customTool });

export const responsesTextFormat = byType({
  text: z.looseObject({ type: z.literal('text') }),
  json_object: z.looseObject({ type: z.literal('json_object') }),
  json_schema: z.looseObject({
    type: z.literal('json_schema'),
    name: z.string().min(1).max(64),
    schema: z.record(z.string(), z.unknown()),
    description: z.string().nullish(),
    strict: z.boolean().nullish(),
  }),
});

export const responsesToolChoice = z.union([
  z.enum(['auto', 'none', 'required']),
  oneOfType({
    function: z.looseObject({ type: z.literal('function'), name: z.string().min(1) }),
    custom: z.looseObject({ type: z.literal('custom'), name: z.string().min(1) }),
  }),
]);

/** Reasoning effort levels the Responses API takes; passed on as chat completions' `reasoning_effort`. */
export const reasoningEfforts = ['none', 'minimal', 'low', 'medium', 'high', 'xhigh'] as const;

/**
 * Fields with a chat-completions equivalent are translated (src/sidecar/apis/responses.ts); the ones without are
 * refused (`prompt`) or accepted and ignored as docs/apis.md lists (truncation, reasoning.summary, max_tool_calls,
 * include values other than logprobs, stream_options, context_management). Other unknown fields are ignored.
 */
export const responsesRequest = z.looseObject({
  model: z.string().min(1, 'model is required'),
  input: stringOr(z.array(responsesInputItem).min(1, 'input must not be empty')),
  instructions: z.string().nullish(),
  tools: z.array(responsesTool).nullish(),
  tool_choice: responsesToolChoice.nullish(),
  parallel_tool_calls: z.boolean().nullish(),
  text: z
    .looseObject({
      format: responsesTextFormat.nullish(),
      verbosity: z.enum(['low', 'medium', 'high']).nullish(),
    })
    .nullish(),
  reasoning: z
    .looseObject({
      effort: z.enum(reasoningEfforts).nullish(),
      summary: z.enum(['auto', 'concise', 'detailed']).nullish(),
    })
    .nullish(),
  include: z.array(z.string().max(128)).max(16).nullish(),
  top_logprobs: z.number().int().min(0).max(20).nullish(),
  max_tool_calls: z.number().int().min(1).nullish(),
  service_tier: z.enum(['auto', 'default', 'flex', 'scale', 'priority']).nullish(),
  prompt_cache_key: z.string().max(1024).nullish(),
  prompt_cache_retention: z.enum(['in_memory', '24h']).nullish(),
  truncation: z.enum(['auto', 'disabled']).nullish(),
  prompt: z.unknown().optional(),
  max_output_tokens: z.number().int().min(1).nullish(),
  temperature: z.number().min(0).max(2).nullish(),
  top_p: z.number().min(0).max(1).nullish(),
  stream: z.boolean().nullish(),
  store: z.boolean().nullish(),
  previous_response_id: z.string().nullish(),
  background: z.boolean().nullish(),
  conversation: z.unknown().optional(),
  metadata: z.record(z.string(), z.string()).nullish(),
  user: userId.nullish(),
  safety_identifier: userId.nullish(),
});
export type ResponsesRequest = z.infer<typeof responsesRequest>;
