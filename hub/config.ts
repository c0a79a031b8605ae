import { accessSync, constants } from 'node:fs';
import { z } from 'zod';
import { resolveFrom, type LoadOptions } from '../lib/config-file.ts';
import { checkYamlFile, loadCheckedYaml, throwIfProblems } from '../lib/config-validate.ts';
import { EventKindSchema, severities } from '../protocol/event-kinds.ts';

const snowflake = z.string().regex(/^\d{1,20}$/, 'a Discord id (digits, as a quoted string)');

export const DiscordConfigSchema = z.object({
  token: z.string().min(1).describe('Bot token (Developer Portal → Bot → Reset Token); keep it out of the file: ${DISCORD_TOKEN}'),
  applicationId: snowflake.describe('Application ID from the Developer Portal, as a quoted string'),
  guildId: snowflake.optional().describe('Discord server (guild) id: commands register there and appear at once; without it they are global (up to an hour)'),
  /** A Discord-compatible REST endpoint (tests point this at the fake). */
  apiBaseUrl: z.string().url().optional().describe('A Discord-compatible REST endpoint instead of discord.com (for tests)'),
  roles: z.object({
    viewer: z.array(snowflake).default([]).describe('Role ids that may view status and backups; empty = everyone in the guild'),
    operator: z.array(snowflake).default([]).describe('Role ids that may start, stop, restart and back up (includes viewer)'),
    admin: z.array(snowflake).default([]).describe('Role ids that may restore, run RCON commands and place the status board (includes operator)'),
  }).strict().default({ viewer: [], operator: [], admin: [] }).describe('Who may do what, by Discord role id: admin ⊃ operator ⊃ viewer'),
  statusChannelId: snowflake.optional().describe('Channel for the live status board, edited in place'),
  alertChannelId: snowflake.optional().describe('Channel for alerts: crashes, failed backups, agents offline'),
  auditChannelId: snowflake.optional().describe('Channel that records who did what'),
  eventsChannelId: snowflake.optional().describe('Channel for player joins and leaves (batched)'),
  alertRoles: z.partialRecord(z.enum(severities), snowflake).optional().describe('Role id mentioned on alerts of that severity, e.g. { critical: "111" }'),
  /** Kept so hub.yaml files that set it still load: alerts.offlineGraceMs is the one grace now. */
  offlineGraceMs: z.number().int().nonnegative().optional().describe('Deprecated: use alerts.offlineGraceMs, the one grace for Discord, the API, the stream and webhooks; used for it when that is not set'),
  /** Minimum time between two edits of one status message. */
  boardEditIntervalMs: z.number().int().positive().default(5000).describe('Minimum time between two edits of one status message, in ms (Discord rate limits)'),
}).strict();

export const WebhookConfigSchema = z.object({
  url: z.url({ protocol: /^https?$/ }).describe('Where events are POSTed (http or https)'),
  format: z.enum(['json', 'discord', 'slack']).default('json').describe('json: the event, signed; discord: a Discord webhook URL; slack: a Slack incoming webhook'),
  secret: z.string().min(16, 'at least 16 characters; use a long random string').optional().describe('HMAC-SHA256 key for X-ReconSync-Signature (format json): ${WEBHOOK_SECRET}'),
  events: z.array(EventKindSchema).min(1).optional().describe('Event kinds to send (default: all), e.g. [crash, gave_up, backup_failed]'),
  timeoutMs: z.number().int().min(100).max(120_000).default(10_000).describe('Time allowed for one delivery, in ms'),
}).strict().refine((w) => w.format !== 'json' || w.secret !== undefined, { message: 'format json needs a secret (receivers check X-ReconSync-Signature with it)', path: ['secret'] });

export const HubConfigSchema = z.object({
  listen: z.object({
    host: z.string().default('0.0.0.0').describe('Address to listen on (0.0.0.0 = every interface; 127.0.0.1 behind a local reverse proxy)'),
    port: z.number().int().min(0).max(65535).default(7780).describe('TCP port of the HTTP API, /metrics, /healthz and the agent WebSocket (/agent)'),
    tls: z.object({
      cert: z.string().describe('PEM certificate chain (e.g. fullchain.pem); relative to this file'),
      key: z.string().describe('PEM private key; relative to this file'),
    }).strict().optional().describe('Serve HTTPS/WSS directly; omit when a reverse proxy terminates TLS'),
    /** Trust X-Forwarded-For from a reverse proxy for per-address throttling. */
    trustProxy: z.boolean().default(false).describe('Trust X-Forwarded-For (set only behind your own reverse proxy): login throttling then counts per client address'),
  }).strict().default({ host: '0.0.0.0', port: 7780, trustProxy: false }).describe('Where the hub listens'),
  dataDir: z.string().default('./hub-data').describe('Folder of the SQLite store (agents, token hashes, backup catalog, audit log); relative to this file'),
  api: z.object({
    token: z.string().min(16, 'at least 16 characters; use a long random string').describe('Bearer token for /api/v1 (admin scope), 16+ characters: ${RECONSYNC_API_TOKEN}'),
  }).strict().describe('The HTTP API under /api/v1'),
  logLevel: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info').describe('Least severe log level written'),
  discord: DiscordConfigSchema.optional().describe('The Discord bot; without this section the hub runs without one'),
  alerts: z.object({
    webhooks: z.array(WebhookConfigSchema).max(32).default([]).describe('Endpoints every event (or the kinds listed) is POSTed to, with retries'),
    offlineGraceMs: z.number().int().nonnegative().optional().describe('How long an agent must be gone before an agent_offline event (Discord alert, API, stream, webhooks), in ms (default 60000; discord.offlineGraceMs if only that is set); agent_online is recorded only when it comes back after that'),
  }).strict().refine((a) => new Set(a.webhooks.map((w) => `${w.format} ${w.url}`)).size === a.webhooks.length, {
    message: 'the same url and format appear twice; list each endpoint once (its events filter can name several kinds)',
    path: ['webhooks'],
  }).default({ webhooks: [] }).describe('Alerts: webhooks, and the grace before an agent counts as offline'),
}).strict();

export type HubConfig = z.output<typeof HubConfigSchema> & { configDir: string; configFile: string };
export type DiscordConfig = z.output<typeof DiscordConfigSchema>;
export type WebhookConfig = z.output<typeof WebhookConfigSchema>;

export function loadHubConfig(file: string, opts: LoadOptions = {}): HubConfig {
  return resolveHubPaths(loadCheckedYaml(file, HubConfigSchema, opts));
}

function resolveHubPaths(cfg: z.output<typeof HubConfigSchema> & { configDir: string; configFile: string }): HubConfig {
  const r = (p: string) => resolveFrom(cfg.configDir, p);
  return Object.freeze({
    ...cfg,
    dataDir: r(cfg.dataDir),
    listen: { ...cfg.listen, tls: cfg.listen.tls ? { cert: r(cfg.listen.tls.cert), key: r(cfg.listen.tls.key) } : undefined },
  }) as HubConfig;
}

/**
 * `config check` for hub.yaml: the schema and every variable, then the files
 * the hub opens at start (TLS certificate and key), all reported at once.
 */
export function checkHubConfig(file: string, opts: LoadOptions = {}): HubConfig {
  const checked = checkYamlFile(file, HubConfigSchema, opts);
  const problems = [...checked.problems];
  const cfg = checked.data && resolveHubPaths({ ...checked.data, configDir: checked.configDir, configFile: checked.abs });
  for (const [key, f] of [['listen.tls.cert', cfg?.listen.tls?.cert], ['listen.tls.key', cfg?.listen.tls?.key]] as const) {
    if (f === undefined) continue;
    try {
      accessSync(f, constants.R_OK);
    } catch (err) {
      problems.push(`${key}: cannot read "${f}" (${(err as NodeJS.ErrnoException).code ?? 'error'}); give the path of a PEM file the hub's user can read`);
    }
  }
  throwIfProblems(checked.abs, problems);
  // No data means the schema failed, which is a problem: throwIfProblems has thrown.
  return cfg!;
}

/** The secret values of a hub config, scrubbed from every log line (lib/logger.ts). */
export function hubSecrets(cfg: HubConfig): string[] {
  // Discord and Slack webhook URLs are credentials themselves (anyone holding one can post).
  const hooks = cfg.alerts.webhooks.flatMap((w) => [w.secret ?? '', w.format === 'json' ? '' : w.url]);
  return [cfg.api.token, cfg.discord?.token ?? '', ...hooks].filter((s) => s !== '');
}
