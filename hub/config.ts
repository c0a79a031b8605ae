import { z } from 'zod';
import { loadYamlConfig, resolveFrom, type LoadOptions } from '../lib/config-file.ts';

const snowflake = z.string().regex(/^\d{1,20}$/, 'a Discord id (digits, as a quoted string)');

export const DiscordConfigSchema = z.object({
  token: z.string().min(1),
  applicationId: snowflake,
  guildId: snowflake.optional(),
  /** A Discord-compatible REST endpoint (tests point this at the fake). */
  apiBaseUrl: z.string().url().optional(),
  roles: z.object({
    viewer: z.array(snowflake).default([]),
    operator: z.array(snowflake).default([]),
    admin: z.array(snowflake).default([]),
  }).strict().default({ viewer: [], operator: [], admin: [] }),
  statusChannelId: snowflake.optional(),
  alertChannelId: snowflake.optional(),
  auditChannelId: snowflake.optional(),
  /** An agent must be gone this long before an "agent offline" alert. */
  offlineGraceMs: z.number().int().nonnegative().default(60_000),
  /** Minimum time between two edits of one status message. */
  boardEditIntervalMs: z.number().int().positive().default(5000),
}).strict();

export const HubConfigSchema = z.object({
  listen: z.object({
    host: z.string().default('0.0.0.0'),
    port: z.number().int().min(0).max(65535).default(7780),
    tls: z.object({ cert: z.string(), key: z.string() }).strict().optional(),
    /** Trust X-Forwarded-For from a reverse proxy for per-address throttling. */
    trustProxy: z.boolean().default(false),
  }).strict().default({ host: '0.0.0.0', port: 7780, trustProxy: false }),
  dataDir: z.string().default('./hub-data'),
  api: z.object({ token: z.string().min(16, 'at least 16 characters; use a long random string') }).strict(),
  logLevel: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  discord: DiscordConfigSchema.optional(),
}).strict();

export type HubConfig = z.output<typeof HubConfigSchema> & { configDir: string; configFile: string };
export type DiscordConfig = z.output<typeof DiscordConfigSchema>;

export function loadHubConfig(file: string, opts: LoadOptions = {}): HubConfig {
  const cfg = loadYamlConfig(file, HubConfigSchema, opts);
  const r = (p: string) => resolveFrom(cfg.configDir, p);
  return Object.freeze({
    ...cfg,
    dataDir: r(cfg.dataDir),
    listen: { ...cfg.listen, tls: cfg.listen.tls ? { cert: r(cfg.listen.tls.cert), key: r(cfg.listen.tls.key) } : undefined },
  }) as HubConfig;
}
