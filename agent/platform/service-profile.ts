import path from 'node:path';
import type { ResolvedServer } from '../types.ts';

/**
 * A Windows service runs with a profile of its own: LocalSystem's is
 * C:\Windows\System32\config\systemprofile, a virtual or LocalService account's
 * lives under C:\Windows\ServiceProfiles. A profile save path (${userProfile},
 * ${appData}, ${localAppData}) then points there, not to the folder the game
 * saves in when an operator runs it as themselves: a watched game would get
 * nothing backed up, a managed one would silently start a new world there.
 */
const serviceProfileRoots = [/^[a-z]:\\windows\\system32\\config\\systemprofile(\\|$)/i, /^[a-z]:\\windows\\syswow64\\config\\systemprofile(\\|$)/i, /^[a-z]:\\windows\\serviceprofiles(\\|$)/i];

export function isServiceProfilePath(p: string): boolean {
  const norm = path.win32.normalize(p);
  return serviceProfileRoots.some((re) => re.test(norm));
}

/**
 * Config-check problems for a resolved Windows server whose profile save path lands in a
 * service profile. A saveDir naming such a folder is taken as meant and passes.
 */
export function serviceProfileSaveProblems(key: string, server: ResolvedServer, os: 'linux' | 'windows'): string[] {
  if (os !== 'windows' || server.config.saveDir !== undefined) return [];
  return server.savePaths.filter(isServiceProfilePath).map((p) =>
    `${key}.saveDir: the ${server.profile.name} save folder resolves to "${p}", the service account's own profile (the agent runs as a Windows service, so \${userProfile} and \${appData} point there), not where the game saves when you run it; nothing would be backed up and a managed game would start a new world there. Set saveDir to the world folder, e.g. the one under C:\\Users\\<you>\\... (give the service account access to it), or name this folder in saveDir if the game really saves there`);
}
