/**
 * SteamCMD's console lines (games.md "SteamCMD"), one at a time. The exit code
 * is not reliable (0 after some errors, 7 or 8 after others), so the verdict
 * of a run comes from these lines and, for installs, from the manifest.
 */
export type SteamLine =
  | { kind: 'progress'; state: string; phase: string; percent: number; done: number; total: number }
  | { kind: 'installed'; appId: number; upToDate: boolean }
  | { kind: 'state-error'; appId: number; state: string }
  | { kind: 'install-error'; appId: number; reason: string }
  | { kind: 'timeout' }
  | { kind: 'appinfo-header'; appId: number }
  | { kind: 'self-update'; text: string }
  | { kind: 'other'; text: string };

const PROGRESS = /^\s*Update state \((0x[0-9a-fA-F]+)\) ([a-z ]+?), progress: (\d+(?:\.\d+)?) \((\d+) \/ (\d+)\)/;
const INSTALLED = /^Success! App '(\d+)' (fully installed|already up to date)/;
const STATE_ERROR = /^Error! App '(\d+)' state is (0x[0-9a-fA-F]+) after update job/;
const INSTALL_ERROR = /^ERROR! Failed to install app '(\d+)' \((.*)\)/;
const TIMEOUT = /^ERROR! Timed out waiting for AppInfo update/i;
const HEADER = /^AppID : (\d+), change number :/;
const SELF_UPDATE = /^\[(?:\s*\d+%|----)\] /;

export function parseSteamLine(raw: string): SteamLine {
  const line = raw.replace(/\r$/, '');
  let m = PROGRESS.exec(line);
  if (m) return { kind: 'progress', state: m[1]!.toLowerCase(), phase: m[2]!, percent: Number(m[3]), done: Number(m[4]), total: Number(m[5]) };
  if ((m = INSTALLED.exec(line))) return { kind: 'installed', appId: Number(m[1]), upToDate: m[2] === 'already up to date' };
  if ((m = STATE_ERROR.exec(line))) return { kind: 'state-error', appId: Number(m[1]), state: m[2]!.toLowerCase() };
  if ((m = INSTALL_ERROR.exec(line))) return { kind: 'install-error', appId: Number(m[1]), reason: m[2]! };
  if (TIMEOUT.test(line)) return { kind: 'timeout' };
  if ((m = HEADER.exec(line))) return { kind: 'appinfo-header', appId: Number(m[1]) };
  if (SELF_UPDATE.test(line)) return { kind: 'self-update', text: line };
  return { kind: 'other', text: line };
}

/** What a failed app_update means: retry (network, Steam busy), or stop and tell the operator. */
export type UpdateFailureKind = 'disk' | 'transient' | 'timeout' | 'no-subscription' | 'denied' | 'unknown';

/** Known update job states (games.md): 0x202 is disk space; 0x402 and 0x602 are update/network trouble worth a retry. */
const STATE_MEANING: Record<string, { kind: UpdateFailureKind; text: string }> = {
  '0x202': { kind: 'disk', text: 'not enough disk space for the update (state 0x202)' },
  '0x402': { kind: 'transient', text: 'update or network trouble (state 0x402)' },
  '0x602': { kind: 'transient', text: 'update or network trouble (state 0x602)' },
};

export function explainState(state: string): { kind: UpdateFailureKind; text: string } {
  return STATE_MEANING[state] ?? { kind: 'unknown', text: `SteamCMD ended with update state ${state}` };
}

export function explainInstallError(reason: string): { kind: UpdateFailureKind; text: string } {
  if (/no subscription/i.test(reason)) return { kind: 'no-subscription', text: 'Steam refused the app (No subscription): the app id needs a login that owns it, not anonymous' };
  if (/password/i.test(reason)) return { kind: 'denied', text: `Steam refused the branch (${reason}): check update.branch and update.betaPassword` };
  return { kind: 'unknown', text: `SteamCMD could not install the app (${reason})` };
}
