// Issue 10 §5 at the launcher: a spawned game must not keep the agent's process
// alive, must not share its process group or session, and must keep running after
// the agent's process is gone. A real node process plays the agent (it spawns the
// game through ProcessLauncher, releases it and returns) with no process.exit().
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { test } from 'node:test';
import { createPlatform } from '../../../agent/platform.ts';
import { launcherPaths } from '../../../agent/supervisor/launcher.ts';
import { tsxImport } from '../../support/stack.ts';
import { makeSandbox, makeServer, waitGameUp } from './helpers.ts';

const platform = createPlatform({ os: 'linux' });
const repo = path.resolve(import.meta.dirname, '..', '..', '..');

/** pgrp (field 5) and session (field 6) from /proc/<pid>/stat. */
function groupAndSession(pid: number): { pgrp: number; session: number } {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return { pgrp: Number(f[2]), session: Number(f[3]) };
}

test('a spawned game does not hold the agent open and outlives it in its own session', { skip: process.platform !== 'linux', timeout: 30_000 }, async (t) => {
  const box = await makeSandbox();
  t.after(() => box.cleanup());
  const server = makeServer(box);
  const agentScript = path.join(box.dir, 'fake-agent.mts');
  await writeFile(agentScript, `
import { ProcessLauncher } from ${JSON.stringify(path.join(repo, 'agent/supervisor/launcher.ts'))};
import { createPlatform } from ${JSON.stringify(path.join(repo, 'agent/platform.ts'))};
const server = JSON.parse(process.argv[2]);
const launcher = new ProcessLauncher({ platform: createPlatform(), dataDir: process.argv[3] });
const handle = await launcher.spawn(server);
handle.release();
// No process.exit(): the event loop must run empty although the game still runs.
`);
  const agent = spawn(process.execPath, ['--import', tsxImport, agentScript, JSON.stringify(server), box.dataDir], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  agent.stderr!.on('data', (c: Buffer) => { stderr += c.toString(); });
  const exit = once(agent, 'exit');
  const timer = setTimeout(() => agent.kill('SIGKILL'), 10_000);
  const [code, signal] = await exit as [number | null, NodeJS.Signals | null];
  clearTimeout(timer);
  assert.deepEqual({ code, signal }, { code: 0, signal: null }, `the "agent" ended by itself, not by the 10 s kill (stderr: ${stderr})`);

  const pid = Number((await readFile(launcherPaths(box.dataDir, server.id).pidFile, 'utf8')).trim().split(/\s+/)[0]);
  t.after(() => platform.hardKill(pid));
  await waitGameUp(box.gameDir);
  assert.equal(platform.isAlive(pid), true, 'the game outlived the agent');
  const own = groupAndSession(pid);
  assert.deepEqual(own, { pgrp: pid, session: pid }, 'its own process group and session: no signal to the agent\'s group reaches it');
  assert.notEqual(own.session, groupAndSession(process.pid).session);
});
