import type { APIEmbed, APIEmbedField } from 'discord.js';
import type { BackupProgress, BackupRecord } from '../../protocol/index.ts';
import type { AgentView, ServerView } from '../service/types.ts';
import { clampEmbed, cut, DiscordLimits } from './limits.ts';
import { escapeText, formatBytes, inlineCode, OFFLINE_COLOR, relativeTime, stateStyle } from './format.ts';

/**
 * Pure functions from service views to Discord payloads. Nothing from the
 * config (tokens, passwords) is ever an input here, so nothing secret can
 * reach a message.
 */

const UPTIME_QUANTUM_MS = 60_000;

/** When the server started, rounded so that status heartbeats do not change the rendered text. */
function startedAt(s: ServerView): number | null {
  const up = s.resources?.uptimeSec;
  if (up === null || up === undefined || s.state !== 'running' || !s.updatedAt) return null;
  const start = Date.parse(s.updatedAt) - up * 1000;
  return Math.round(start / UPTIME_QUANTUM_MS) * UPTIME_QUANTUM_MS;
}

function field(name: string, value: string, inline = true): APIEmbedField {
  return { name, value: value.length ? value : '—', inline };
}

function backupAge(s: ServerView): string {
  if (!s.lastBackup) return 'never';
  const at = Date.parse(s.lastBackup.createdAt);
  return `${relativeTime(at)}${s.lastBackup.verified ? ' ✅' : ' ⚠️ unverified'}`;
}

/** One server as an embed: the board's unit and the `/status server:` answer. */
export function serverEmbed(s: ServerView, opts: { withPlayers?: boolean } = {}): APIEmbed {
  const st = stateStyle[s.state];
  const started = startedAt(s);
  const fields = [
    field('State', s.agentOnline ? `${st.icon} ${st.label}` : `📴 agent offline (last: ${stateStyle[s.lastKnownState].label})`),
    field('Players', `${s.players.online}/${s.players.max}`),
    field('Map', escapeText(s.map ?? '—')),
    field('Version', `${escapeText(s.version ?? s.update?.installedBuild ?? '—')}${s.update?.available && s.update.latestBuild ? ` · 🆕 build ${escapeText(s.update.latestBuild)} available` : ''}`),
    field('Uptime', started === null ? '—' : `since ${relativeTime(started)}`),
    ...(s.nextRestart ? [field('Next restart', relativeTime(Date.parse(s.nextRestart)))] : []),
    // A steam:// link is clickable only as a bare URL; an address is shown to copy.
    ...(s.connect ? [field('Connect', /^steam:\/\/connect\/[\w.:-]+$/.test(s.connect) ? s.connect : inlineCode(s.connect))] : []),
    field('Last backup', backupAge(s)),
    field('Agent', `${s.agentOnline ? '🟢' : '🔴'} ${inlineCode(s.agentId)}`),
  ];
  if (opts.withPlayers && s.players.names.length > 0) {
    fields.push(field('Online now', cut(s.players.names.map(escapeText).join(', '), DiscordLimits.fieldValue), false));
  }
  return clampEmbed({
    title: `${s.agentOnline ? st.icon : '📴'} ${escapeText(s.name)}`,
    color: s.agentOnline ? st.color : OFFLINE_COLOR,
    fields,
    footer: { text: `${s.id} · ${s.game}` },
  });
}

/** All servers in one compact embed (`/status` with no server). */
export function statusListEmbed(servers: ServerView[]): APIEmbed {
  if (servers.length === 0) return { title: 'Servers', description: 'No servers yet: connect an agent with servers in its agent.yaml.' };
  const lines = servers.map((s) => {
    const st = stateStyle[s.state];
    const icon = s.agentOnline ? st.icon : '📴';
    const state = s.agentOnline ? st.label : `agent offline, last ${stateStyle[s.lastKnownState].label}`;
    return `${icon} ${inlineCode(s.id)} ${escapeText(s.name)} · ${state} · ${s.players.online}/${s.players.max}`;
  });
  return { title: `Servers (${servers.length})`, description: joinLines(lines, DiscordLimits.embedDescription) };
}

/** Joins lines up to `max` characters and says how many did not fit. */
export function joinLines(lines: string[], max: number): string {
  let out = '';
  for (let i = 0; i < lines.length; i++) {
    const more = `\n… and ${lines.length - i} more`;
    const next = (out ? out + '\n' : '') + lines[i];
    if (next.length + (i < lines.length - 1 ? more.length : 0) > max) return out + more;
    out = next;
  }
  return out;
}

export function agentsEmbed(agents: AgentView[]): APIEmbed {
  if (agents.length === 0) return { title: 'Agents', description: 'No agent has connected yet.' };
  const lines = agents.map((a) => {
    const seen = a.lastSeen ? ` · last seen ${relativeTime(Date.parse(a.lastSeen))}` : '';
    return `${a.connected ? '🟢' : '🔴'} ${inlineCode(a.id)} · ${a.version ? `v${escapeText(a.version)}` : 'version ?'} · ${a.servers.length} server(s)${a.connected ? '' : seen}`;
  });
  const online = agents.filter((a) => a.connected).length;
  return { title: `Agents (${online}/${agents.length} online)`, description: joinLines(lines, DiscordLimits.embedDescription) };
}

function destinations(b: BackupRecord): string {
  if (b.destinations.length === 0) return 'nowhere';
  return b.destinations.map((d) => `${escapeText(d.target)} ${d.verified ? '✅' : '❌'}`).join(', ');
}

export function backupListEmbed(serverId: string, backups: BackupRecord[], maxRows = 20): APIEmbed {
  if (backups.length === 0) return { title: `Backups of ${serverId}`, description: 'No backups yet. Make one with `/backup create`.' };
  const lines = backups.slice(0, maxRows).map((b) => {
    const lock = b.locked ? ' 🔒' : '';
    const note = b.note ? ` · “${escapeText(cut(b.note, 80))}”` : '';
    return `${inlineCode(b.id)}${lock} · ${relativeTime(Date.parse(b.createdAt))} · ${formatBytes(b.size)} · ${destinations(b)}${note}`;
  });
  if (backups.length > maxRows) lines.push(`… ${backups.length - maxRows} older`);
  return { title: `Backups of ${serverId} (${backups.length})`, description: joinLines(lines, DiscordLimits.embedDescription), footer: { text: 'newest first · ✅ verified · ❌ not verified' } };
}

export function backupResultEmbed(b: BackupRecord): APIEmbed {
  const allVerified = b.destinations.length > 0 && b.destinations.every((d) => d.verified);
  return clampEmbed({
    title: `${allVerified ? '✅' : '⚠️'} Backup ${b.id}`,
    color: allVerified ? 0x2ecc71 : 0xe67e22,
    fields: [
      field('Server', inlineCode(b.serverId)),
      field('Size', formatBytes(b.size)),
      field('Files', String(b.files)),
      field('SHA-256', inlineCode(b.sha256.slice(0, 16) + '…')),
      field('Stored at', destinations(b), false),
      ...(b.note ? [field('Note', escapeText(b.note), false)] : []),
    ],
  });
}

const phaseLabel: Record<BackupProgress['phase'], string> = {
  saving: 'asking the game to save', settling: 'waiting for the save to finish', archiving: 'archiving', uploading: 'uploading',
  verifying: 'verifying', retention: 'applying retention', downloading: 'downloading', stopping: 'stopping the server',
  extracting: 'extracting', swapping: 'swapping the world in', starting: 'starting the server', done: 'done',
};

export function progressLine(p: BackupProgress): string {
  const pct = p.bytesTotal ? ` ${Math.min(100, Math.floor((p.bytesDone / p.bytesTotal) * 100))}%` : p.bytesDone > 0 ? ` ${formatBytes(p.bytesDone)}` : '';
  const target = p.target ? ` → ${escapeText(cut(p.target, 100))}` : '';
  return `⏳ ${phaseLabel[p.phase]}${pct}${target}`;
}
