/**
 * A small long-lived `sh` that starts the zstd processes of backups for us.
 *
 * Why not spawn zstd from node: every spawn forks the agent, and on the VM this
 * was measured on a fork costs far more than the copy of its page tables: each
 * page node writes afterwards faults once more (copy-on-write protection). A
 * 220 MiB agent paid ~0.4 s of CPU per spawn; a backup of 100 MiB paid more for
 * its one spawn than for its compression. The launcher is forked once, when the
 * pool first needs it; its own forks are cheap (a shell is small).
 *
 * Protocol (lines; ids are ours, folders are private mkdtemp folders):
 *   in:  `run <id> <level> <slots> <ways> <dir>`   out: `R <id>` (FIFOs made, zstd started) or `E <id> <why>`
 *                                                  out: `X <id> <exit code>` when that zstd ended
 *   in:  `kill <id> - - - <dir>`                   (kills that zstd)
 * In `<dir>`, one of each per way (`<i>` below `<ways>`): doorbell FIFO `d<i>`, frame
 * file `f<i>`, and the link `x<i>` node points at a frame file or at a save file zstd
 * reads itself (zstd-segment.ts); also `out` (a symlink to the archive; zstd appends
 * to it), `err` (zstd's stderr), `pid`. When our pipe to the launcher closes (the
 * agent died, or the pool closed) it kills its process group: no zstd outlives us.
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { once } from 'node:events';
import fs from 'node:fs/promises';
import path from 'node:path';

/** Oldest zstd known to take FIFOs as inputs (older ones skip them as "not a regular file"). */
const MIN_VERSION = [1, 4, 0] as const;

const SCRIPT = String.raw`
z=$0
echo "V $("$z" -V 2>/dev/null)"
while IFS=' ' read -r cmd id a b c dir; do
  case $cmd in
    run)
      (
        cd "$dir" || { echo "E $id cd"; exit; }
        fifos=''; i=0
        while [ "$i" -lt "$c" ]; do
          fifos="$fifos d$i"
          : >"f$i" || { echo "E $id create"; exit; }
          i=$((i + 1))
        done
        # $fifos is only "d0 d1 ...": split on purpose. One mkfifo for all: a process start costs milliseconds.
        [ -p d0 ] || mkfifo -m 600 $fifos || { echo "E $id mkfifo"; exit; }
        names=''; i=0
        while [ "$i" -lt "$b" ]; do
          names="$names d$((i % c)) x$((i % c))"
          i=$((i + 1))
        done
        # $names is only "d0 x0 d1 x1 ...": split on purpose. The x links are what node points each
        # slot's input at (a frame file, or a save file zstd reads itself): -f follows them.
        # --single-thread: zstd's worker threads cost ~1.5 ms per input here and gained nothing
        # on two cores; one core stays with node and the game (bench/README.md).
        "$z" "-$a" --single-thread -f -q -c -- $names </dev/null >>out 2>err &
        echo $! >pid
        echo "R $id"
        wait $!
        echo "X $id $?"
      ) &
      ;;
    kill)
      [ -f "$dir/pid" ] && kill -9 "$(cat "$dir/pid")" 2>/dev/null
      ;;
  esac
done
kill -9 0
`;

type Waiter = { ready: (err: Error | null) => void; exit: (code: number) => void };

export class ZstdLauncher {
  readonly program: string;
  readonly #proc: ChildProcessWithoutNullStreams;
  readonly #jobs = new Map<number, Waiter>();
  #nextId = 1;
  #buf = '';
  #closed = false;
  readonly #gone: Promise<void>;

  /** Use ZstdLauncher.start(), which also checks zstd's version. */
  constructor(program: string, proc: ChildProcessWithoutNullStreams) {
    this.program = program;
    this.#proc = proc;
    proc.stdin.on('error', () => undefined);
    proc.stdout.setEncoding('utf8');
    this.#gone = once(proc, 'close').then(() => {
      this.#closed = true;
      for (const w of this.#jobs.values()) {
        w.ready(new Error(`the zstd launcher ended`));
        w.exit(-1);
      }
      this.#jobs.clear();
    });
  }

  /**
   * Starts the launcher and asks zstd its version. Null (and nothing left running)
   * when zstd cannot run or is too old: then the WASM pool compresses.
   */
  static async start(program: string): Promise<ZstdLauncher | null> {
    let proc: ChildProcessWithoutNullStreams;
    try {
      proc = spawn('/bin/sh', ['-c', SCRIPT, program], {
        // Its own process group, so `kill 0` takes its zstd processes and nothing of ours.
        detached: true,
        stdio: ['pipe', 'pipe', 'ignore'] as const,
        // Only what it needs: the agent's secrets stay with the agent. C locale: English errors (ENOSPC).
        env: { PATH: process.env.PATH ?? '/usr/bin:/bin', LC_ALL: 'C' },
      }) as unknown as ChildProcessWithoutNullStreams;
    } catch {
      return null;
    }
    const l = new ZstdLauncher(program, proc);
    const first = await l.#firstLine();
    const m = first && /v(\d+)\.(\d+)\.(\d+)/.exec(first);
    if (!m || !versionAtLeast([Number(m[1]), Number(m[2]), Number(m[3])], MIN_VERSION)) {
      await l.close();
      return null;
    }
    proc.stdout.on('data', (d: string) => l.#onData(d));
    l.#idle();
    return l;
  }

  async #firstLine(): Promise<string | null> {
    const p = new Promise<string | null>((resolve) => {
      const onData = (d: string): void => {
        this.#buf += d;
        const nl = this.#buf.indexOf('\n');
        if (nl === -1) return;
        const line = this.#buf.slice(0, nl);
        this.#buf = this.#buf.slice(nl + 1);
        this.#proc.stdout.off('data', onData);
        resolve(line);
      };
      this.#proc.stdout.on('data', onData);
      this.#gone.then(() => resolve(null), () => resolve(null));
    });
    return p;
  }

  #onData(d: string): void {
    this.#buf += d;
    for (let nl = this.#buf.indexOf('\n'); nl !== -1; nl = this.#buf.indexOf('\n')) {
      const [kind, id, code] = this.#buf.slice(0, nl).split(' ');
      this.#buf = this.#buf.slice(nl + 1);
      const w = this.#jobs.get(Number(id));
      if (!w) continue;
      if (kind === 'R') w.ready(null);
      else if (kind === 'E') {
        w.ready(new Error(`zstd (${this.program}) could not start: ${code ?? 'no reason'} failed`));
        this.#jobs.delete(Number(id));
      } else if (kind === 'X') {
        w.exit(Number(code));
        this.#jobs.delete(Number(id));
      }
      this.#idle();
    }
  }

  /** Keeps the event loop alive only while a zstd runs: an idle agent or a finished test can exit. */
  #idle(): void {
    const busy = this.#jobs.size > 0;
    if (busy) {
      this.#proc.ref();
      (this.#proc.stdout as unknown as { ref(): void }).ref();
    } else {
      this.#proc.unref();
      (this.#proc.stdout as unknown as { unref(): void }).unref();
      (this.#proc.stdin as unknown as { unref(): void }).unref();
    }
  }

  /**
   * Starts zstd on `slots` frames in `dir` (which must hold the `out` symlink).
   * Resolves once it runs; `exited` resolves with its exit code.
   */
  async run(dir: string, level: number, slots: number, ways: number): Promise<{ exited: Promise<number>; kill: () => void }> {
    if (this.#closed) throw new Error('the zstd launcher is closed');
    // One line per command: a folder with a line break (or edge spaces) cannot be passed.
    if (/[\r\n]/.test(dir) || dir.trim() !== dir) throw new Error(`folder ${JSON.stringify(dir)} cannot be given to the zstd launcher`);
    for (const [name, n] of [['level', level], ['slots', slots], ['ways', ways]] as const) {
      if (!Number.isSafeInteger(n) || n < 1) throw new Error(`zstd launcher: ${name} must be a whole number, got ${n}`);
    }
    const id = this.#nextId++;
    let exit!: (code: number) => void;
    const exited = new Promise<number>((r) => (exit = r));
    const ready = new Promise<void>((resolve, reject) => {
      this.#jobs.set(id, { ready: (err) => (err ? reject(err) : resolve()), exit });
    });
    this.#idle();
    this.#proc.stdin.write(`run ${id} ${level} ${slots} ${ways} ${dir}\n`);
    await ready;
    return {
      exited,
      kill: () => {
        if (!this.#closed) this.#proc.stdin.write(`kill ${id} - - - ${dir}\n`);
      },
    };
  }

  /** Ends the launcher; a zstd still running is killed with it. */
  async close(): Promise<void> {
    if (!this.#closed) {
      // Held until it is gone: a caller awaiting close() must not see the event loop run dry.
      this.#proc.ref();
      (this.#proc.stdout as unknown as { ref(): void }).ref();
      this.#proc.stdin.end();
    }
    await this.#gone;
  }
}

function versionAtLeast(v: number[], min: readonly number[]): boolean {
  for (let i = 0; i < min.length; i++) if (v[i] !== min[i]) return v[i]! > min[i]!;
  return true;
}

/** zstd's stderr of a run, for its error message (`err` in the run's folder). */
export async function runErrors(dir: string, max: number): Promise<string> {
  const text = await fs.readFile(path.join(dir, 'err'), 'utf8').catch(() => '');
  return text.trim().slice(0, max);
}
