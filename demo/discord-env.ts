import type { DiscordConfig } from '../hub/config.ts';
import { DiscordConfigSchema } from '../hub/config.ts';

/** The demo runs the bot when DISCORD_TOKEN and DISCORD_APPLICATION_ID are set. */
export function discordFromEnv(env: NodeJS.ProcessEnv): DiscordConfig | null {
  if (!env.DISCORD_TOKEN || !env.DISCORD_APPLICATION_ID) return null;
  const list = (v: string | undefined) => (v ? v.split(',').map((s) => s.trim()).filter(Boolean) : []);
  return DiscordConfigSchema.parse({
    token: env.DISCORD_TOKEN,
    applicationId: env.DISCORD_APPLICATION_ID,
    ...(env.DISCORD_GUILD_ID ? { guildId: env.DISCORD_GUILD_ID } : {}),
    ...(env.DISCORD_API_BASE_URL ? { apiBaseUrl: env.DISCORD_API_BASE_URL } : {}),
    ...(env.DISCORD_STATUS_CHANNEL_ID ? { statusChannelId: env.DISCORD_STATUS_CHANNEL_ID } : {}),
    ...(env.DISCORD_ALERT_CHANNEL_ID ? { alertChannelId: env.DISCORD_ALERT_CHANNEL_ID } : {}),
    roles: { viewer: list(env.DISCORD_VIEWER_ROLES), operator: list(env.DISCORD_OPERATOR_ROLES), admin: list(env.DISCORD_ADMIN_ROLES) },
  });
}
