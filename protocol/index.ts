export * from './version.ts';
export * from './errors.ts';
export * from './clock.ts';
export * from './status.ts';
export * from './events.ts';
export * from './methods.ts';
export * from './frames.ts';
export * from './rpc-peer.ts';
