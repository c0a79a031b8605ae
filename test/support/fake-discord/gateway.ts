import type { Server } from 'node:http';
import { WebSocketServer, type WebSocket } from 'ws';
import { snowflake } from './snowflake.ts';
import type { FakeState } from './state.ts';

export interface GatewayGuild {
  id: string;
  name: string;
  channels: { id: string; name: string; type?: number }[];
  roles: string[];
}

interface Conn {
  ws: WebSocket;
  seq: number;
  identified: boolean;
}

/**
 * The gateway half: HELLO, heartbeat ACKs, READY + GUILD_CREATE after IDENTIFY,
 * then dispatches (INTERACTION_CREATE) to every identified connection.
 * JSON only: zlib-sync is not installed, so discord.js does not ask for compression.
 */
export class FakeGateway {
  readonly wss: WebSocketServer;
  private readonly conns = new Set<Conn>();
  identifies = 0;
  /** Presence updates (op 3) the bot sent, oldest first. */
  readonly presences: unknown[] = [];

  constructor(
    server: Server,
    private readonly state: FakeState,
    private readonly opts: { applicationId: string; guild: GatewayGuild; botName: string; resumeUrl: () => string },
  ) {
    this.wss = new WebSocketServer({ server, path: '/gateway' });
    this.wss.on('connection', (ws) => this.onConnection(ws));
  }

  get identifiedCount(): number {
    return [...this.conns].filter((c) => c.identified).length;
  }

  private onConnection(ws: WebSocket): void {
    const conn: Conn = { ws, seq: 0, identified: false };
    this.conns.add(conn);
    ws.on('close', () => {
      this.conns.delete(conn);
      this.state.changed();
    });
    ws.on('error', () => undefined);
    ws.on('message', (raw) => {
      let msg: { op?: number; d?: unknown };
      try {
        msg = JSON.parse(String(raw)) as { op?: number; d?: unknown };
      } catch {
        ws.close(4002, 'Error while decoding payload.');
        return;
      }
      if (msg.op === 1) this.send(conn, { op: 11 });
      else if (msg.op === 2) this.identify(conn);
      else if (msg.op === 6) this.send(conn, { op: 9, d: false }); // no resume: ask for a fresh IDENTIFY
      else if (msg.op === 3) {
        this.presences.push(msg.d);
        this.state.changed();
      }
    });
    this.send(conn, { op: 10, d: { heartbeat_interval: 41250 } });
  }

  private identify(conn: Conn): void {
    const { applicationId, guild, botName } = this.opts;
    this.identifies += 1;
    const user = { id: applicationId, username: botName, discriminator: '0000', global_name: null, avatar: null, bot: true };
    this.dispatch(conn, 'READY', {
      v: 10, user, application: { id: applicationId, flags: 0 }, guilds: [{ id: guild.id, unavailable: true }],
      session_id: snowflake(), resume_gateway_url: this.opts.resumeUrl(), shard: [0, 1],
    });
    this.dispatch(conn, 'GUILD_CREATE', {
      id: guild.id, name: guild.name, owner_id: '100000000000000001', features: [], icon: null, unavailable: false,
      member_count: 2, large: false, joined_at: new Date().toISOString(), system_channel_flags: 0,
      channels: guild.channels.map((c, i) => ({ id: c.id, name: c.name, type: c.type ?? 0, guild_id: guild.id, position: i, permission_overwrites: [] })),
      roles: [guild.id, ...guild.roles].map((id, i) => ({
        id, name: id === guild.id ? '@everyone' : `role-${i}`, color: 0, hoist: false, position: i, permissions: '0', managed: false, mentionable: false, flags: 0,
      })),
      members: [{ user, roles: [], joined_at: new Date().toISOString(), deaf: false, mute: false, flags: 0 }],
      threads: [], emojis: [], stickers: [], presences: [], voice_states: [], stage_instances: [], guild_scheduled_events: [],
    });
    conn.identified = true;
    this.state.changed();
  }

  private dispatch(conn: Conn, t: string, d: unknown): void {
    conn.seq += 1;
    this.send(conn, { op: 0, t, s: conn.seq, d });
  }

  private send(conn: Conn, payload: unknown): void {
    if (conn.ws.readyState === conn.ws.OPEN) conn.ws.send(JSON.stringify(payload));
  }

  /** Sends an event to every identified connection; returns how many got it. */
  broadcast(t: string, d: unknown): number {
    let n = 0;
    for (const c of this.conns) {
      if (!c.identified) continue;
      this.dispatch(c, t, d);
      n += 1;
    }
    return n;
  }

  /** Closes every session with a gateway close code (4004: authentication failed, not resumable). */
  closeSessions(code: number, reason = 'closed by the fake'): void {
    for (const c of this.conns) c.ws.close(code, reason);
  }

  close(): void {
    for (const c of this.conns) c.ws.terminate();
    this.conns.clear();
    this.wss.close();
  }
}
