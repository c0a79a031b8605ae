// Issue 10 leftovers: an error message built from request input echoes at most ~100
// characters of it (lib/echo.ts), however long the id, path or key the caller sent.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { MAX_ECHO_CHARS } from '../../../lib/echo.ts';
import { API_TOKEN, startHub, tempDir } from '../helpers.ts';

/** Room for the fixed text of a message around one (or two) cut echoes. */
const MAX_MESSAGE = 2 * MAX_ECHO_CHARS + 400;
const long = (c: string) => c.repeat(8000);
const actor = { kind: 'api', id: 'echo-test' } as const;

function assertCut(message: string, what: string): void {
  assert.ok(!message.includes('x'.repeat(MAX_ECHO_CHARS + 1)), `${what}: no more than ${MAX_ECHO_CHARS} characters of the input echoed (${message.length} chars)`);
  assert.match(message, /… \(\d+ characters\)/, `${what}: says the input was cut`);
}

test('hub service errors echo a cut id', async (t) => {
  const { dir, cleanup } = await tempDir();
  t.after(cleanup);
  const hub = await startHub(dir);
  t.after(() => hub.close());
  const id = long('x');
  const calls: [string, () => unknown][] = [
    ['getServer', () => hub.service.getServer(id)],
    ['listBackups', () => hub.service.listBackups(id)],
    ['forgetServer', () => hub.service.forgetServer(id, actor)],
    ['forgetAgent', () => hub.service.forgetAgent(id, actor)],
    ['serverAction', () => hub.service.serverAction('x', id as 'start', actor)],
  ];
  for (const [name, call] of calls) {
    let message = '';
    try {
      await call();
    } catch (err) {
      message = (err as Error).message;
    }
    assert.ok(message, `${name} refused`);
    if (name !== 'serverAction' || message.includes('unknown action')) assertCut(message, name);
  }
});

test('HTTP errors echo a cut path, body key or query key', async (t) => {
  const { dir, cleanup } = await tempDir();
  t.after(cleanup);
  const hub = await startHub(dir);
  t.after(() => hub.close());
  const auth = { Authorization: `Bearer ${API_TOKEN}` };
  const answer = async (p: string, init: RequestInit = {}) => {
    const res = await fetch(`${hub.url}${p}`, { ...init, headers: { ...auth, 'content-type': 'application/json' } });
    const body = (await res.json()) as { error: { message: string } };
    return { status: res.status, message: body.error.message };
  };
  const cases: [string, Promise<{ status: number; message: string }>][] = [
    ['unknown API route', answer(`/api/v1/${long('x')}`)],
    ['nothing at a path', answer(`/${long('x')}`)],
    ['unknown server id', answer(`/api/v1/servers/${long('x')}`)],
    ['unknown body key', answer('/api/v1/servers/a/restore', { method: 'POST', body: JSON.stringify({ backupId: 'b', [long('x')]: 1 }) })],
    ['unknown query key', answer(`/api/v1/events?${long('x')}=1`)],
  ];
  for (const [what, pending] of cases) {
    const { status, message } = await pending;
    assert.ok(status >= 400 && status < 500, `${what}: ${status} ${message.slice(0, 200)}`);
    assert.ok(message.length < MAX_MESSAGE + 2000, `${what}: message of ${message.length} characters`);
    assertCut(message, what);
  }
});
