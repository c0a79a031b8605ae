/**
 * A small POSIX tar (ustar + pax) codec. We write our own instead of using
 * node-tar because the archiver must control every byte it reads (retry a file
 * that vanished, copy SQLite files as a group, detect a file that changed
 * while read), and the reader must refuse hostile entries before anything is
 * written. Only what we need: regular files, directories, and on read also
 * links (so the extractor can judge them) and the long-name extensions.
 */

export const BLOCK = 512;
export const END_OF_ARCHIVE = Buffer.alloc(BLOCK * 2);

export type TarEntryType = 'file' | 'directory' | 'symlink' | 'hardlink' | 'char-device' | 'block-device' | 'fifo' | 'other';

export interface TarHeader {
  path: string;
  type: TarEntryType;
  size: number;
  mode: number;
  /** Milliseconds since the epoch. */
  mtime: number;
  linkpath: string;
}

const TYPE_FLAGS: Record<string, TarEntryType> = {
  '0': 'file', '\0': 'file', '7': 'file', '1': 'hardlink', '2': 'symlink', '3': 'char-device', '4': 'block-device', '5': 'directory', '6': 'fifo',
};
/** Pax / GNU long-name metadata is capped: a hostile archive must not make us buffer gigabytes. */
const MAX_META_BYTES = 1 << 20;
const MAX_OCTAL_11 = 0o77777777777;

export function paddingFor(size: number): number {
  return (BLOCK - (size % BLOCK)) % BLOCK;
}

function writeString(buf: Buffer, s: string, off: number, len: number): void {
  buf.write(s, off, len, 'utf8');
}

function writeOctal(buf: Buffer, value: number, off: number, len: number): void {
  const s = Math.floor(value).toString(8).padStart(len - 1, '0');
  buf.write(s + '\0', off, len, 'ascii');
}

function paxRecord(key: string, value: string): string {
  const body = ` ${key}=${value}\n`;
  // The length prefix counts itself, so grow it until it fits.
  let len = Buffer.byteLength(body) + 1;
  while (String(len).length + Buffer.byteLength(body) !== len) len = String(len).length + Buffer.byteLength(body);
  return `${len}${body}`;
}

function rawHeader(opts: { name: string; prefix: string; mode: number; size: number; mtimeSec: number; flag: string; linkname: string }): Buffer {
  const b = Buffer.alloc(BLOCK);
  writeString(b, opts.name, 0, 100);
  writeOctal(b, opts.mode & 0o7777, 100, 8);
  writeOctal(b, 0, 108, 8); // uid/gid 0: portable, ownership is not restored
  writeOctal(b, 0, 116, 8);
  writeOctal(b, opts.size, 124, 12);
  writeOctal(b, opts.mtimeSec, 136, 12);
  b.write('        ', 148, 8, 'ascii');
  b.write(opts.flag, 156, 1, 'ascii');
  writeString(b, opts.linkname, 157, 100);
  b.write('ustar\0', 257, 6, 'ascii');
  b.write('00', 263, 2, 'ascii');
  writeString(b, opts.prefix, 345, 155);
  let sum = 0;
  for (let i = 0; i < BLOCK; i++) sum += b[i]!;
  b.write(sum.toString(8).padStart(6, '0') + '\0 ', 148, 8, 'ascii');
  return b;
}

/** Splits a path into ustar prefix/name when both parts fit and everything is ASCII. */
function splitUstar(p: string): { name: string; prefix: string } | null {
  if (!/^[\x20-\x7e]*$/.test(p)) return null;
  if (p.length <= 100) return { name: p, prefix: '' };
  for (let i = p.indexOf('/'); i !== -1; i = p.indexOf('/', i + 1)) {
    const prefix = p.slice(0, i);
    const name = p.slice(i + 1);
    if (prefix.length <= 155 && name.length <= 100 && name.length > 0) return { name, prefix };
  }
  return null;
}

/**
 * Header block(s) for one entry: a pax extended header first when the path is
 * long or not ASCII, or the size does not fit ustar's 8 GiB.
 */
export function encodeHeader(h: { path: string; type: 'file' | 'directory'; size: number; mode: number; mtime: number }): Buffer {
  const p = h.type === 'directory' && !h.path.endsWith('/') ? `${h.path}/` : h.path;
  const size = h.type === 'directory' ? 0 : h.size;
  const mtimeSec = Math.max(0, Math.min(MAX_OCTAL_11, Math.floor(h.mtime / 1000)));
  const split = splitUstar(p);
  let pax = '';
  if (!split) pax += paxRecord('path', p);
  if (size > MAX_OCTAL_11) pax += paxRecord('size', String(size));
  const flag = h.type === 'directory' ? '5' : '0';
  const main = rawHeader({
    name: split ? split.name : p.replace(/[^\x20-\x7e]/g, '_').slice(0, 100),
    prefix: split ? split.prefix : '',
    mode: h.mode,
    size: Math.min(size, MAX_OCTAL_11),
    mtimeSec,
    flag,
    linkname: '',
  });
  if (!pax) return main;
  const paxData = Buffer.from(pax, 'utf8');
  const paxHead = rawHeader({ name: 'PaxHeader', prefix: '', mode: 0o644, size: paxData.length, mtimeSec, flag: 'x', linkname: '' });
  return Buffer.concat([paxHead, paxData, Buffer.alloc(paddingFor(paxData.length)), main]);
}

// ---------------------------------------------------------------- reader

function readString(b: Buffer, off: number, len: number): string {
  const end = b.indexOf(0, off);
  return b.toString('utf8', off, end === -1 || end > off + len ? off + len : end);
}

function readNumber(b: Buffer, off: number, len: number): number {
  if (b[off]! & 0x80) {
    // GNU base-256: big-endian, top bit is the marker.
    let v = b[off]! & 0x7f;
    for (let i = 1; i < len; i++) v = v * 256 + b[off + i]!;
    return v;
  }
  const s = b.toString('ascii', off, off + len).replace(/\0.*$/s, '').trim();
  if (s === '') return 0;
  if (!/^[0-7]+$/.test(s)) throw new TarFormatError(`bad numeric field "${s}"`);
  return parseInt(s, 8);
}

export class TarFormatError extends Error {
  constructor(message: string) {
    super(`not a valid tar archive: ${message}`);
    this.name = 'TarFormatError';
  }
}

function parsePax(data: Buffer): Record<string, string> {
  const out: Record<string, string> = {};
  let off = 0;
  while (off < data.length) {
    const sp = data.indexOf(0x20, off);
    if (sp === -1) break;
    const len = parseInt(data.toString('ascii', off, sp), 10);
    if (!Number.isFinite(len) || len <= 0 || off + len > data.length) throw new TarFormatError('bad pax record');
    const rec = data.toString('utf8', sp + 1, off + len - 1);
    const eq = rec.indexOf('=');
    if (eq > 0) out[rec.slice(0, eq)] = rec.slice(eq + 1);
    off += len;
  }
  return out;
}

/** Pulls exact byte counts out of an async chunk source. */
class ByteReader {
  #buf: Buffer = Buffer.alloc(0);
  #done = false;
  readonly #it: AsyncIterator<Uint8Array>;
  constructor(it: AsyncIterator<Uint8Array>) {
    this.#it = it;
  }

  async #fill(n: number): Promise<boolean> {
    while (this.#buf.length < n && !this.#done) {
      const r = await this.#it.next();
      if (r.done) this.#done = true;
      else this.#buf = this.#buf.length ? Buffer.concat([this.#buf, r.value]) : Buffer.from(r.value.buffer, r.value.byteOffset, r.value.byteLength);
    }
    return this.#buf.length >= n;
  }

  /** Exactly n bytes, or null at a clean end of input. */
  async read(n: number): Promise<Buffer | null> {
    if (!(await this.#fill(n))) {
      if (this.#buf.length === 0) return null;
      throw new TarFormatError('unexpected end of data');
    }
    const out = this.#buf.subarray(0, n);
    this.#buf = this.#buf.subarray(n);
    return out;
  }

  /** Up to n bytes as they arrive (at least one), for streaming a body. */
  async readSome(n: number): Promise<Buffer> {
    if (!(await this.#fill(1))) throw new TarFormatError('unexpected end of data');
    const k = Math.min(n, this.#buf.length);
    const out = this.#buf.subarray(0, k);
    this.#buf = this.#buf.subarray(k);
    return out;
  }
}

export interface TarEntry {
  header: TarHeader;
  /** The entry's data; must be consumed before the next entry, or it is skipped. */
  body(): AsyncGenerator<Buffer>;
}

/** Parses a tar stream entry by entry. Checksums are verified; unknown types surface as 'other'. */
export async function* readTar(source: AsyncIterable<Uint8Array>): AsyncGenerator<TarEntry> {
  const r = new ByteReader(source[Symbol.asyncIterator]());
  let pax: Record<string, string> = {};
  let longName: string | null = null;
  let longLink: string | null = null;
  for (;;) {
    const block = await r.read(BLOCK);
    if (!block || block.every((x) => x === 0)) return;
    const stored = readNumber(block, 148, 8);
    let sum = 0;
    for (let i = 0; i < BLOCK; i++) sum += i >= 148 && i < 156 ? 0x20 : block[i]!;
    if (sum !== stored) throw new TarFormatError('header checksum mismatch');
    const flag = String.fromCharCode(block[156]!);
    let size = readNumber(block, 124, 12);
    if (flag === 'x' || flag === 'g' || flag === 'L' || flag === 'K') {
      if (size > MAX_META_BYTES) throw new TarFormatError('metadata entry too large');
      const data = size ? await r.read(size + paddingFor(size)) : Buffer.alloc(0);
      if (!data) throw new TarFormatError('unexpected end of data');
      const meta = data.subarray(0, size);
      if (flag === 'x') pax = { ...pax, ...parsePax(meta) };
      else if (flag === 'L') longName = readString(meta, 0, meta.length);
      else if (flag === 'K') longLink = readString(meta, 0, meta.length);
      continue; // global headers ('g') carry nothing we honour
    }
    const magic = block.toString('ascii', 257, 262);
    const prefix = magic === 'ustar' ? readString(block, 345, 155) : '';
    const name = readString(block, 0, 100);
    const p = pax.path ?? longName ?? (prefix ? `${prefix}/${name}` : name);
    if (pax.size !== undefined) size = Number(pax.size);
    if (!Number.isSafeInteger(size) || size < 0) throw new TarFormatError('bad entry size');
    const type = TYPE_FLAGS[flag] ?? 'other';
    const mtime = pax.mtime !== undefined ? Math.floor(Number(pax.mtime) * 1000) : readNumber(block, 136, 12) * 1000;
    const header: TarHeader = {
      path: p,
      type: p.endsWith('/') && type === 'file' ? 'directory' : type,
      // Links and directories carry no data, whatever the size field says.
      size: type === 'file' || type === 'other' ? size : 0,
      mode: readNumber(block, 100, 8),
      mtime: Number.isFinite(mtime) ? mtime : 0,
      linkpath: pax.linkpath ?? longLink ?? readString(block, 157, 100),
    };
    if (header.type === 'directory') header.size = 0;
    pax = {};
    longName = null;
    longLink = null;
    let remaining = header.size;
    const body = async function* (): AsyncGenerator<Buffer> {
      while (remaining > 0) {
        const chunk = await r.readSome(Math.min(remaining, 1 << 20));
        remaining -= chunk.length;
        yield chunk;
      }
    };
    yield { header, body };
    // Skip whatever the consumer left unread, then the padding.
    while (remaining > 0) remaining -= (await r.readSome(Math.min(remaining, 1 << 20))).length;
    const pad = paddingFor(header.size);
    if (pad && !(await r.read(pad))) throw new TarFormatError('unexpected end of data');
  }
}
