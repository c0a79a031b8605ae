import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parse } from 'yaml';
import { ConfigError, yamlBoundsProblem } from '../lib/config-file.ts';
import { errorMessage } from '../lib/error-message.ts';

/** Tells a hub config from an agent config by its keys, so `config check` needs no flag. */
function detectKind(file: string): 'hub' | 'agent' {
  let doc: unknown;
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new ConfigError(path.resolve(file), [`cannot read or parse: ${errorMessage(err).split('\n')[0]}`]);
  }
  // Bounded before yaml's recursive composer, as every config read is (lib/config-file.ts).
  const tooBig = yamlBoundsProblem(text);
  if (tooBig) throw new ConfigError(path.resolve(file), [tooBig]);
  try {
    doc = parse(text);
  } catch (err) {
    throw new ConfigError(path.resolve(file), [`cannot read or parse: ${errorMessage(err).split('\n')[0]}`]);
  }
  if (doc && typeof doc === 'object' && ('servers' in doc || 'hub' in doc)) return 'agent';
  if (doc && typeof doc === 'object' && ('api' in doc || 'listen' in doc || 'discord' in doc)) return 'hub';
  throw new ConfigError(path.resolve(file), ['(root): neither a hub config (api, listen) nor an agent config (id, hub, servers)']);
}

/** Validates a config file and the game profiles it uses; returns a one-line summary or throws ConfigError. */
export async function checkConfigFile(file: string): Promise<string> {
  const kind = detectKind(file);
  if (kind === 'hub') {
    const { checkHubConfig } = await import('../hub/config.ts');
    const cfg = checkHubConfig(file);
    return `ok: hub config ${cfg.configFile} (listen ${cfg.listen.host}:${cfg.listen.port}, discord ${cfg.discord ? 'on' : 'off'})`;
  }
  // The very check the agent runs before it starts (agent/check.ts): what passes here, the agent runs.
  const { checkAgentConfig } = await import('../agent/check.ts');
  const { config: cfg, servers } = await checkAgentConfig(file);
  const list = servers.map((s) => `${s.id} (${s.profile.id}, ${s.managed ? 'managed' : 'watch only'})`).join(', ');
  return `ok: agent config ${cfg.configFile}: agent ${cfg.id}, ${servers.length} server(s)${list ? `: ${list}` : ''}`;
}
