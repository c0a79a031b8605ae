// The operator commands that work on the hub's store from another process:
// token create|revoke|list, server forget, agent forget. Each needs only
// hub.yaml's dataDir, so the hub's secrets need not be in this shell.
import { ExitCode, UsageError } from './exit.ts';

const out = (line: string) => process.stdout.write(`${line}\n`);
const err = (line: string) => process.stderr.write(`${line}\n`);

export async function runTokenCommand(args: string[], configPath: string, opts: { rotate: boolean }): Promise<number> {
  const [sub, agentId, ...extra] = args;
  const tokens = await import('../hub/tokens.ts');
  if (sub === 'list' && agentId === undefined) {
    const rows = tokens.listTokensForConfig({ dataDir: tokens.dataDirFromConfig(configPath) });
    if (rows.length === 0) {
      err('No valid agent tokens. Mint one with: reconsync token create <agentId> --config hub.yaml');
      return ExitCode.Ok;
    }
    const table = [['AGENT', 'CREATED', 'LAST USED'], ...rows.map((r) => [r.agentId, r.createdAt, r.lastUsedAt ?? 'never'])];
    const widths = [0, 1].map((i) => Math.max(...table.map((row) => row[i]!.length)));
    for (const row of table) out(`${row[0]!.padEnd(widths[0]!)}  ${row[1]!.padEnd(widths[1]!)}  ${row[2]}`);
    return ExitCode.Ok;
  }
  if ((sub !== 'create' && sub !== 'revoke') || !agentId || extra.length) {
    throw new UsageError('usage: reconsync token create <agentId> [--rotate] | token revoke <agentId> | token list  (each with --config hub.yaml)');
  }
  if (sub === 'revoke' && opts.rotate) throw new UsageError('--rotate goes with token create');
  if (sub === 'create') {
    const token = tokens.createAgentToken(configPath, agentId, undefined, { rotate: opts.rotate });
    if (opts.rotate) err(`Rotated: the previous token of "${agentId}" is revoked; a running hub closes its session within seconds.`);
    err(`Token for agent "${agentId}" (shown once; put it in agent.yaml as hub.token or RECONSYNC_AGENT_TOKEN):`);
    out(token);
    return ExitCode.Ok;
  }
  const revoked = tokens.revokeAgentToken(configPath, agentId) > 0;
  out(revoked ? `Revoked the token of "${agentId}"; a running hub drops its session within seconds.` : `Agent "${agentId}" had no active token.`);
  return revoked ? ExitCode.Ok : ExitCode.Failure;
}

export async function runServerForget(args: string[], configPath: string): Promise<number> {
  const [serverId, ...extra] = args;
  if (!serverId || extra.length) throw new UsageError('usage: reconsync server forget <serverId> --config hub.yaml');
  const { forgetServerForConfig } = await import('../hub/forget-cli.ts');
  const r = forgetServerForConfig(configPath, serverId);
  out(`Forgot server "${r.serverId}" (owned by agent "${r.formerOwner}"; ${r.backups} catalog entr${r.backups === 1 ? 'y' : 'ies'} dropped, the backups themselves are untouched).`);
  out('The next agent whose hello lists it owns it; a running hub applies this within seconds.');
  return ExitCode.Ok;
}

export async function runAgentForget(args: string[], configPath: string): Promise<number> {
  const [agentId, ...extra] = args;
  if (!agentId || extra.length) throw new UsageError('usage: reconsync agent forget <agentId> --config hub.yaml');
  const { forgetAgentForConfig } = await import('../hub/forget-cli.ts');
  const r = forgetAgentForConfig(configPath, agentId);
  out(`Forgot agent "${r.agentId}": ${r.tokensRevoked} token(s) revoked, servers freed: ${r.servers.length ? r.servers.join(', ') : 'none'}.`);
  out('A running hub closes its session within seconds.');
  return ExitCode.Ok;
}

export async function runApiKeyCommand(args: string[], configPath: string, scope: string | undefined): Promise<number> {
  const [sub, name, ...extra] = args;
  const usage = 'usage: reconsync apikey create <name> --scope read|operate|admin | apikey revoke <name> | apikey list  (each with --config hub.yaml)';
  const keys = await import('../hub/apikeys.ts');
  if (sub === 'list' && name === undefined) {
    const rows = keys.listApiKeysForConfig(configPath);
    if (rows.length === 0) err('No API keys. Mint one with: reconsync apikey create <name> --scope read --config hub.yaml');
    for (const r of rows) out(`${r.name}  ${r.scope}  created ${r.createdAt}${r.revokedAt ? `  revoked ${r.revokedAt}` : ''}`);
    return ExitCode.Ok;
  }
  if ((sub !== 'create' && sub !== 'revoke') || !name || extra.length) throw new UsageError(usage);
  if (sub === 'create') {
    const key = keys.createApiKeyForConfig(configPath, name, keys.parseScope(scope));
    err(`API key "${name}" (scope ${scope}; shown once; send it as Authorization: Bearer <key>):`);
    out(key);
    return ExitCode.Ok;
  }
  if (scope !== undefined) throw new UsageError('--scope goes with apikey create');
  const revoked = keys.revokeApiKeyForConfig(configPath, name);
  out(revoked ? `Revoked API key "${name}"; it stops working at once.` : `No valid API key named "${name}".`);
  return revoked ? ExitCode.Ok : ExitCode.Failure;
}
