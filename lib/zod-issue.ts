import type { z } from 'zod';
import { MAX_ECHO_CHARS, echo } from './echo.ts';

/**
 * One zod issue as "path: message", the form every refusal of outside data
 * (frames, RPC params, outbox records, configs) uses. Free of I/O (echo.ts is pure
 * too): protocol/ uses it.
 */

/** Where the issue is, dotted (`servers.0.gamePort`); `(root)` for the value itself. */
export function issuePath(issue: z.core.$ZodIssue | undefined): string {
  return issue?.path.map(String).join('.') || '(root)';
}

/**
 * `path: message` of one issue, both bounded (issueMessage): the text goes back to the caller
 * and into logs, and zod would quote an unknown key of any length whole. A missing issue (an
 * empty error) reads `(root): invalid`.
 */
export function issueText(issue: z.core.$ZodIssue | undefined): string {
  return `${echo(issuePath(issue))}: ${issueMessage(issue)}`;
}

/** The first issue of a failed parse as `path: message`. */
export function firstIssue(error: z.ZodError): string {
  return issueText(error.issues[0]);
}

/** Every issue of a failed parse, one `path: message` each. */
export function issueLines(error: z.ZodError): string[] {
  return error.issues.map((issue) => issueText(issue));
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
