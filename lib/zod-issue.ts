import type { z } from 'zod';

/**
 * One zod issue as "path: message", the form every refusal of outside data
 * (frames, RPC params, outbox records, configs) uses. Free of I/O and of project
 * imports: protocol/ uses it too.
 */

/** Where the issue is, dotted (`servers.0.gamePort`); `(root)` for the value itself. */
export function issuePath(issue: z.core.$ZodIssue | undefined): string {
  return issue?.path.map(String).join('.') || '(root)';
}

/** `path: message` of one issue; a missing issue (an empty error) reads `(root): invalid`. */
export function issueText(issue: z.core.$ZodIssue | undefined): string {
  return `${issuePath(issue)}: ${issue?.message ?? 'invalid'}`;
}

/** The first issue of a failed parse as `path: message`. */
export function firstIssue(error: z.ZodError): string {
  return issueText(error.issues[0]);
}

/** Every issue of a failed parse, one `path: message` each. */
export function issueLines(error: z.ZodError): string[] {
  return error.issues.map((issue) => issueText(issue));
}
