/**
 * Text of anything thrown, for messages and logs. Kept free of imports and I/O:
 * protocol/ uses it too, and protocol/ does no I/O.
 *
 * `(err as Error).message` is not enough: a thrown string or a rejected
 * `undefined` has no message, and the operator would read "undefined".
 */
export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/**
 * A system error's code (ENOENT, EACCES, ECONNREFUSED) when it has one, else
 * its message: the code is what an operator looks up and is short enough to
 * sit inside a sentence ("cannot read file: ENOENT").
 */
export function errorCodeOrMessage(err: unknown): string {
  const code = err instanceof Error ? (err as NodeJS.ErrnoException).code : undefined;
  return typeof code === 'string' && code !== '' ? code : errorMessage(err);
}
