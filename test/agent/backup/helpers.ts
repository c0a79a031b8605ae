import { randomBytes } from 'node:crypto';
import { EventEmitter, once } from 'node:events';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { ServerConfigSchema, type ServerConfig } from '../../../agent/config.ts';
import type { AdminChannel, ResolvedServer, ResumeOutcome, ServerControl } from '../../../agent/types.ts';
import { GameProfileSchema, type GameProfileInput } from '../../../games/profile.ts';
import type { ServerState } from '../../../protocol/index.ts';
import { splitZstdFrames } from './zstd-frames.ts';

export async function tempDir(t: { after(fn: () => Promise<void> | void): void }, prefix = 'reconsync-backup-'): Promise<string> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), prefix));
  // Retries: a component stopped by a later hook may still be finishing a write in here.
  t.after(() => fs.rm(dir, { recursive: true, force: true, maxRetries: 10, retryDelay: 20 }));
  return dir;
}

/** Writes a tree of files: { 'a/b.txt': 'content' | Buffer }. */
export async function writeTree(root: string, files: Record<string, string | Buffer>): Promise<void> {
  for (const [rel, content] of Object.entries(files)) {
    const p = path.join(root, ...rel.split('/'));
    await fs.mkdir(path.dirname(p), { recursive: true });
    await fs.writeFile(p, content);
  }
}

/** Every file under root as relative path → content (hex for comparison), symlinks as "-> target". */
export async function readTree(root: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  const walk = async (dir: string, rel: string) => {
    for (const d of await fs.readdir(dir, { withFileTypes: true })) {
      const r = rel ? `${rel}/${d.name}` : d.name;
      const p = path.join(dir, d.name);
      if (d.isDirectory()) {
        out[`${r}/`] = 'dir';
        await walk(p, r);
      } else if (d.isSymbolicLink()) out[r] = `-> ${await fs.readlink(p)}`;
      else out[r] = (await fs.readFile(p)).toString('base64');
    }
  };
  await walk(root, '');
  return out;
}

const baseProfile: GameProfileInput = {
  id: 'testgame',
  name: 'Test Game',
  query: { kind: 'a2s', gamedigType: 'ase', defaultPort: 27015 },
  admin: { kind: 'source-rcon', dialect: 'ark', defaultPort: 27020, saveCommand: 'saveworld', stopCommand: 'doexit' },
  saves: { paths: { linux: ['${installDir}/saves'] }, exclude: ['**/*.bak', 'backup/**'] },
  process: { names: { linux: ['testgame'] } },
  stop: { method: 'admin' },
};

/** A ResolvedServer for tests: real paths, the given backup config. */
export function makeServer(opts: {
  id?: string;
  savePaths: string[];
  backup?: Record<string, unknown>;
  profile?: Partial<GameProfileInput>;
  include?: string[];
  exclude?: string[];
  sqlite?: string[];
}): ResolvedServer {
  const id = opts.id ?? 'srv1';
  const config: ServerConfig = ServerConfigSchema.parse({ id, game: 'testgame', backup: { settleMs: 20, settleTimeoutMs: 2000, ...opts.backup } });
  const profile = GameProfileSchema.parse({ ...baseProfile, ...opts.profile });
  return {
    id,
    name: id,
    config,
    profile,
    platform: 'linux',
    query: { kind: profile.query.kind, host: '127.0.0.1', port: 27015, playersFromKeywords: false },
    admin: { kind: profile.admin.kind, host: '127.0.0.1', port: 27020, password: 'pw', insecureTls: false },
    savePaths: opts.savePaths,
    include: opts.include ?? ['**/*'],
    exclude: opts.exclude ?? profile.saves.exclude,
    sqlite: opts.sqlite ?? [],
    processNames: ['testgame'],
    start: null,
    managed: true,
  };
}

/**
 * A small supervisor stand-in: real state, real waits. `nextStarts`
 * decides what a start does: come up, fail, or hang in `starting` forever.
 */
export class TestServerControl extends EventEmitter implements ServerControl {
  state: ServerState;
  readonly managed: boolean;
  /** What the next starts do; once the list is used up, starts succeed. */
  nextStarts: Array<'fail' | 'hang'> = [];
  holds = 0;
  readonly log: string[] = [];

  constructor(state: ServerState = 'running', managed = true) {
    super();
    this.state = state;
    this.managed = managed;
  }

  #set(s: ServerState): void {
    this.state = s;
    this.log.push(s);
    this.emit('state', s);
  }

  /** Logged as `start()`: the real supervisor's "left stopped" is tested with a real Supervisor (test/agent/supervisor/job-resume.test.ts). */
  async resumeAfterJob(): Promise<ResumeOutcome> {
    this.log.push('start()');
    const behaviour = this.nextStarts.shift() ?? 'ok';
    if (behaviour === 'fail') {
      this.#set('crashed');
      throw new Error('the game exited during start-up');
    }
    this.#set('starting');
    if (behaviour === 'ok') queueMicrotask(() => this.#set('running'));
    return { started: true, state: this.state };
  }

  async stop(): Promise<{ graceful: boolean }> {
    this.log.push('stop()');
    this.#set('stopping');
    this.#set('stopped');
    return { graceful: true };
  }

  async waitFor(state: ServerState, signal: AbortSignal): Promise<void> {
    while (this.state !== state) await once(this, 'state', { signal });
  }

  hold(reason: string): () => void {
    this.holds++;
    this.log.push(`hold(${reason})`);
    let released = false;
    return () => {
      if (!released) this.holds--;
      released = true;
    };
  }
}

/** Records every admin command; `failSave` makes the save command fail like a dead RCON. */
export class TestAdminChannel implements AdminChannel {
  readonly kind = 'source-rcon' as const;
  readonly commands: string[] = [];
  failSave = false;
  onSave: (() => Promise<void>) | null = null;

  async exec(command: string): Promise<string> {
    this.commands.push(command);
    return '';
  }
  async save(): Promise<void> {
    this.commands.push('saveworld');
    if (this.failSave) throw new Error('RCON connection refused');
    await this.onSave?.();
  }
  async broadcast(message: string): Promise<void> {
    this.commands.push(`broadcast ${message}`);
  }
  async stop(): Promise<void> {
    this.commands.push('doexit');
  }
  async close(): Promise<void> {}
}

/** Collects records and progress the engine publishes. */
export class Published {
  readonly records: Array<{ topic: string; data: Record<string, unknown> }> = [];
  readonly progress: Array<{ phase: string; bytesDone: number; bytesTotal: number | null; target?: string }> = [];
  publishRecord = async (topic: string, data: unknown): Promise<void> => {
    this.records.push({ topic, data: data as Record<string, unknown> });
  };
  publishState = (_topic: string, data: unknown): void => {
    this.progress.push(data as Published['progress'][number]);
  };
  alerts(kind?: string): Array<Record<string, unknown>> {
    return this.records.filter((r) => r.topic === 'alert' && (!kind || r.data.kind === kind)).map((r) => r.data);
  }
  ofTopic(topic: string): Array<Record<string, unknown>> {
    return this.records.filter((r) => r.topic === topic).map((r) => r.data);
  }
}

/** A temp rclone.conf with a `local`-type remote and an alias onto a folder. */
export async function rcloneConfig(dir: string, aliasRoot: string): Promise<string> {
  const file = path.join(dir, 'rclone.conf');
  await fs.writeFile(file, `[remote]\ntype = local\n\n[vault]\ntype = alias\nremote = remote:${aliasRoot}\n`);
  return file;
}

/** Half noise, half text, like a save: compressible, but not trivially. */
export function saveLike(bytes: number): Buffer {
  const b = Buffer.alloc(bytes);
  for (let off = 0; off < bytes; off += 8192) {
    randomBytes(4096).copy(b, off);
    b.fill('player position inventory ', Math.min(bytes, off + 4096), Math.min(bytes, off + 8192));
  }
  return b;
}

/** Decompressed-size bound of every zstd frame of a file, in order; an empty frame (unused FIFO name) reads as 1. */
export async function framesOf(file: string, maxFrameBytes?: number): Promise<number[]> {
  const bounds: number[] = [];
  async function* read() { yield await fs.readFile(file); }
  for await (const f of splitZstdFrames(read(), maxFrameBytes)) bounds.push(f.bound);
  return bounds;
}
