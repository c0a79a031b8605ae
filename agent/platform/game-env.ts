import type { OsName } from '../platform.ts';

/**
 * The environment a game starts with: what the OS and common runtimes need, taken
 * from the agent's environment by name, plus the server's `start.env`. Nothing else:
 * the agent's environment holds RECONSYNC_AGENT_TOKEN and every agent.env secret,
 * and any mod or plugin in the game could read them. An allow-list, not a deny-list,
 * since agent.env may name anything (rclone remotes, ${VAR} substitutions).
 */
const linuxNames = new Set([
  'PATH', 'HOME', 'USER', 'LOGNAME', 'SHELL', 'LANG', 'LANGUAGE', 'TZ', 'TMPDIR', 'TERM',
  'XDG_RUNTIME_DIR', 'XDG_CONFIG_HOME', 'XDG_DATA_HOME', 'XDG_CACHE_HOME', 'XDG_STATE_HOME',
  'LD_LIBRARY_PATH', 'JAVA_HOME', 'DOTNET_ROOT', 'WINEPREFIX', 'WINEARCH', 'WINEDEBUG',
]);
const linuxPrefixes = ['LC_'];

/** Upper-case: Windows environment names are case-insensitive. */
const windowsNames = new Set([
  'ALLUSERSPROFILE', 'APPDATA', 'COMMONPROGRAMFILES', 'COMMONPROGRAMFILES(X86)', 'COMMONPROGRAMW6432', 'COMPUTERNAME', 'COMSPEC',
  'HOMEDRIVE', 'HOMEPATH', 'LOCALAPPDATA', 'NUMBER_OF_PROCESSORS', 'OS', 'PATH', 'PATHEXT',
  'PROCESSOR_ARCHITECTURE', 'PROCESSOR_IDENTIFIER', 'PROCESSOR_LEVEL', 'PROCESSOR_REVISION',
  'PROGRAMDATA', 'PROGRAMFILES', 'PROGRAMFILES(X86)', 'PROGRAMW6432', 'PUBLIC', 'SYSTEMDRIVE', 'SYSTEMROOT',
  'TEMP', 'TMP', 'USERDOMAIN', 'USERNAME', 'USERPROFILE', 'WINDIR', 'JAVA_HOME',
]);

export function isPassedToGames(name: string, os: OsName): boolean {
  if (os === 'windows') return windowsNames.has(name.toUpperCase());
  return linuxNames.has(name) || linuxPrefixes.some((p) => name.startsWith(p));
}

export function gameEnvironment(
  hostEnv: Readonly<Record<string, string | undefined>>,
  startEnv: Readonly<Record<string, string>>,
  os: OsName,
): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [name, value] of Object.entries(hostEnv)) {
    if (value !== undefined && isPassedToGames(name, os)) env[name] = value;
  }
  for (const [name, value] of Object.entries(startEnv)) {
    // On Windows "Path" from start.env replaces the host's "PATH", not a second entry beside it.
    if (os === 'windows') for (const k of Object.keys(env)) if (k.toUpperCase() === name.toUpperCase()) delete env[k];
    env[name] = value;
  }
  return env;
}
