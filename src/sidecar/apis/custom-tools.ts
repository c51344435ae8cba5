/**
 * Custom (freeform) tools of the Responses API, carried as function tools. A custom tool takes text instead of JSON
 * arguments, free or held to a Lark or regex grammar; Codex gives GPT-5-family models its `apply_patch` tool so.
 * Chat completions, and the Anthropic and Gemini translations behind them, know function tools only, so the model is
 * offered a function of the same name with one string parameter, `input`, the grammar written into its description,
 * and a call to it is answered as a `custom_tool_call` item whose `input` is that string.
 *
 * What this cannot carry: the grammar constrains no sampling here (the model reads it and is trusted to follow it,
 * as with any function's description); an answer that breaks it reaches the client as the model wrote it.
 */
import type { ResponsesCustomTool } from '../../api/responses.js';

/** The function tool, in chat form, that stands for a custom tool. */
export function customToolFunction(t: ResponsesCustomTool): {
  type: 'function';
  function: { name: string; description: string; parameters: Record<string, unknown>; strict: true };
} {
  const format = t.format?.type === 'grammar' ? t.format : undefined;
  const input = format
    ? `The input, as plain text (not JSON), in the language of this ${format.syntax} grammar:\n${format.definition}`
    : 'The input, as plain text (not JSON).';
  return {
    type: 'function',
    function: {
      name: t.name,
      description: t.description ?? '',
      parameters: {
        type: 'object',
        properties: { input: { type: 'string', description: input } },
        required: ['input'],
        additionalProperties: false,
      },
      // The schema is strict-compatible, and strict mode keeps OpenAI models to one string argument.
      strict: true,
    },
  };
}

/** A custom tool call's input as the arguments of the function call that stands for it. */
export function customCallArguments(input: string): string {
  return JSON.stringify({ input });
}

/**
 * The input of a custom tool call from the arguments the model gave its function: the `input` string, or, when the
 * model sent something else (not JSON, another shape), the arguments as they came rather than nothing.
 */
export function customCallInput(args: string): string {
  try {
    const v = JSON.parse(args) as unknown;
    if (typeof v === 'object' && v !== null && typeof (v as { input?: unknown }).input === 'string')
      return (v as { input: string }).input;
  } catch {
    // Not JSON: passed on as it came.
  }
  return args;
}

/** The names of the request's custom tools, whose calls are answered as custom_tool_call items. */
export function customToolNames(tools: ReadonlyArray<{ type: string; name?: unknown }> | null | undefined) {
  const names = new Set<string>();
  for (const t of tools ?? []) if (t.type === 'custom' && typeof t.name === 'string') names.add(t.name);
  return names;
}
