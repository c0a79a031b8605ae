import { z } from 'zod';
import { errorMessage } from '../lib/error-message.ts';

/**
 * `schema.safeParse` that never throws. zod 4 runs length checks on any value
 * with a `length` property even after its type check failed, and a hostile
 * `{"length": {"valueOf": 1}}` makes that comparison throw a TypeError. Every
 * parse of outside data (frames, RPC params/results, configs, profiles) goes
 * through here, so such input is an ordinary validation failure, not a crash.
 *
 * This is the last line, not the bound: nesting depth is checked before a
 * value reaches zod (json-bounds.ts for JSON text, yamlBoundsProblem for
 * YAML), because z.json() and every recursive walker after zod would
 * overflow the stack on deep input, and some run where a throw is not caught.
 */
export function safeParse<S extends z.ZodType>(schema: S, value: unknown): z.ZodSafeParseResult<z.output<S>> {
  try {
    return schema.safeParse(value) as z.ZodSafeParseResult<z.output<S>>;
  } catch (err) {
    const message = `invalid input (${errorMessage(err)})`.slice(0, 200);
    return { success: false, error: new z.ZodError([{ code: 'custom', message, path: [], input: undefined }]) } as z.ZodSafeParseResult<z.output<S>>;
  }
}
