/**
 * Secret scrubbing for text we write where others can read it: the game's
 * command line in its log, error messages, log lines. Two complementary ways,
 * because neither alone is enough:
 *  - known values: the secrets the config holds (rcon.password, tokens...),
 *    replaced wherever they appear, whatever form the game expects them in;
 *  - by name: `Password=x`, `?ServerAdminPassword=x`, `-password x`,
 *    `+rcon.password x`, for secrets the config does not know as such
 *    (a join password typed straight into `start.args`).
 */

export const REDACTED = '[redacted]';

/** Names that hold a secret: passwords, tokens, API keys, credentials. Over-matching only hides a harmless value. */
const SECRET_NAME = /(pass(?:word|wd|phrase)?|pwd|secret|token|api[_-]?key|private[_-]?key|credential|auth)/i;

export function isSecretName(name: string): boolean {
  return SECRET_NAME.test(name);
}

/** `name=value` inside one argument; the value ends at the next `?`/`&` (ARK's map URL, query strings) or blank. */
const KEY_VALUE = /([A-Za-z0-9_.-]+)=([^?&\s]*)/g;
/** A flag whose next argument is its value: `-password`, `--rcon-password`, `+rcon_password`, `+rcon.password`, `/Password`. */
const FLAG = /^(?:-{1,2}|\+|\/)([A-Za-z0-9_.-]+)$/;

/** Replaces each known secret value (non-empty) wherever it occurs; longest first, so a secret inside another goes too. */
export function redactKnown(text: string, secrets: readonly string[]): string {
  let out = text;
  for (const s of [...new Set(secrets)].filter((v) => v.length > 0).sort((a, b) => b.length - a.length)) out = out.split(s).join(REDACTED);
  return out;
}

export function redactKeyValues(arg: string): string {
  return arg.replace(KEY_VALUE, (m, name: string, value: string) => (isSecretName(name) && value !== '' ? `${name}=${REDACTED}` : m));
}

/**
 * One printable line for a command about to run, with its secrets replaced:
 * known values, `key=value` pairs with a secret name, and the argument after
 * a secret-named flag. Arguments with blanks or quotes are JSON-quoted so the
 * line stays unambiguous.
 */
export function redactCommandLine(command: string, args: readonly string[], secrets: readonly string[] = []): string {
  const out: string[] = [];
  let hideNext = false;
  for (const arg of [command, ...args]) {
    let shown = hideNext ? REDACTED : redactKnown(redactKeyValues(arg), secrets);
    const flag = FLAG.exec(arg);
    hideNext = flag !== null && isSecretName(flag[1]!);
    if (/[\s"'\\]/.test(shown)) shown = JSON.stringify(shown);
    out.push(shown);
  }
  return out.join(' ');
}
