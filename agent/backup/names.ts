/**
 * Which file names a backup can carry, decided once for both ends: the
 * archiver skips (with a warning) exactly the names the restorer would refuse,
 * so an archive that was written is an archive that restores.
 *
 * Per name class, on POSIX: backslash, colon, control characters and very
 * long names are ordinary bytes of one name there and round-trip exactly
 * (pax headers carry them). Names that are not valid UTF-8 cannot: Node's
 * string paths turn their bytes into U+FFFD, and tar pax paths are UTF-8, so
 * they are left out with one summary warning. On Windows the file system
 * itself refuses `\ : < > " | ? *` and control characters, so an archive
 * entry holding one is hostile there (`..\..\x` would climb out).
 */

export type NamePlatform = 'win32' | 'posix';

export function currentNamePlatform(): NamePlatform {
  return process.platform === 'win32' ? 'win32' : 'posix';
}

const WINDOWS_ILLEGAL = /[\\:<>"|?*\x00-\x1f]/;

/** Why one path segment cannot be restored here, or null when it can. */
export function segmentProblem(seg: string, platform: NamePlatform = currentNamePlatform()): string | null {
  if (seg.includes('\0')) return 'contains a NUL byte';
  if (seg === '..') return 'contains ".."';
  if (platform === 'win32') {
    if (seg.includes('\\')) return 'contains a backslash';
    if (seg.includes(':')) return 'contains ":"';
    if (WINDOWS_ILLEGAL.test(seg)) return 'contains a character Windows does not allow in file names';
  }
  return null;
}

/** True when the bytes of a file name are valid UTF-8 (and so survive a string round trip). */
export function isUtf8Name(name: Buffer): boolean {
  return Buffer.from(name.toString('utf8'), 'utf8').equals(name);
}

/** A file name for messages: invalid bytes and control characters shown as escapes. */
export function printableName(name: Buffer | string): string {
  const bytes = typeof name === 'string' ? Buffer.from(name, 'utf8') : name;
  if (isUtf8Name(bytes)) {
        return bytes.toString('utf8').replace(/[\x00-\x1f\x7f]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
  }
  let out = '';
  for (const b of bytes) out += b >= 0x20 && b < 0x7f ? String.fromCharCode(b) : `\\x${b.toString(16).padStart(2, '0')}`;
  return out;
}

/**
 * One warning for many skipped names: how many, why, and the first few, kept
 * under the manifest's 1000-character limit for a warning.
 */
export function summarize(reason: string, names: string[], maxChars = 1000): string | null {
  if (names.length === 0) return null;
  const shown: string[] = [];
  let used = 0;
  for (const n of names.slice(0, 5)) {
    const s = n.length > 160 ? `${n.slice(0, 80)}…${n.slice(-40)}` : n;
    if (used + s.length > maxChars - 200) break;
    shown.push(s);
    used += s.length + 2;
  }
  const more = names.length - shown.length;
  const text = `${names.length} ${names.length === 1 ? 'file' : 'files'} not archived (${reason}): ${shown.join(', ')}${more > 0 ? `, and ${more} more` : ''}`;
  return text.slice(0, maxChars);
}
