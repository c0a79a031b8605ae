/**
 * XXH64's inner loop (the four accumulators over 32-byte stripes) as a tiny
 * WebAssembly function: wasm has 64-bit multiply and rotate, which JS has not.
 * The same loop in JS on 32-bit halves measured ~400 MB/s, about as slow as
 * fzstd's decoding it follows, so it halved a big frame's read speed; this one
 * runs at memory speed. The module (~150 bytes) is assembled below from its
 * text form, so what it does is readable here, and compiled on first use.
 *
 *   (func (export "r") (param $p i32) (param $end i32) (local $v1..$v4 i64)
 *     ;; accumulators at memory[0..32), stripes at [$p, $end)
 *     v_k = i64.load offset=8k (0)
 *     loop while $p < $end:
 *       v_k = rotl(v_k + i64.load offset=8k ($p) * P2, 31) * P1    (k = 0..3)
 *       $p += 32
 *     i64.store offset=8k (0) v_k)
 */

const P1 = 0x9e3779b185ebca87n;
const P2 = 0xc2b2ae3d27d4eb4fn;
/** Accumulators live at [0, 32); stripes are copied in from here. */
export const STRIPES_AT = 64;
/** Input copied into wasm memory per call. */
export const STRIPES_MAX = 256 * 1024;

function uleb(n: number): number[] {
  const out: number[] = [];
  do {
    let b = n & 0x7f;
    n >>>= 7;
    if (n) b |= 0x80;
    out.push(b);
  } while (n);
  return out;
}

/** i64.const takes a signed LEB128 of the value read as a signed 64-bit integer. */
function sleb64(v: bigint): number[] {
  let n = BigInt.asIntN(64, v);
  const out: number[] = [];
  for (;;) {
    const b = Number(n & 0x7fn);
    n >>= 7n;
    if ((n === 0n && !(b & 0x40)) || (n === -1n && b & 0x40)) {
      out.push(b);
      return out;
    }
    out.push(b | 0x80);
  }
}

const I32 = 0x7f, I64 = 0x7e;
const op = {
  block: 0x02, loop: 0x03, br: 0x0c, brIf: 0x0d, end: 0x0b, void: 0x40,
  localGet: 0x20, localSet: 0x21, i32Const: 0x41, i64Const: 0x42,
  i64Load: 0x29, i64Store: 0x37, i32Add: 0x6a, i32GeU: 0x4f, i64Add: 0x7c, i64Mul: 0x7e, i64Rotl: 0x89,
} as const;

function section(id: number, body: number[]): number[] {
  return [id, ...uleb(body.length), ...body];
}

function moduleBytes(): Uint8Array {
  const P = 0, END = 1, V = 2; // locals: $p, $end, then $v1..$v4
  const code: number[] = [];
  for (let k = 0; k < 4; k++) code.push(op.i32Const, 0, op.i64Load, 3, ...uleb(8 * k), op.localSet, V + k);
  code.push(op.block, op.void, op.loop, op.void);
  code.push(op.localGet, P, op.localGet, END, op.i32GeU, op.brIf, 1);
  for (let k = 0; k < 4; k++) {
    code.push(op.localGet, V + k, op.localGet, P, op.i64Load, 3, ...uleb(8 * k), op.i64Const, ...sleb64(P2), op.i64Mul, op.i64Add);
    code.push(op.i64Const, 31, op.i64Rotl, op.i64Const, ...sleb64(P1), op.i64Mul, op.localSet, V + k);
  }
  code.push(op.localGet, P, op.i32Const, 32, op.i32Add, op.localSet, P, op.br, 0, op.end, op.end);
  for (let k = 0; k < 4; k++) code.push(op.i32Const, 0, op.localGet, V + k, op.i64Store, 3, ...uleb(8 * k));
  code.push(op.end);
  const body = [1, 4, I64, ...code]; // one local group: four i64
  const pages = Math.ceil((STRIPES_AT + STRIPES_MAX) / 65536);
  return new Uint8Array([
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,
    ...section(1, [1, 0x60, 2, I32, I32, 0]), // type: (i32, i32) -> ()
    ...section(3, [1, 0]), // one function of that type
    ...section(5, [1, 0, ...uleb(pages)]), // memory: the accumulators and one piece of input
    ...section(7, [2, 1, 0x6d, 2, 0, 1, 0x72, 0, 0]), // export "m" memory 0, "r" func 0
    ...section(10, [1, ...uleb(body.length), ...body]),
  ]);
}

export interface StripeKernel {
  /** Accumulators as 8 little-endian u32 (low, high per accumulator). */
  acc: Uint32Array;
  mem: Uint8Array;
  /** Runs the rounds over memory [STRIPES_AT, STRIPES_AT + n), n a multiple of 32. */
  run(n: number): void;
}

// The DOM lib declares WebAssembly's classes and @types/node does not: the little used here, typed for this module only.
declare const WebAssembly: {
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object) => { exports: Record<string, unknown> };
};

let kernel: StripeKernel | null = null;

export function stripeKernel(): StripeKernel {
  if (kernel) return kernel;
  const inst = new WebAssembly.Instance(new WebAssembly.Module(moduleBytes()));
  const memory = inst.exports.m as { buffer: ArrayBuffer };
  const r = inst.exports.r as (p: number, end: number) => void;
  kernel = { acc: new Uint32Array(memory.buffer, 0, 8), mem: new Uint8Array(memory.buffer), run: (n) => r(STRIPES_AT, STRIPES_AT + n) };
  return kernel;
}
