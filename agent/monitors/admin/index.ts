import { ReconSyncError } from '../../../protocol/errors.ts';
import { silentLogger, type Logger } from '../../../lib/logger.ts';
import type { AdminChannel, ResolvedServer } from '../../types.ts';
import { sanitizeMessage, type AdminTimeouts, type AdminTransport } from './common.ts';
import { PalworldRestClient } from './palworld-rest.ts';
import { SatisfactoryApiClient } from './satisfactory-api.ts';
import { SourceRconClient } from './source-rcon.ts';
import { TelnetClient } from './telnet.ts';
import { WebRconClient } from './webrcon.ts';

export { AdminChannelError, DefaultAdminTimeouts, sanitizeMessage, type AdminFailure, type AdminTimeouts, type AdminTransport } from './common.ts';

export interface AdminChannelOptions {
  timeouts?: Partial<AdminTimeouts>;
  logger?: Logger;
}

type Commands = ResolvedServer['profile']['admin'];

/**
 * An AdminChannel for one server: the transport speaks the game's protocol,
 * the profile says which command saves, broadcasts and stops.
 */
export class ProfileAdminChannel implements AdminChannel {
  readonly #transport: AdminTransport;
  readonly #commands: Commands;
  readonly #serverId: string;
  readonly #logger: Logger;
  constructor(
    readonly kind: ResolvedServer['admin']['kind'],
    transport: AdminTransport,
    commands: Commands,
    serverId: string,
    logger: Logger = silentLogger,
  ) {
    this.#transport = transport;
    this.#commands = commands;
    this.#serverId = serverId;
    this.#logger = logger;
  }

  exec(command: string, signal?: AbortSignal): Promise<string> {
    return this.#run(command, signal, false);
  }

  async #run(command: string, signal: AbortSignal | undefined, allowDisconnect: boolean): Promise<string> {
    // Only the verb is logged: arguments can hold secrets (e.g. "adminpassword x").
    const verb = command.trim().split(/\s+/)[0];
    this.#logger.debug({ serverId: this.#serverId, kind: this.kind, command: verb }, 'admin command');
    try {
      return (await this.#transport.exec(command, signal ? { signal, allowDisconnect } : { allowDisconnect })).trimEnd();
    } catch (err) {
      this.#logger.debug({ serverId: this.#serverId, kind: this.kind, command: verb, err }, 'admin command failed');
      throw err;
    }
  }

  #need(which: 'saveCommand' | 'broadcastCommand' | 'stopCommand'): string {
    const cmd = this.#commands[which];
    if (!cmd) throw new ReconSyncError('NOT_SUPPORTED', `server "${this.#serverId}": the game profile has no admin.${which}`);
    return cmd;
  }

  async save(signal?: AbortSignal): Promise<void> {
    await this.#run(this.#need('saveCommand'), signal, false);
  }

  async broadcast(message: string, signal?: AbortSignal): Promise<void> {
    const text = sanitizeMessage(message);
    await this.#run(this.#need('broadcastCommand').replaceAll('{message}', () => text), signal, false);
  }

  /** Saves (when the profile has a save command), then sends the stop command; the game closing the line counts as done. */
  async stop(signal?: AbortSignal): Promise<void> {
    const stopCommand = this.#need('stopCommand');
    if (this.#commands.saveCommand) await this.#run(this.#commands.saveCommand, signal, false);
    await this.#run(stopCommand, signal, true);
  }

  close(): Promise<void> {
    return this.#transport.close();
  }
}

/** Builds the transport for a server's admin kind; null when the game has none or no port is known. */
export function createAdminTransport(server: ResolvedServer, timeouts: Partial<AdminTimeouts> = {}): AdminTransport | null {
  const { kind, host, port, password, dialect, insecureTls } = server.admin;
  if (kind === 'none' || port === null) return null;
  switch (kind) {
    case 'source-rcon':
      return new SourceRconClient({ ...timeouts, host, port, password, dialect: dialect ?? 'srcds' });
    case 'webrcon':
      return new WebRconClient({ ...timeouts, host, port, password });
    case 'telnet':
      return new TelnetClient({ ...timeouts, host, port, password });
    case 'palworld-rest':
      return new PalworldRestClient({ ...timeouts, host, port, password });
    case 'satisfactory-api':
      return new SatisfactoryApiClient({ ...timeouts, host, port, password, insecureTls });
  }
}

/** The server's admin channel, or null when its game has none (Valheim, Enshrouded). */
export function createAdminChannel(server: ResolvedServer, opts: AdminChannelOptions = {}): AdminChannel | null {
  const transport = createAdminTransport(server, opts.timeouts);
  if (!transport) return null;
  return new ProfileAdminChannel(server.admin.kind, transport, server.profile.admin, server.id, opts.logger);
}
