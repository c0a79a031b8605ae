#!/usr/bin/env node
// Launcher for `npx reconsync` from a source checkout: registers tsx so the
// TypeScript sources run as they are (the agent bundle ships a built file instead).
import { register } from 'tsx/esm/api';

register();
const { main } = await import('../cli/main.ts');
process.exitCode = await main(process.argv.slice(2));
