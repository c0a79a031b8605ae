/**
 * What A2S games put in the keywords (EDF 0x20), read the same way whether
 * the reply came through our A2S client or through gamedig.
 */

/** Rust: `cp<n>` current and `mp<n>` max players in the keywords (A2S_INFO player byte caps at 255). */
export function playersFromKeywords(tags: readonly string[]): { online?: number; max?: number } {
  const out: { online?: number; max?: number } = {};
  for (const t of tags) {
    const m = /^(cp|mp)(\d+)$/.exec(t.trim());
    if (!m) continue;
    if (m[1] === 'cp') out.online = Number(m[2]);
    else out.max = Number(m[2]);
  }
  return out;
}

/**
 * Valheim: keywords were the bare version ("0.217.46"); since late 2023 they
 * are "g=<game version>,n=<network version>,m=...". Prefer g=.
 */
export function versionFromKeywords(tags: readonly string[]): string | null {
  const trimmed = tags.map((t) => t.trim());
  const g = trimmed.find((t) => /^g=\S+/.test(t));
  if (g) return g.slice(2);
  return trimmed.find((t) => /^v?\d+\.\d+(\.\d+)*$/.test(t)) ?? null;
}
