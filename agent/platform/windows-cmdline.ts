import { ReconSyncError } from '../../protocol/index.ts';

/**
 * Windows command lines. CreateProcess takes one string; programs split it with the
 * MSVC runtime's rules (CommandLineToArgvW), and .bat/.cmd files only run through
 * cmd.exe, which has rules of its own. Node ≥ 20.12.2 refuses to spawn a .bat
 * without a shell (CVE-2024-27980), so a start command such as StartServer64.bat
 * goes through `cmd.exe /d /s /c "..."` built here.
 */

/** One argument quoted for CommandLineToArgvW (same as libuv and ReconSyncService.cs QuoteArgument). */
export function quoteWindowsArg(arg: string): string {
  if (arg !== '' && !/[ \t\n\v"]/.test(arg)) return arg;
  let out = '"';
  let backslashes = 0;
  for (const c of arg) {
    if (c === '\\') {
      backslashes++;
      continue;
    }
    // Backslashes count only before a quote (doubled, plus one to escape it) and at the end.
    out += c === '"' ? '\\'.repeat(backslashes * 2 + 1) + '"' : '\\'.repeat(backslashes) + c;
    backslashes = 0;
  }
  return `${out}${'\\'.repeat(backslashes * 2)}"`;
}

export function isBatchFile(command: string): boolean {
  return /\.(bat|cmd)$/i.test(command.trim());
}

/** cmd.exe's special characters; a caret before each makes it literal (also `%`, as `^%`, outside a batch file). */
const cmdMeta = /([()\][%!^"`<>&|;, *?])/g;

/**
 * The argv for cmd.exe running a batch file: ['/d', '/s', '/c', '"<line>"'], to be passed
 * verbatim (no further quoting). /d skips AutoRun commands, /s takes everything between the
 * outer quotes as is. Each argument is quoted for the program the script may pass it to,
 * then every cmd.exe special character, quotes included, is caret-escaped so cmd sees no
 * quoted regions, no `&`, `|`, `%VAR%`. A double quote inside an argument is refused: the
 * script's own `%1`/`%*` would re-parse it, and no escaping survives that.
 */
export function batchArgs(command: string, args: readonly string[]): string[] {
  for (const [i, a] of args.entries()) {
    if (/["\r\n]/.test(a)) {
      throw new ReconSyncError('NOT_SUPPORTED', `start.args[${i}] holds a double quote or a line break, which a .bat/.cmd start command (${command}) cannot receive safely; put that value in start.env or the game's own config file`);
    }
  }
  const line = [command.replace(cmdMeta, '^$1'), ...args.map((a) => quoteAlways(a).replace(cmdMeta, '^$1'))].join(' ');
  return ['/d', '/s', '/c', `"${line}"`];
}

/** Like quoteWindowsArg but always in quotes, so an empty or plain argument stays one argument for the script. */
function quoteAlways(arg: string): string {
  const q = quoteWindowsArg(arg);
  return q.startsWith('"') ? q : `"${q}"`;
}

/** The whole CreateProcess command line for a game: cmd.exe for a batch file, else the program and its quoted arguments. */
export function windowsCommandLine(command: string, args: readonly string[], comspec: string): string {
  if (isBatchFile(command)) return [quoteWindowsArg(comspec), ...batchArgs(command, args)].join(' ');
  return [command, ...args].map(quoteWindowsArg).join(' ');
}
