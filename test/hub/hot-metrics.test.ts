import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Counter, Histogram, Registry } from 'prom-client';
import { CounterTally, FastHistogram } from '../../hub/hot-metrics.ts';
import { createHubMetrics } from '../../hub/metrics.ts';

const buckets = [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 30];
const samples: Array<[string, number]> = [['a', 0.001], ['a', 0.0005], ['b', 7], ['a', 9999], ['b', 0.2], ['c', 0], ['a', 0.05]];

test('FastHistogram exposes exactly what prom-client Histogram exposes', async () => {
  const ref = new Registry();
  const ours = new Registry();
  const h1 = new Histogram({ name: 'lat_seconds', help: 'h', labelNames: ['method'], buckets, registers: [ref] });
  const h2 = new FastHistogram({ name: 'lat_seconds', help: 'h', labelName: 'method', buckets, registers: [ours] });
  assert.equal(await ours.metrics(), await ref.metrics()); // both empty
  for (const [m, v] of samples) {
    h1.observe({ method: m }, v);
    h2.observe(m, v);
  }
  assert.equal(await ours.metrics(), await ref.metrics());
  assert.deepStrictEqual(await ours.getMetricsAsJSON(), await ref.getMetricsAsJSON());
  ref.resetMetrics();
  ours.resetMetrics();
  assert.equal(await ours.metrics(), await ref.metrics());
});

test('CounterTally totals reach prom-client on every collection', async () => {
  const registry = new Registry();
  let tally: CounterTally<'method' | 'outcome'> | undefined;
  const counter = new Counter({ name: 'calls_total', help: 'c', labelNames: ['method', 'outcome'], registers: [registry], collect: () => tally?.drain() });
  tally = new CounterTally(counter, ['method', 'outcome']);
  tally.add2('agent.ping', 'ok');
  tally.add2('agent.ping', 'ok');
  tally.add2('server.start', 'TIMEOUT');
  counter.inc({ method: 'agent.ping', outcome: 'ok' }); // direct increments still add up
  const text = await registry.metrics();
  assert.match(text, /calls_total\{method="agent.ping",outcome="ok"\} 3\n/);
  assert.match(text, /calls_total\{method="server.start",outcome="TIMEOUT"\} 1\n/);
  tally.add2('agent.ping', 'ok');
  assert.match(await registry.metrics(), /calls_total\{method="agent.ping",outcome="ok"\} 4\n/);
});

test('hub metrics: frames and RPC outcomes recorded on the hot path show up in /metrics text', async () => {
  const m = createHubMetrics({ defaultMetrics: false });
  m.frameIn('res');
  m.frameIn('res');
  m.frameOut('req');
  m.rpcSettled('agent.ping', 'ok', 2);
  m.rpcSettled('agent.ping', 'TIMEOUT', 30_000);
  const text = await m.registry.metrics();
  assert.match(text, /reconsync_frames_in_total\{type="res"\} 2/);
  assert.match(text, /reconsync_frames_out_total\{type="req"\} 1/);
  assert.match(text, /reconsync_rpc_total\{method="agent.ping",outcome="ok"\} 1/);
  assert.match(text, /reconsync_rpc_total\{method="agent.ping",outcome="TIMEOUT"\} 1/);
  assert.match(text, /reconsync_rpc_duration_seconds_bucket\{le="0.005",method="agent.ping"\} 1/);
  assert.match(text, /reconsync_rpc_duration_seconds_count\{method="agent.ping"\} 2/);
  assert.match(text, /reconsync_rpc_duration_seconds_sum\{method="agent.ping"\} 30.002/);
});
