// Issue 10 §2 and §12 as an operator does it: the CLI in its own process,
// against the store of a running hub (they share hub.sqlite).
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { test } from 'node:test';
import { hashToken } from '../../hub/tokens.ts';
import { FakeAgent, startHub, summary } from '../hub/helpers.ts';
import { runCli, tempDir, waitFor } from '../support/stack.ts';


const cli = (args: string[]) => runCli(args);

async function hubYaml(dir: string): Promise<string> {
  const file = path.join(dir, 'hub.yaml');
  // The API token is unset in the CLI's environment on purpose: these commands need only dataDir.
  await writeFile(file, 'dataDir: ./hub-data\napi:\n  token: ${RECONSYNC_API_TOKEN}\n');
  return file;
}

test('token create refuses a second token; --rotate replaces it and the old session closes within seconds; token list shows no secret', { timeout: 60_000 }, async () => {
  const { dir, cleanup } = await tempDir();
  const hub = await startHub(path.join(dir, 'hub-data'));
  try {
    const cfg = await hubYaml(dir);
    const created = await cli(['token', 'create', 'box-1', '--config', cfg]);
    assert.equal(created.code, 0, created.stderr);
    const token = created.stdout.trim().split('\n').at(-1)!;
    assert.match(token, /^rsa_/);

    const again = await cli(['token', 'create', 'box-1', '--config', cfg]);
    assert.equal(again.code, 1);
    assert.equal(again.stdout, '', 'no token printed');
    assert.match(again.stderr, /already has a valid token .*--rotate/);
    assert.equal(hub.store.tokens.activeFor('box-1').length, 1);
    assert.deepEqual(hub.store.audit.recent(1).map((e) => [e.action, e.outcome, e.actor.kind]), [['token.create', 'denied', 'cli']]);

    const { agent } = await FakeAgent.online(hub, 'box-1', token, [summary('vh')]);
    const listed = await cli(['token', 'list', '--config', cfg]);
    assert.equal(listed.code, 0, listed.stderr);
    const lines = listed.stdout.trim().split('\n');
    assert.match(lines[0]!, /^AGENT\s+CREATED\s+LAST USED$/);
    assert.equal(lines.length, 2);
    assert.match(lines[1]!, /^box-1\s+\d{4}-\d\d-\d\dT\S+Z\s+\d{4}-\d\d-\d\dT\S+Z$/, 'last used is set by the session');
    for (const secret of [token, token.slice(4), hashToken(token).toString('hex'), hashToken(token).toString('base64')]) assert.equal(listed.stdout.includes(secret), false);

    assert.equal((await cli(['token', 'revoke', 'box-1', '--rotate', '--config', cfg])).code, 2);
    const rotated = await cli(['token', 'create', 'box-1', '--rotate', '--config', cfg]);
    assert.equal(rotated.code, 0, rotated.stderr);
    const fresh = rotated.stdout.trim().split('\n').at(-1)!;
    assert.match(fresh, /^rsa_/);
    assert.notEqual(fresh, token);
    assert.equal((await agent.waitClosed(10_000)).code, 4001, 'the session on the old token is closed');
    const back = await FakeAgent.online(hub, 'box-1', fresh, [summary('vh')]);
    assert.equal(hub.service.getServer('vh').agentId, 'box-1');
    back.agent.close();
  } finally {
    await hub.close();
    await cleanup();
  }
});

test('server forget and agent forget from the CLI reach a running hub; both audited; unknown ids exit 1', { timeout: 60_000 }, async () => {
  const { dir, cleanup } = await tempDir();
  const hub = await startHub(path.join(dir, 'hub-data'));
  try {
    const cfg = await hubYaml(dir);
    const tokenB = (await cli(['token', 'create', 'box-b', '--config', cfg])).stdout.trim().split('\n').at(-1)!;
    const tokenZ = (await cli(['token', 'create', 'box-z', '--config', cfg])).stdout.trim().split('\n').at(-1)!;
    const b = await FakeAgent.online(hub, 'box-b', tokenB, [summary('vh')]);
    b.agent.close();
    await waitFor(() => !hub.link.registry.get('box-b'), 5000, 'box-b offline');
    const z = await FakeAgent.online(hub, 'box-z', tokenZ, [summary('vh'), summary('z1')]);
    assert.equal(hub.service.getServer('vh').agentId, 'box-b');

    // The server moved for real: the operator frees it, and box-z takes it at its next hello.
    const forgot = await cli(['server', 'forget', 'vh', '--config', cfg]);
    assert.equal(forgot.code, 0, forgot.stderr);
    assert.match(forgot.stdout, /Forgot server "vh" \(owned by agent "box-b"/);
    await waitFor(() => hub.service.listServers().every((s) => s.id !== 'vh'), 10_000, 'the hub dropping vh');
    z.agent.close();
    await waitFor(() => !hub.link.registry.get('box-z'), 5000, 'box-z offline');
    const z2 = await FakeAgent.online(hub, 'box-z', tokenZ, [summary('vh'), summary('z1')]);
    assert.equal(hub.service.getServer('vh').agentId, 'box-z');

    // A stale agent goes with its token and servers; its live session is closed.
    const gone = await cli(['agent', 'forget', 'box-z', '--config', cfg]);
    assert.equal(gone.code, 0, gone.stderr);
    assert.match(gone.stdout, /Forgot agent "box-z": 1 token\(s\) revoked, servers freed: vh, z1/);
    assert.equal((await z2.agent.waitClosed(10_000)).code, 4001);
    await waitFor(() => hub.service.listAgents().every((a) => a.id !== 'box-z'), 10_000, 'box-z gone from the agent list');
    // Its servers go with the hub's next ownership poll, which may come after the session closed (revocation poll).
    await waitFor(() => hub.service.listServers().length === 0, 10_000, 'vh and z1 gone from the server list');
    assert.doesNotMatch((await cli(['token', 'list', '--config', cfg])).stdout, /box-z/);

    const actions = hub.store.audit.recent(10).filter((e) => e.actor.kind === 'cli').map((e) => [e.action, e.serverId, e.outcome]);
    assert.deepEqual(actions.slice(0, 2), [['agent.forget', null, 'ok'], ['server.forget', 'vh', 'ok']]);

    const unknownServer = await cli(['server', 'forget', 'nope', '--config', cfg]);
    assert.equal(unknownServer.code, 1);
    assert.match(unknownServer.stderr, /no agent owns server "nope"/);
    const unknownAgent = await cli(['agent', 'forget', 'nobody', '--config', cfg]);
    assert.equal(unknownAgent.code, 1);
    assert.match(unknownAgent.stderr, /no agent "nobody"/);
    assert.equal((await cli(['server', 'forget', '--config', cfg])).code, 2);
    assert.equal((await cli(['agent', 'forget', '--config', cfg])).code, 2);
  } finally {
    await hub.close();
    await cleanup();
  }
});
