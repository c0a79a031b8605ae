import type { z } from 'zod';

/**
 * Caller input echoed in an error message (an id, a path, a key) is cut to this
 * many characters: a request may carry megabytes in one field, and the message
 * goes back in the answer, into logs and into the audit log.
 */
export const MAX_ECHO_CHARS = 100;

/** `input` as text, cut to MAX_ECHO_CHARS with an ellipsis that says it was cut. */
export function echo(input: unknown, max: number = MAX_ECHO_CHARS): string {
  const text = String(input);
  return text.length <= max ? text : `${text.slice(0, max)}… (${text.length} characters)`;
}

/**
 * A zod issue's message with the caller's input cut: zod quotes unknown keys
 * whole ("Unrecognized key: \"<8 kB>\""), so those are named here through echo();
 * other messages name what was expected and are kept, within a bound.
 */
export function issueMessage(issue: z.core.$ZodIssue | undefined): string {
  if (!issue) return 'invalid';
  if (issue.code === 'unrecognized_keys') {
    const shown = issue.keys.slice(0, 3).map((k) => `"${echo(k)}"`).join(', ');
    return `unknown key${issue.keys.length === 1 ? '' : 's'} ${shown}${issue.keys.length > 3 ? ` and ${issue.keys.length - 3} more` : ''}`;
  }
  return echo(issue.message, 3 * MAX_ECHO_CHARS);
}
