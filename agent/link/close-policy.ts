import { CloseCode, PROTOCOL_MAJOR } from '../../protocol/index.ts';

/**
 * Why a connection (or an attempt at one) ended. `http` is an upgrade the hub
 * refused before the socket opened; `timeout` and `dead` are our own watchdogs.
 */
export type LinkEnd =
  | { kind: 'close'; code: number; reason: string }
  | { kind: 'http'; status: number; hubProtocol?: string }
  | { kind: 'error'; message: string }
  | { kind: 'timeout'; phase: 'open' | 'welcome'; ms: number }
  | { kind: 'dead'; silentMs: number };

/** reconnect: full-jitter backoff; slow: a long fixed-ish delay; stop: give up until restarted. */
export type LinkAction = 'reconnect' | 'slow' | 'stop';

export interface LinkDecision {
  action: LinkAction;
  /** Stable short name, carried by the 'stopped' / 'disconnected' events and logs. */
  reason: string;
  level: 'info' | 'warn' | 'error';
  /** Says what happened and what the operator should do about it. */
  message: string;
}

interface Rule {
  action: LinkAction;
  reason: string;
  level: LinkDecision['level'];
  message: (end: LinkEnd, agentId: string) => string;
}

const tokenHint = (agentId: string) =>
  `mint a new token with \`reconsync token create ${agentId} --config hub.yaml\`, put it in hub.token of agent.yaml and restart the agent`;

/** WebSocket close codes the hub sends (protocol/version.ts CloseCode). */
const closeRules: Record<number, Rule> = {
  [CloseCode.Replaced]: {
    action: 'stop',
    reason: 'replaced',
    level: 'error',
    message: (_e, agentId) =>
      `another agent connected with the same id "${agentId}" and replaced this one (close 4000); ` +
      'not reconnecting so the two do not take turns. Give each agent its own id in agent.yaml and restart this one',
  },
  [CloseCode.Revoked]: {
    action: 'stop',
    reason: 'revoked',
    level: 'error',
    message: (_e, agentId) => `the hub revoked this agent's token (close 4001); not reconnecting. To bring it back, ${tokenHint(agentId)}`,
  },
  [CloseCode.BadHello]: {
    action: 'stop',
    reason: 'bad-hello',
    level: 'error',
    message: (e) =>
      `the hub rejected this agent's hello (close 4002${reasonOf(e)}); not reconnecting. ` +
      'Check the agent id and server ids in agent.yaml (`reconsync config check agent.yaml`), or upgrade the agent to the hub version',
  },
  [CloseCode.TryAgainLater]: {
    action: 'reconnect',
    reason: 'hub-unavailable',
    level: 'warn',
    message: (e) =>
      `the hub cannot take this agent's session now (close 1013${reasonOf(e)}), usually because its store is failing; ` +
      'records it has not acknowledged stay in the outbox and are re-sent. Reconnecting with backoff; check the hub log and /healthz if it lasts',
  },
  [CloseCode.PolicyViolation]: {
    action: 'stop',
    reason: 'bad-hello',
    level: 'error',
    message: (e) =>
      `the hub closed the link for a policy violation (close 1008${reasonOf(e)}); not reconnecting. ` +
      'Check agent.yaml with `reconsync config check agent.yaml` and that agent and hub versions match',
  },
};

/** HTTP statuses the hub answers an upgrade with (design.md §5: 401, 426). */
const httpRules: Record<number, Rule> = {
  401: {
    action: 'slow',
    reason: 'unauthorized',
    level: 'error',
    message: (_e, agentId) =>
      `the hub refused this agent's token (HTTP 401); retrying slowly in case the hub is being re-enrolled. ` +
      `If it persists, ${tokenHint(agentId)}`,
  },
  426: {
    action: 'stop',
    reason: 'version-mismatch',
    level: 'error',
    message: (e) =>
      `the hub speaks another protocol version (HTTP 426: agent speaks ${PROTOCOL_MAJOR}` +
      `${e.kind === 'http' && e.hubProtocol ? `, hub speaks ${e.hubProtocol}` : ''}); not reconnecting. ` +
      'Upgrade the older of agent and hub so both run the same ReconSync major version, then restart the agent',
  },
  404: {
    action: 'reconnect',
    reason: 'not-found',
    level: 'error',
    message: () => 'the hub answered HTTP 404 on upgrade; check that hub.url in agent.yaml ends in /agent. Reconnecting with backoff',
  },
};

const fallback: Rule = {
  action: 'reconnect',
  reason: 'lost',
  level: 'warn',
  message: (e) => `link to the hub ended (${describe(e)}); reconnecting with backoff`,
};

function reasonOf(end: LinkEnd): string {
  return end.kind === 'close' && end.reason ? `: ${end.reason.slice(0, 120)}` : '';
}

/** A short human description of how the link ended, for logs. */
export function describe(end: LinkEnd): string {
  switch (end.kind) {
    case 'close':
      return `close ${end.code}${reasonOf(end)}`;
    case 'http':
      return `HTTP ${end.status} on upgrade`;
    case 'error':
      return end.message;
    case 'timeout':
      return end.phase === 'open' ? `no connection within ${end.ms} ms` : `no welcome within ${end.ms} ms of connecting`;
    case 'dead':
      return `hub silent for ${end.silentMs} ms`;
  }
}

/** The one place that decides what happens after the link ends (style.md §10). */
export function decideOnEnd(end: LinkEnd, agentId: string): LinkDecision {
  const rule =
    end.kind === 'close' ? (closeRules[end.code] ?? fallback) : end.kind === 'http' ? (httpRules[end.status] ?? fallback) : fallback;
  return { action: rule.action, reason: rule.reason, level: rule.level, message: rule.message(end, agentId) };
}
