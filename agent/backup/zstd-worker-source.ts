/**
 * The worker's code as a string, started with `new Worker(src, { eval: true })`.
 * A string survives bundling (esbuild inlines it) and needs no TypeScript
 * loader in the worker, so the same code runs under tsx, plain Node and a
 * bundle. The zstd module path comes in through workerData.
 *
 * Messages in:  { id, op: 'c' | 'd', buf: ArrayBuffer, off, len, level?, bound? }
 * Messages out: { id, ok: true, buf: ArrayBuffer, len } | { id, ok: false, error }
 */
export const ZSTD_WORKER_SOURCE = String.raw`
'use strict';
const { parentPort, workerData } = require('node:worker_threads');
const zstd = require(workerData.zstdEntry);
const ready = zstd.init();
parentPort.on('message', (msg) => {
  ready.then(() => {
    const input = new Uint8Array(msg.buf, msg.off, msg.len);
    const res = msg.op === 'c'
      ? zstd.compress(input, msg.level)
      : zstd.decompress(input, { defaultHeapSize: msg.bound });
    // Never transfer a view of the wasm heap: copy unless the result owns its buffer.
    const out = res.byteOffset === 0 && res.byteLength === res.buffer.byteLength ? res : res.slice();
    parentPort.postMessage({ id: msg.id, ok: true, buf: out.buffer, off: out.byteOffset, len: out.byteLength }, [out.buffer]);
  }).catch((err) => {
    parentPort.postMessage({ id: msg.id, ok: false, error: String((err && err.message) || err) });
  });
});
`;
