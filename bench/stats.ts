/** Small measuring helpers shared by the bench phases. */
import { readdirSync, readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';

/** The q-quantile (0..1) of a sample, nearest-rank on a sorted copy. */
export function quantile(samples: readonly number[], q: number): number {
  if (samples.length === 0) return Number.NaN;
  const sorted = Float64Array.from(samples).sort();
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1));
  return sorted[rank]!;
}

export function median(samples: readonly number[]): number {
  return quantile(samples, 0.5);
}

export interface ProcMemory {
  /** VmRSS: everything resident, including the node binary's shared, file-backed pages. */
  rss: number;
  /** RssAnon: the process's private memory (heap, stacks, malloc); what each extra process really costs. */
  anon: number;
  /** RssFile: file-backed pages (node's own text, shared by every node process). */
  file: number;
  threads: number;
}

/** Memory of a process in bytes, from /proc (Linux); null elsewhere or when it is gone. */
export function memOf(pid: number): ProcMemory | null {
  try {
    const text = readFileSync(`/proc/${pid}/status`, 'utf8');
    const field = (name: string) => Number(new RegExp(`^${name}:\\s+(\\d+)`, 'm').exec(text)?.[1] ?? Number.NaN);
    return { rss: field('VmRSS') * 1024, anon: field('RssAnon') * 1024, file: field('RssFile') * 1024, threads: field('Threads') };
  } catch {
    return null;
  }
}

/** Open file descriptors of this process (Linux), or null. */
export function openFds(): number | null {
  try {
    return readdirSync('/proc/self/fd').length;
  } catch {
    return null;
  }
}

/** Runs global.gc() a few times when node runs with --expose-gc, so RSS readings are of live data. */
export async function settleHeap(): Promise<void> {
  const gc = (globalThis as { gc?: () => void }).gc;
  for (let i = 0; i < 3; i++) {
    gc?.();
    await sleep(50);
  }
}

/** Polls until check() is truthy; throws after the deadline. */
export async function until<T>(check: () => T | Promise<T>, timeoutMs: number, what: string, everyMs = 20): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await check();
    if (v) return v as NonNullable<T>;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(everyMs);
  }
}

export const round = (n: number, digits = 1): number => Number(n.toFixed(digits));

/** Prints one `name: value` line (the bench's only output format on stdout). */
export function report(name: string, value: string | number): void {
  process.stdout.write(`${name}: ${value}\n`);
}

/** Progress and notes go to stderr so stdout stays machine-readable. */
export function note(text: string): void {
  process.stderr.write(`[bench] ${text}\n`);
}
