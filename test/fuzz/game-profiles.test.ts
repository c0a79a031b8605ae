/**
 * Fuzzing the game profiles (games/loader.ts): every built-in games/*.yaml,
 * mutated, through parseGameProfile; and random `profile:` overrides (as an
 * agent.yaml may carry, prototype keys included) through mergeProfile. Each
 * ends as a deep-frozen profile or a ConfigError naming the file (or, for
 * overrides, the profile); never another exception, never a changed prototype.
 *
 *   FUZZ_SEED=123 FUZZ_ITERATIONS=50000 node --import tsx --test test/fuzz/game-profiles.test.ts
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { defaultGamesDir, mergeProfile, parseGameProfile } from '../../games/loader.ts';
import type { GameProfile } from '../../games/profile.ts';
import { defineOwn, fuzzRun, iterationRng, mutateValue, preview, protoGuard, randomJson, HOSTILE_KEYS } from './fuzz-kit.ts';
import { ConfigError, MAX_CONFIG_DEPTH } from '../../lib/config-file.ts';
import { ALIAS_TEXTS, DEEP_YAML_DEPTHS, DEEP_YAML_STYLES, assertDeepFrozen, assertNamesFile, attempt, deepYaml, muteWarnings, mutateYaml } from './yaml-fuzz.ts';

const dir = defaultGamesDir();
const seeds = readdirSync(dir)
  .filter((f) => f.endsWith('.yaml'))
  .sort()
  .map((f) => ({ id: f.slice(0, -'.yaml'.length), file: join('/fuzz/games', f), text: readFileSync(join(dir, f), 'utf8') }));

test('the built-in profiles are the seeds and all of them load', () => {
  assert.ok(seeds.length >= 5, `only ${seeds.length} profiles in ${dir}`);
  for (const s of seeds) assertDeepFrozen(parseGameProfile(s.text, s.file));
});

test('mutated profiles: a frozen profile or a ConfigError naming the file', (t) => {
  const run = fuzzRun(t, 'game profiles', 5_000);
  const guard = protoGuard();
  const warnings = muteWarnings();
  t.after(() => warnings.restore());
  const counts = { ok: 0, configError: 0 };
  for (let i = 0; i < run.iterations; i++) {
    const rng = iterationRng(run.seed, i);
    const seed = rng.pick(seeds);
    const text = mutateYaml(rng, seed.text);
    const outcome = attempt(() => parseGameProfile(text, seed.file));
    try {
      if (outcome.kind === 'ok') {
        counts.ok++;
        assertDeepFrozen(outcome.value);
      } else if (outcome.kind === 'config-error') {
        counts.configError++;
        assertNamesFile(outcome.error, seed.file);
      } else {
        throw new Error(`threw ${(outcome.error as Error)?.name}: ${(outcome.error as Error)?.message ?? String(outcome.error)}`);
      }
      if (i % 256 === 0) guard();
    } catch (err) {
      throw new Error(`${run.where(i)} (${seed.id}): ${(err as Error).message}\n  input: ${preview(text, 600)}`, { cause: err });
    }
  }
  guard();
  t.diagnostic(`${JSON.stringify(counts)}, ${warnings.count()} yaml warnings muted`);
  assert.ok(counts.ok > 0 && counts.configError > 0, `the mutations should produce both valid and invalid profiles: ${JSON.stringify(counts)}`);
});

test('hostile server overrides through mergeProfile: a frozen profile or a ConfigError naming the profile', (t) => {
  const run = fuzzRun(t, 'profile overrides', 10_000);
  const guard = protoGuard();
  const profiles = seeds.map((s) => parseGameProfile(s.text, s.file));
  const counts = { ok: 0, configError: 0 };
  for (let i = 0; i < run.iterations; i++) {
    const rng = iterationRng(run.seed, i);
    const base: GameProfile = rng.pick(profiles);
    // Start from a real part of the profile so many overrides are close to valid, then mutate.
    const section = rng.pick(['admin', 'query', 'saves', 'vars', 'process', 'stop', 'start'] as const);
    let overrides: Record<string, unknown> = {};
    if (rng.chance(0.7)) defineOwn(overrides, section, mutateValue(rng, base[section as keyof GameProfile] ?? {}));
    else {
      const v = randomJson(rng, 3);
      overrides = v && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : { value: v };
    }
    if (rng.chance(0.2)) defineOwn(overrides, rng.pick(HOSTILE_KEYS), { polluted: 'yes', admin: { saveCommand: 'rm -rf /' } });
    const outcome = attempt(() => mergeProfile(base, overrides, 'servers.0.profile'));
    try {
      if (outcome.kind === 'ok') {
        counts.ok++;
        assertDeepFrozen(outcome.value);
        // An inherited (prototype) value must never become part of the merged profile.
        assert.equal((outcome.value as Record<string, unknown>).polluted, undefined, 'a __proto__ override leaked into the profile');
      } else if (outcome.kind === 'config-error') {
        counts.configError++;
        assert.ok(outcome.error.file.includes(base.id), `ConfigError.file ${JSON.stringify(outcome.error.file)} does not name profile ${base.id}`);
        assert.ok(outcome.error.problems.length > 0);
      } else {
        throw new Error(`threw ${(outcome.error as Error)?.name}: ${(outcome.error as Error)?.message ?? String(outcome.error)}`);
      }
      if (i % 256 === 0) guard();
    } catch (err) {
      throw new Error(`${run.where(i)} (${base.id}): ${(err as Error).message}\n  overrides: ${preview(overrides, 600)}`, { cause: err });
    }
  }
  guard();
  t.diagnostic(JSON.stringify(counts));
  assert.ok(counts.ok > 0 && counts.configError > 0, JSON.stringify(counts));
});

test('profiles with YAML anchors and aliases end as ConfigError', () => {
  for (const text of [...ALIAS_TEXTS, 'id: valheim\nname: &n [*n]']) {
    const outcome = attempt(() => parseGameProfile(text, '/fuzz/games/valheim.yaml'));
    assert.notEqual(outcome.kind, 'other', `${JSON.stringify(text.slice(0, 60))}: ${String((outcome as { error?: unknown }).error)}`);
  }
});

test('deep nesting anywhere in a profile ends as a ConfigError naming the limit', () => {
  const seed = seeds.find((s) => s.id === 'valheim') ?? seeds[0]!;
  for (const depth of DEEP_YAML_DEPTHS) {
    for (const style of DEEP_YAML_STYLES) {
      const deep = deepYaml(depth, style);
      const texts = [
        seed.text.replace(/^name: .*$/m, `name: ${deep}`),
        `${seed.text}\nextra: ${deep}\n`,
        seed.text.replace(/^(\s+)(\w+): (.*)$/m, (_m, sp: string, k: string) => `${sp}${k}: ${deep.replace(/\n/g, `\n${sp}`)}`),
        deep.trimStart(),
      ];
      for (const text of texts) {
        const outcome = attempt(() => parseGameProfile(text, seed.file));
        const label = `${style} depth ${depth}`;
        assert.equal(outcome.kind, 'config-error', `${label}: ${outcome.kind === 'other' ? String(outcome.error) : 'accepted'}`);
        assertNamesFile((outcome as { error: ConfigError }).error, seed.file);
        assert.match((outcome as { error: ConfigError }).error.message, new RegExp(`nested deeper than ${MAX_CONFIG_DEPTH} levels`), label);
      }
    }
  }
  // Aliases nest the value deeper than the text: a self-reference is bounded too.
  const cyclic = attempt(() => parseGameProfile(`${seed.text}\nextra: &x [*x]\n`, seed.file));
  assert.equal(cyclic.kind, 'config-error');
  assert.match((cyclic as { error: ConfigError }).error.message, /nested deeper than/);
});
