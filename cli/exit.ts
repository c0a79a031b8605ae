/**
 * How a command ends: the exit codes scripts rely on, and the error that means "wrong
 * usage" (exit 2 with the help's hint). Apart from main.ts because the commands it loads
 * (hub-admin.ts …) use both, and they importing main.ts back made a loop.
 */
export const ExitCode = { Ok: 0, Failure: 1, Usage: 2, ConfigInvalid: 3 } as const;

export class UsageError extends Error {}
