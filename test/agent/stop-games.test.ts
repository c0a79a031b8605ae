// `reconsync agent stop-games` must not run while an agent on the same dataDir runs
// (the agent would take each exit for a crash and start the game again), and the
// agent pid file must not mistake a reused pid for the agent.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { readFile, writeFile } from 'node:fs/promises';
import { test } from 'node:test';
import { agentPidFile, claimAgentPid, removeAgentPid, runningAgent, writeAgentPid } from '../../agent/agent-pid.ts';
import { createPlatform } from '../../agent/platform.ts';
import { stopGames } from '../../agent/stop-games.ts';
import { ReconSyncError } from '../../protocol/index.ts';
import { agentConfig, tempDir } from '../support/stack.ts';

const platform = createPlatform();

/** A real process standing in for an agent: it only waits to be killed. */
async function idleProcess(): Promise<ChildProcess> {
  const child = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { stdio: 'ignore' });
  await once(child, 'spawn');
  return child;
}

async function end(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.kill('SIGKILL');
  await once(child, 'exit');
}

test('the agent pid file names a live agent only while that same process runs', { skip: process.platform === 'win32' }, async (t) => {
  const { dir, cleanup } = await tempDir('reconsync-agentpid-');
  t.after(cleanup);
  const child = await idleProcess();
  t.after(() => end(child));
  const pid = child.pid!;

  assert.equal(await runningAgent(dir, platform), null, 'no file, no agent');
  await writeAgentPid(dir, platform, pid);
  const [, started] = (await readFile(agentPidFile(dir), 'utf8')).trim().split(' ');
  assert.match(started ?? '', /^\d+$/, 'Linux records the start time from /proc');
  assert.equal(await runningAgent(dir, platform), pid);

  // Same pid, another start time: the pid was reused by something else after an unclean exit.
  await writeFile(agentPidFile(dir), `${pid} 1\n`);
  assert.equal(await runningAgent(dir, platform), null);

  await writeAgentPid(dir, platform, pid);
  await removeAgentPid(dir, pid + 1);
  assert.equal(await runningAgent(dir, platform), pid, 'a file naming another agent is left alone');
  await end(child);
  assert.equal(await runningAgent(dir, platform), null, 'a dead agent is no agent');
  await removeAgentPid(dir, pid);
  await assert.rejects(readFile(agentPidFile(dir)));
});

test('claiming the dataDir: refused while another agent lives, a stale file taken over, one winner of two at once', { skip: process.platform === 'win32' }, async (t) => {
  const { dir, cleanup } = await tempDir('reconsync-agentclaim-');
  t.after(cleanup);
  const other = await idleProcess();
  t.after(() => end(other));

  await claimAgentPid(dir, platform);
  assert.equal((await readFile(agentPidFile(dir), 'utf8')).split(' ')[0], String(process.pid));
  await claimAgentPid(dir, platform); // this process's own file: taken again

  await writeAgentPid(dir, platform, other.pid!);
  await assert.rejects(claimAgentPid(dir, platform), (err: unknown) => err instanceof ReconSyncError && err.code === 'BUSY' && err.message.includes(`pid ${other.pid}`));
  await end(other);
  await claimAgentPid(dir, platform); // the other agent is gone: its file is stale
  assert.equal((await readFile(agentPidFile(dir), 'utf8')).split(' ')[0], String(process.pid));

  // Two claims at the same moment for two live processes: exactly one gets the dataDir.
  await removeAgentPid(dir);
  const a = await idleProcess();
  const b = await idleProcess();
  t.after(() => end(a));
  t.after(() => end(b));
  const results = await Promise.allSettled([claimAgentPid(dir, platform, a.pid!), claimAgentPid(dir, platform, b.pid!)]);
  assert.deepEqual(results.map((r) => r.status).sort(), ['fulfilled', 'rejected']);
});

test('stop-games refuses while an agent runs on the dataDir and goes ahead once it has exited', { skip: process.platform === 'win32' }, async (t) => {
  const { dir, cleanup } = await tempDir('reconsync-stopgames-');
  t.after(cleanup);
  const config = agentConfig(dir, { id: 'box', hub: { url: 'ws://127.0.0.1:9/agent', token: 't'.repeat(40) }, servers: [] });
  const agent = await idleProcess();
  t.after(() => end(agent));
  await writeAgentPid(config.dataDir, platform, agent.pid!);

  await assert.rejects(stopGames({ config, agentExitWaitMs: 300 }), (err: unknown) => {
    assert.ok(err instanceof ReconSyncError);
    assert.equal(err.code, 'BUSY');
    assert.match(err.message, new RegExp(`agent \\(pid ${agent.pid}\\) still runs .*Stop it first`));
    return true;
  });

  // The agent exits while stop-games waits (the shutdown hook and the agent's stop can overlap): it goes ahead.
  const running = stopGames({ config, agentExitWaitMs: 20_000 });
  await end(agent);
  assert.deepEqual(await running, []);
});
