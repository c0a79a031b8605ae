/**
 * XXH64 (seed 0), streaming: a zstd frame's content checksum is the low 32 bits
 * of XXH64 over its decompressed bytes. The streaming reader (zstd-stream.ts)
 * checks it because fzstd skips it; the WASM path's one-shot decoder checks it
 * itself. Node has no xxhash. The stripes (all but the last < 32 bytes) run in
 * a tiny wasm kernel (xxh64-stripes.ts); the few steps of the digest run here,
 * on 64-bit values kept as two unsigned 32-bit halves, products built from
 * 16-bit limbs (exact in doubles).
 */
import { STRIPES_AT, STRIPES_MAX, stripeKernel } from './xxh64-stripes.ts';

// The five XXH64 primes as [high, low] halves.
const P1H = 0x9e3779b1, P1L = 0x85ebca87;
const P2H = 0xc2b2ae3d, P2L = 0x27d4eb4f;
const P3H = 0x165667b1, P3L = 0x9e3779f9;
const P4H = 0x85ebca77, P4L = 0xc2b2ae63;
const P5H = 0x27d4eb2f, P5L = 0x165667c5;

/** Scratch for results: [high, low]. One module-level pair keeps the hot loop allocation-free. */
let rh = 0;
let rl = 0;

/** (ah:al) × (bh:bl) mod 2^64 into rh:rl. */
function mul(ah: number, al: number, bh: number, bl: number): void {
  const a0 = al & 0xffff, a1 = al >>> 16, b0 = bl & 0xffff, b1 = bl >>> 16;
  const lo = a0 * b0, m1 = a1 * b0, m2 = a0 * b1;
  const t = (lo >>> 16) + (m1 & 0xffff) + (m2 & 0xffff);
  rl = (((t & 0xffff) << 16) | (lo & 0xffff)) >>> 0;
  rh = (a1 * b1 + (m1 >>> 16) + (m2 >>> 16) + (t >>> 16) + Math.imul(ah, bl) + Math.imul(al, bh)) >>> 0;
}

/** (ah:al) + (bh:bl) mod 2^64 into rh:rl. */
function add(ah: number, al: number, bh: number, bl: number): void {
  const l = al + bl;
  rl = l >>> 0;
  rh = (ah + bh + (l > 0xffffffff ? 1 : 0)) >>> 0;
}

/** Rotate left by n (0 < n < 32) into rh:rl. */
function rotl(h: number, l: number, n: number): void {
  rh = ((h << n) | (l >>> (32 - n))) >>> 0;
  rl = ((l << n) | (h >>> (32 - n))) >>> 0;
}

/** XXH64 round: rotl(acc + input × P2, 31) × P1, into rh:rl. */
function round(acch: number, accl: number, ih: number, il: number): void {
  mul(ih, il, P2H, P2L);
  add(acch, accl, rh, rl);
  rotl(rh, rl, 31);
  mul(rh, rl, P1H, P1L);
}

export class Xxh64 {
  // The four accumulators, as halves.
  #v = new Uint32Array([0, 0, 0, 0, 0, 0, 0, 0]);
  /** Bytes not yet a whole 32-byte stripe. */
  readonly #tail = new Uint8Array(32);
  #tailLen = 0;
  #total = 0;

  constructor() {
    const v = this.#v;
    add(P1H, P1L, P2H, P2L);
    v[0] = rh; v[1] = rl;
    v[2] = P2H; v[3] = P2L;
    v[4] = 0; v[5] = 0;
    // 0 − P1
    add(~P1H >>> 0, ~P1L >>> 0, 0, 1);
    v[6] = rh; v[7] = rl;
  }

  update(data: Uint8Array): void {
    this.#total += data.length;
    let p = 0;
    if (this.#tailLen) {
      const take = Math.min(32 - this.#tailLen, data.length);
      this.#tail.set(data.subarray(0, take), this.#tailLen);
      this.#tailLen += take;
      p = take;
      if (this.#tailLen < 32) return;
      this.#stripes(this.#tail, 0, 32);
      this.#tailLen = 0;
    }
    const whole = p + ((data.length - p) & ~31);
    if (whole > p) this.#stripes(data, p, whole);
    if (whole < data.length) {
      this.#tail.set(data.subarray(whole));
      this.#tailLen = data.length - whole;
    }
  }

  #stripes(d: Uint8Array, from: number, to: number): void {
    const v = this.#v;
    const k = stripeKernel();
    for (let i = 0; i < 4; i++) {
      k.acc[2 * i] = v[2 * i + 1]!;
      k.acc[2 * i + 1] = v[2 * i]!;
    }
    for (let p = from; p < to; p += STRIPES_MAX) {
      const n = Math.min(STRIPES_MAX, to - p);
      k.mem.set(d.subarray(p, p + n), STRIPES_AT);
      k.run(n);
    }
    for (let i = 0; i < 4; i++) {
      v[2 * i] = k.acc[2 * i + 1]!;
      v[2 * i + 1] = k.acc[2 * i]!;
    }
  }

  /** The low 32 bits of the digest: what a zstd frame's checksum field holds. */
  digestLow32(): number {
    const v = this.#v;
    let hh: number, hl: number;
    if (this.#total >= 32) {
      rotl(v[0]!, v[1]!, 1);
      let sh = rh, sl = rl;
      rotl(v[2]!, v[3]!, 7);
      add(sh, sl, rh, rl); sh = rh; sl = rl;
      rotl(v[4]!, v[5]!, 12);
      add(sh, sl, rh, rl); sh = rh; sl = rl;
      rotl(v[6]!, v[7]!, 18);
      add(sh, sl, rh, rl); hh = rh; hl = rl;
      for (let i = 0; i < 8; i += 2) {
        round(0, 0, v[i]!, v[i + 1]!);
        hh = (hh ^ rh) >>> 0; hl = (hl ^ rl) >>> 0;
        mul(hh, hl, P1H, P1L);
        add(rh, rl, P4H, P4L); hh = rh; hl = rl;
      }
    } else {
      hh = P5H; hl = P5L;
    }
    add(hh, hl, Math.floor(this.#total / 0x100000000), this.#total >>> 0);
    hh = rh; hl = rl;
    const t = this.#tail;
    let p = 0;
    for (; p + 8 <= this.#tailLen; p += 8) {
      round(0, 0, le32(t, p + 4), le32(t, p));
      hh = (hh ^ rh) >>> 0; hl = (hl ^ rl) >>> 0;
      rotl(hh, hl, 27);
      mul(rh, rl, P1H, P1L);
      add(rh, rl, P4H, P4L); hh = rh; hl = rl;
    }
    if (p + 4 <= this.#tailLen) {
      mul(0, le32(t, p), P1H, P1L);
      hh = (hh ^ rh) >>> 0; hl = (hl ^ rl) >>> 0;
      rotl(hh, hl, 23);
      mul(rh, rl, P2H, P2L);
      add(rh, rl, P3H, P3L); hh = rh; hl = rl;
      p += 4;
    }
    for (; p < this.#tailLen; p++) {
      mul(0, t[p]!, P5H, P5L);
      hh = (hh ^ rh) >>> 0; hl = (hl ^ rl) >>> 0;
      rotl(hh, hl, 11);
      mul(rh, rl, P1H, P1L); hh = rh; hl = rl;
    }
    // Avalanche.
    hl = (hl ^ (hh >>> 1)) >>> 0; // h ^= h >> 33
    mul(hh, hl, P2H, P2L); hh = rh; hl = rl;
    hl = (hl ^ ((hl >>> 29) | (hh << 3))) >>> 0; // h ^= h >> 29
    hh = (hh ^ (hh >>> 29)) >>> 0;
    mul(hh, hl, P3H, P3L);
    return (rl ^ rh) >>> 0; // low half of h ^ (h >> 32)
  }
}

function le32(d: Uint8Array, p: number): number {
  return (d[p]! | (d[p + 1]! << 8) | (d[p + 2]! << 16) | (d[p + 3]! << 24)) >>> 0;
}
