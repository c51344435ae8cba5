/**
 * A union of objects told apart by their `type` field, for request schemas whose item types grow over time (content
 * blocks, input items). Unlike z.union, a known type that is malformed fails with the issue of its own schema, so the
 * error names the field (`messages[0].content[1].source.data`), not "invalid input"; an unknown type passes through
 * untouched so the translation can refuse it by name.
 */
import { z } from 'zod';
import { jsonType } from '../config/issues.js';

export type Unknown = { type: string } & Record<string, unknown>;

export function byType<T extends Record<string, z.ZodType>>(schemas: T, opts: { untyped?: keyof T } = {}) {
  return z
    .looseObject({ type: opts.untyped === undefined ? z.string() : z.string().optional() })
    .transform((v, ctx): z.infer<T[keyof T]> | Unknown => {
      // An object without `type` is read as `opts.untyped` (a Responses input message may omit it).
      const type = v.type ?? (opts.untyped as string);
      const schema = Object.hasOwn(schemas, type) ? schemas[type] : undefined;
      if (!schema) return v as Unknown;
      const r = schema.safeParse(v);
      if (r.success) return r.data as z.infer<T[keyof T]>;
      for (const issue of r.error.issues) ctx.addIssue(issue as never);
      return z.NEVER;
    });
}

/**
 * A string or something else (usually an array of parts), with the error of the non-string schema when it is not a
 * string: z.union would report only "invalid input" at the field, hiding which part is wrong.
 */
export function stringOr<T extends z.ZodType>(schema: T) {
  return z.unknown().transform((v, ctx): string | z.infer<T> => {
    if (typeof v === 'string') return v;
    const r = schema.safeParse(v);
    if (r.success) return r.data as z.infer<T>;
    // Neither a string nor the other kind at all: both are named, not only the other ("expected array").
    for (const issue of r.error.issues)
      if (issue.code === 'invalid_type' && issue.path.length === 0 && v !== undefined)
        ctx.addIssue({
          code: 'custom',
          message: `expected string or ${issue.expected}, received ${jsonType(v)}`,
        });
      else ctx.addIssue(issue as never);
    return z.NEVER;
  });
}

/**
 * A closed union of objects told apart by their `type` field (`response_format`, `tool_choice`). Unlike z.union, a
 * known type that is malformed fails with the issue of its own schema (`response_format.json_schema: required field
 * is missing`, not another branch's `response_format.type: expected one of "text"`); unlike z.discriminatedUnion, a
 * missing or unknown type is said as every other enum field's is (`type: expected one of "a"|"b"`).
 */
export function oneOfType<T extends Record<string, z.ZodType>>(schemas: T) {
  const types = Object.keys(schemas) as [Extract<keyof T, string>, ...Array<Extract<keyof T, string>>];
  return z.looseObject({ type: z.enum(types) }).transform((v, ctx): z.output<T[keyof T]> => {
    const r = (schemas[v.type] as z.ZodType).safeParse(v);
    if (r.success) return r.data as z.output<T[keyof T]>;
    for (const issue of r.error.issues) ctx.addIssue(issue as never);
    return z.NEVER;
  });
}
