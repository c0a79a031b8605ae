import { forgetAgent, forgetServer } from './service/forget.ts';
import type { ForgottenAgent, ForgottenServer } from './service/types.ts';
import { cliActor, dataDirFromConfig, withStore } from './tokens.ts';

// `reconsync server forget` and `reconsync agent forget`: they write the store
// from another process (like the token commands); a running hub picks the
// change up from the store's change log within its poll interval.

export function forgetServerForConfig(configPath: string, serverId: string, env?: NodeJS.ProcessEnv): ForgottenServer {
  return withStore(dataDirFromConfig(configPath, env), (store) => forgetServer(store, serverId, cliActor(), new Date().toISOString()));
}

export function forgetAgentForConfig(configPath: string, agentId: string, env?: NodeJS.ProcessEnv): ForgottenAgent {
  return withStore(dataDirFromConfig(configPath, env), (store) => forgetAgent(store, agentId, cliActor(), new Date().toISOString()));
}
