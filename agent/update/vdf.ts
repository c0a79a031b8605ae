import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { parse as parseKeyValues } from '@node-steam/vdf';
import { z } from 'zod';
import { errorMessage } from '../../lib/error-message.ts';
import { firstIssue, issuePath } from '../../lib/zod-issue.ts';

/**
 * Valve KeyValues (VDF) read through @node-steam/vdf, then checked with zod.
 * The library turns digit-only values into numbers; build ids are strings in
 * our interfaces (design.md §10), so every scalar is read back as a string.
 */
const scalar = z.union([z.string(), z.number(), z.boolean()]).transform((v) => String(v));

const BranchSchema = z.object({ buildid: scalar, timeupdated: scalar.optional(), pwdrequired: scalar.optional() }).passthrough();
const AppInfoSchema = z.object({
  depots: z.object({ branches: z.record(z.string(), BranchSchema) }).passthrough(),
}).passthrough();

const ManifestSchema = z.object({
  AppState: z.object({
    appid: scalar,
    buildid: scalar,
    StateFlags: scalar.optional(),
    LastUpdated: scalar.optional(),
    UserConfig: z.object({ betakey: scalar.optional() }).passthrough().optional(),
  }).passthrough(),
});

export interface BranchInfo { buildid: string; timeUpdated: number | null; passwordRequired: boolean }

/** Largest KeyValues text we parse (a whole app_info_print tree is a few KiB; a manifest less). */
const MAX_VDF_CHARS = 4 << 20;

function parseVdf(text: string, what: string): unknown {
  if (text.length > MAX_VDF_CHARS) throw new Error(`${what} is ${text.length} characters, more than the ${MAX_VDF_CHARS} a KeyValues file of this kind can be`);
  try {
    return parseKeyValues(text) as unknown;
  } catch (err) {
    throw new Error(`${what} is not valid KeyValues: ${errorMessage(err)}`);
  }
}

/** The branches of an `app_info_print <appId>` tree (the text after the `AppID : …` line). */
export function parseAppInfo(text: string, appId: number): Map<string, BranchInfo> {
  const root = parseVdf(text, `app info of ${appId}`);
  const app = root && typeof root === 'object' ? (root as Record<string, unknown>)[String(appId)] : undefined;
  const parsed = AppInfoSchema.safeParse(app);
  if (!parsed.success) throw new Error(`app info of ${appId} has no depots > branches (${firstIssue(parsed.error)})`);
  const out = new Map<string, BranchInfo>();
  for (const [name, b] of Object.entries(parsed.data.depots.branches)) {
    out.set(name, { buildid: b.buildid, timeUpdated: b.timeupdated === undefined ? null : Number(b.timeupdated), passwordRequired: b.pwdrequired === '1' });
  }
  return out;
}

export interface InstalledManifest {
  appId: number;
  buildid: string;
  /** "public" when the manifest names no beta. */
  branch: string;
  /** StateFlags 4 = fully installed; anything else is mid-update or broken. */
  fullyInstalled: boolean;
}

export function manifestPath(installDir: string, appId: number, pathImpl: path.PlatformPath = path): string {
  return pathImpl.join(installDir, 'steamapps', `appmanifest_${appId}.acf`);
}

export function parseManifest(text: string, appId: number): InstalledManifest {
  const parsed = ManifestSchema.safeParse(parseVdf(text, `appmanifest_${appId}.acf`));
  if (!parsed.success) throw new Error(`appmanifest_${appId}.acf lacks ${issuePath(parsed.error.issues[0])} (expected "AppState" { "appid" … "buildid" … })`);
  const s = parsed.data.AppState;
  return {
    appId: Number(s.appid),
    buildid: s.buildid,
    branch: s.UserConfig?.betakey || 'public',
    fullyInstalled: s.StateFlags === undefined || s.StateFlags === '4',
  };
}

/** The installed build, or null when SteamCMD never installed the app there. */
export async function readManifest(installDir: string, appId: number): Promise<InstalledManifest | null> {
  let text: string;
  try {
    text = await readFile(manifestPath(installDir, appId), 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
  return parseManifest(text, appId);
}
