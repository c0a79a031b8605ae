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
