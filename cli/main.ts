import { parseArgs } from 'node:util';
import { ConfigError } from '../lib/config-file.ts';
import { VERSION } from '../lib/version.ts';
import { errorMessage } from '../lib/error-message.ts';
import { ExitCode, UsageError } from './exit.ts';

const HELP = `reconsync ${VERSION} — keep community game servers alive and their worlds safe

Usage:
  reconsync hub --config hub.yaml                  run the hub
  reconsync agent --config agent.yaml              run an agent
  reconsync agent service install|uninstall|status --config agent.yaml
                                                   run the agent as a system service
  reconsync agent stop-games --config agent.yaml   host shutdown: save and stop every managed game
                                                   (stopping the agent itself leaves games running)
  reconsync token create <agentId> [--rotate] --config hub.yaml
                                                   mint an agent token (printed once, last line); one per
                                                   agent: --rotate replaces it and drops the old session
  reconsync token revoke <agentId> --config hub.yaml   revoke it; a connected agent is dropped
  reconsync token list --config hub.yaml           agents with a valid token: created, last used
  reconsync apikey create <name> --scope read|operate|admin --config hub.yaml
                                                   scoped API key (printed once, last line; stored hashed)
  reconsync apikey revoke <name> --config hub.yaml   revoke it (at once); apikey list shows names and scopes
  reconsync server forget <serverId> --config hub.yaml free a server id (its agent no longer owns it)
  reconsync server install <serverId> --config agent.yaml
                                                   install or update the server's game with SteamCMD
  reconsync agent forget <agentId> --config hub.yaml   remove a stale agent, its token and its servers
  reconsync config check <file>                    validate a hub or agent config (and its game profiles)
  reconsync config schema hub|agent|profile       print the JSON Schema of hub.yaml, agent.yaml or a game profile
                                                   (--out <dir> writes them there; without a name, all three)
  reconsync games                                  list the game profiles
  reconsync demo [--seconds N] [--new-build-after S]
                                                   hub + agent + simulated game server on loopback; the game
                                                   gets a new build S seconds in (default 60) and is updated

Options:
  -c, --config <file>   config file
  -h, --help            this help
  -v, --version         print the version

Exit codes: 0 ok, 1 failure, 2 usage error, 3 invalid config.
`;

type Handler = (args: string[], flags: Flags) => Promise<number>;
interface Flags {
  config?: string;
  out?: string;
  seconds?: string;
  'new-build-after'?: string;
  'dry-run'?: boolean;
  rotate?: boolean;
  scope?: string;
}

function requireConfig(flags: Flags, what: string): string {
  if (!flags.config) throw new UsageError(`${what} needs --config <file>`);
  return flags.config;
}

const commands: Record<string, Handler> = {
  async hub(_args, flags) {
    const { runHub } = await import('../hub/main.ts');
    return runHub(requireConfig(flags, 'hub'));
  },
  async agent(args, flags) {
    if (args[0] === 'service') {
      const { runServiceCommand } = await import('./service.ts');
      return runServiceCommand(args[1], requireConfig(flags, 'agent service'), { dryRun: flags['dry-run'] === true });
    }
    if (args[0] === 'stop-games' && args.length === 1) {
      const { runStopGames } = await import('../agent/main.ts');
      return runStopGames(requireConfig(flags, 'agent stop-games'));
    }
    if (args[0] === 'forget') {
      const { runAgentForget } = await import('./hub-admin.ts');
      return runAgentForget(args.slice(1), requireConfig(flags, 'agent forget'));
    }
    if (args.length) throw new UsageError(`unknown agent subcommand "${args[0]}"`);
    const { runAgent } = await import('../agent/main.ts');
    return runAgent(requireConfig(flags, 'agent'));
  },
  async token(args, flags) {
    const { runTokenCommand } = await import('./hub-admin.ts');
    if (!['create', 'revoke', 'list'].includes(args[0] ?? '')) throw new UsageError('usage: reconsync token create|revoke <agentId> | token list  (each with --config hub.yaml)');
    // Only dataDir is needed: the token commands work without the hub's secrets in the environment.
    return runTokenCommand(args, requireConfig(flags, 'token'), { rotate: flags.rotate === true });
  },
  async apikey(args, flags) {
    const { runApiKeyCommand } = await import('./hub-admin.ts');
    return runApiKeyCommand(args, requireConfig(flags, 'apikey'), flags.scope);
  },
  async server(args, flags) {
    if (args[0] === 'install') {
      if (args.length !== 2) throw new UsageError('usage: reconsync server install <serverId> --config agent.yaml');
      const { runServerInstall } = await import('./server-install.ts');
      return runServerInstall(args[1]!, requireConfig(flags, 'server install'));
    }
    if (args[0] !== 'forget') throw new UsageError('usage: reconsync server forget <serverId> --config hub.yaml | reconsync server install <serverId> --config agent.yaml');
    const { runServerForget } = await import('./hub-admin.ts');
    return runServerForget(args.slice(1), requireConfig(flags, 'server forget'));
  },
  async config(args, flags) {
    const [sub, file] = args;
    if (sub === 'check') {
      const target = file ?? flags.config;
      if (!target) throw new UsageError('usage: reconsync config check <file>');
      const { checkConfigFile } = await import('./config-check.ts');
      const summary = await checkConfigFile(target);
      process.stdout.write(`${summary}\n`);
      return ExitCode.Ok;
    }
    if (sub === 'schema') {
      // Prints to stdout; files are written only where --out says (it used to fill the current folder).
      const schemas = await import('../tools/config-schema.ts');
      const usage = `usage: reconsync config schema ${schemas.SchemaNames.join('|')} (print one) | reconsync config schema [${schemas.SchemaNames.join('|')}] --out <dir> (write files)`;
      if (args.length > 2 || (file === undefined && flags.out === undefined)) throw new UsageError(usage);
      const entry = file === undefined ? undefined : schemas.ConfigSchemas.find((e) => e.name === file);
      if (file !== undefined && !entry) throw new UsageError(`no config schema "${file}"\n${usage}`);
      if (flags.out !== undefined) {
        for (const f of await schemas.writeConfigSchemas(flags.out, entry ? [entry] : schemas.ConfigSchemas)) process.stdout.write(`${f}\n`);
      } else {
        process.stdout.write(schemas.configSchemaText(entry!));
      }
      return ExitCode.Ok;
    }
    throw new UsageError('usage: reconsync config check <file> | reconsync config schema hub|agent|profile [--out dir]');
  },
  async games() {
    const { listGames } = await import('../games/loader.ts');
    const rows = listGames();
    const width = Math.max(...rows.map((r) => r.id.length));
    for (const r of rows) process.stdout.write(`${r.id.padEnd(width)}  ${r.name}  (query: ${r.query}; admin: ${r.admin})\n`);
    return ExitCode.Ok;
  },
  async demo(_args, flags) {
    const { runDemo } = await import('../demo/demo.ts');
    const seconds = flags.seconds === undefined ? undefined : Number(flags.seconds);
    if (seconds !== undefined && !(seconds > 0)) throw new UsageError('--seconds must be a positive number');
    const newBuildAfterSeconds = flags['new-build-after'] === undefined ? undefined : Number(flags['new-build-after']);
    if (newBuildAfterSeconds !== undefined && !(newBuildAfterSeconds >= 0)) throw new UsageError('--new-build-after must be a number of seconds');
    return runDemo({ seconds, newBuildAfterSeconds });
  },
};

export async function main(argv: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      strict: true,
      options: {
        config: { type: 'string', short: 'c' },
        out: { type: 'string' },
        seconds: { type: 'string' },
        'new-build-after': { type: 'string' },
        'dry-run': { type: 'boolean' },
        rotate: { type: 'boolean' },
        scope: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
        version: { type: 'boolean', short: 'v' },
      },
    });
  } catch (err) {
    process.stderr.write(`${errorMessage(err)}\n\n${HELP}`);
    return ExitCode.Usage;
  }
  const { values, positionals } = parsed;
  if (values.version) {
    process.stdout.write(`${VERSION}\n`);
    return ExitCode.Ok;
  }
  const [name, ...rest] = positionals;
  if (values.help || !name) {
    process.stdout.write(HELP);
    return name || values.help ? ExitCode.Ok : ExitCode.Usage;
  }
  const handler = Object.hasOwn(commands, name) ? commands[name] : undefined;
  if (!handler) {
    process.stderr.write(`unknown command "${name}"\n\n${HELP}`);
    return ExitCode.Usage;
  }
  try {
    return await handler(rest, values);
  } catch (err) {
    if (err instanceof UsageError) {
      process.stderr.write(`${err.message}\n`);
      return ExitCode.Usage;
    }
    if (err instanceof ConfigError) {
      process.stderr.write(`invalid config ${err.message}\n`);
      return ExitCode.ConfigInvalid;
    }
    process.stderr.write(`error: ${errorMessage(err)}\n`);
    return ExitCode.Failure;
  }
}
