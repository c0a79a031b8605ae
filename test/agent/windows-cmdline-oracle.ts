/**
 * Test oracle: splits a Windows command line the way the MSVC runtime (and
 * CommandLineToArgvW for arguments after the first) does, so quoting built by
 * agent/platform/windows-cmdline.ts can be checked by round trip on Linux.
 */
export function parseWindowsCommandLine(line: string): string[] {
  const argv: string[] = [];
  let i = 0;
  for (;;) {
    while (line[i] === ' ' || line[i] === '\t') i++;
    if (i >= line.length) return argv;
    let arg = '';
    let quoted = false;
    while (i < line.length) {
      const c = line[i]!;
      if (c === '\\') {
        let n = 0;
        while (line[i] === '\\') { n++; i++; }
        if (line[i] === '"') {
          arg += '\\'.repeat(Math.floor(n / 2));
          if (n % 2 === 1) { arg += '"'; i++; }
        } else {
          arg += '\\'.repeat(n);
        }
        continue;
      }
      if (c === '"') {
        // Inside quotes, "" is a literal quote (msvcrt since 2008).
        if (quoted && line[i + 1] === '"') { arg += '"'; i += 2; continue; }
        quoted = !quoted;
        i++;
        continue;
      }
      if ((c === ' ' || c === '\t') && !quoted) break;
      arg += c;
      i++;
    }
    argv.push(arg);
  }
}
