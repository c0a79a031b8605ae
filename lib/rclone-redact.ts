import { isSecretName, REDACTED } from './redact.ts';
import { RCLONE_SENSITIVE_OPTIONS } from './rclone-sensitive.ts';

/**
 * Credentials in rclone remote strings and in what rclone prints. Shared by
 * the agent (before anything leaves it) and the hub (records from an agent of
 * another version are redacted again before they are stored).
 */

const SENSITIVE_OPTIONS = new Set(RCLONE_SENSITIVE_OPTIONS);

/** An option holds a secret when rclone flags it (generated list) or its name says so (a backend newer than the list). */
function isSensitiveOption(name: string): boolean {
  const n = name.toLowerCase().replace(/-/g, '_');
  return SENSITIVE_OPTIONS.has(n) || isSecretName(n);
}

/** `name=value` in a connection string (`:sftp,key_pem="…",pass=x:path`); rclone quotes with ' or " and doubles a quote inside. */
const OPTION_VALUE = /(^|[^A-Za-z0-9_-])([A-Za-z][A-Za-z0-9_-]*)(\s*=\s*)("(?:[^"]|"")*"|'(?:[^']|'')*'|[^,:\s]+)/g;
/** `"name": "value"` in JSON rclone prints (lsjson, config dump, OAuth tokens). */
const JSON_VALUE = /("([A-Za-z][A-Za-z0-9_-]*)"\s*:\s*)"(?:[^"\\]|\\.)*"/g;
const URL_USERINFO = /\b([a-z][a-z0-9+.-]*:\/\/)[^/\s:@]+:[^/\s@]+@/gi;

/**
 * Removes credentials from text that may echo a connection string
 * (`:s3,secret_access_key=...:`), a URL with userinfo, or JSON. Every option
 * rclone marks IsPassword/Sensitive is hidden, so identifiers rclone counts as
 * sensitive (sftp host and user, account ids) are too. Idempotent: redacting
 * twice gives the same text, so a redacted target stays a stable key.
 */
export function redactSecrets(text: string): string {
  return text
    .replace(OPTION_VALUE, (m, pre: string, name: string, eq: string) => (isSensitiveOption(name) ? `${pre}${name}${eq}${REDACTED}` : m))
    .replace(JSON_VALUE, (m, head: string, name: string) => (isSensitiveOption(name) ? `${head}"${REDACTED}"` : m))
    .replace(URL_USERINFO, `$1${REDACTED}@`);
}

/** Outside data reaching here was bounded by the frame parser; this is a second guard, not the limit. */
const MAX_DEPTH = 64;

/** Every string inside a JSON-like value through redactSecrets; same shape back. */
export function redactDeep<T>(value: T, depth = 0): T {
  if (typeof value === 'string') return redactSecrets(value) as T;
  if (depth >= MAX_DEPTH || value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) return value.map((v: unknown) => redactDeep(v, depth + 1)) as T;
  return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, redactDeep(v, depth + 1)])) as T;
}
