/** XXH64's low 32 bits against the content checksum the real zstd CLI writes (agent/backup/xxh64.ts). */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { test } from 'node:test';
import { Xxh64 } from '../../../agent/backup/xxh64.ts';

test('matches zstd --check on every tail length, fed whole or in uneven pieces', () => {
  // 0–40 cover the short path and each tail (8-, 4-, 1-byte steps); the rest cross stripes, and 600_003 the wasm kernel's 256 KiB pieces.
  const lengths = [...Array.from({ length: 41 }, (_, i) => i), 63, 64, 65, 100, 1000, 4096 + 13, 200_001, 600_003];
  for (const n of lengths) {
    const data = randomBytes(n);
    const z = execFileSync('/usr/bin/zstd', ['-c', '-1', '--check'], { input: data });
    const want = z.readUInt32LE(z.length - 4);
    const whole = new Xxh64();
    whole.update(data);
    assert.equal(whole.digestLow32(), want, `${n} bytes at once`);
    const split = new Xxh64();
    for (let i = 0, k = 1; i < n; i += k, k = (k * 7 + 3) % 41 || 1) split.update(data.subarray(i, i + k));
    assert.equal(split.digestLow32(), want, `${n} bytes in pieces`);
  }
});
