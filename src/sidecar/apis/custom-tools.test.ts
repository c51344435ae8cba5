import { describe, expect, it } from 'vitest';
import { customCallArguments, customCallInput, customToolFunction, customToolNames } from './custom-tools.js';
import { strictCompatible } from './strict-schema.js';

describe('custom tools as functions', () => {
  it('offers a function of one string parameter, the grammar in its description', () => {
    const f = customToolFunction({
      type: 'custom',
      name: 'apply_patch',
      description: 'Edit files.',
      format: { type: 'grammar', syntax: 'lark', definition: 'start: "*** Begin Patch"' },
    });
    expect(f.function).toMatchObject({ name: 'apply_patch', description: 'Edit files.', strict: true });
    expect(f.function.parameters).toMatchObject({ required: ['input'], additionalProperties: false });
    // The model is told the grammar; strict mode keeps it to the one string.
    expect(JSON.stringify(f.function.parameters)).toContain('lark grammar:\\nstart: \\"*** Begin Patch\\"');
    expect(strictCompatible(f.function.parameters)).toBe(true);
    const free = customToolFunction({ type: 'custom', name: 'note' });
    expect(JSON.stringify(free.function.parameters)).not.toContain('grammar');
  });

  it("reads the call's input back from the arguments, keeping what is not the expected shape as it came", () => {
    const input = '*** Begin Patch\n*** Add File: a.txt\n+hi\n*** End Patch';
    expect(customCallInput(customCallArguments(input))).toBe(input);
    expect(customCallInput('not json')).toBe('not json');
    expect(customCallInput('{"patch":"x"}')).toBe('{"patch":"x"}');
    expect(customCallInput('')).toBe('');
  });

  it('names only the custom tools of a request', () => {
    expect([
      ...customToolNames([
        { type: 'function', name: 'shell' },
        { type: 'custom', name: 'apply_patch' },
      ]),
    ]).toEqual(['apply_patch']);
    expect(customToolNames(undefined).size).toBe(0);
  });
});
