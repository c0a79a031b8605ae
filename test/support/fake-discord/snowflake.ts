/** Discord snowflakes: ms since the Discord epoch << 22 | counter, so ids are 18–19 digits like real ones. */
const DISCORD_EPOCH = 1_420_070_400_000n;
let counter = 0n;

export function snowflake(at = Date.now()): string {
  counter = (counter + 1n) & 0xfffn;
  return ((BigInt(at) - DISCORD_EPOCH) << 22n | (1n << 17n) | counter).toString();
}

export function snowflakeTime(id: string): number {
  return Number((BigInt(id) >> 22n) + DISCORD_EPOCH);
}
