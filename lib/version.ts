// Replaced at bundle time by esbuild's `define`; read from package.json when run from source.
import { createRequire } from 'node:module';

declare const __RECONSYNC_VERSION__: string | undefined;

function readVersion(): string {
  if (typeof __RECONSYNC_VERSION__ === 'string') return __RECONSYNC_VERSION__;
  try {
    return (createRequire(import.meta.url)('../package.json') as { version: string }).version;
  } catch {
    return '0.0.0';
  }
}

export const VERSION = readVersion();
