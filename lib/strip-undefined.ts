/** `T` after stripUndefined: a key that may hold undefined becomes optional without it; the others stay as they are. */
export type Stripped<T> =
  & { [K in keyof T as undefined extends T[K] ? never : K]: T[K] }
  & { [K in keyof T as undefined extends T[K] ? K : never]?: Exclude<T[K], undefined> };

/**
 * `o` without its keys whose value is undefined, so that
 * `{ ...Defaults, ...stripUndefined(options) }` keeps a default where the
 * caller passed `{ key: undefined }` (a plain spread would overwrite it).
 */
export function stripUndefined<T extends object>(o: T): Stripped<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Stripped<T>;
}
