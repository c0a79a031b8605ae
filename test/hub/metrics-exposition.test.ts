import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startHub, tempDir } from './helpers.ts';

/*
 * promtool is not installed here: this checks the exposition the way
 * `promtool check metrics` does (text-format parse, then promlint's rules), so a
 * metric prom-client or we add with a misleading name fails here first.
 */

interface Family { name: string; type: string; help: string | null; samples: { name: string; labels: Record<string, string>; value: number }[] }

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
const TYPES = new Set(['counter', 'gauge', 'histogram', 'summary', 'untyped']);
/** Sample-name suffixes each family type may add to its own name. */
const SUFFIXES: Record<string, string[]> = { counter: [''], gauge: [''], untyped: [''], histogram: ['_bucket', '_sum', '_count'], summary: ['', '_sum', '_count'] };

function parseLabels(text: string, where: string): Record<string, string> {
  const labels: Record<string, string> = {};
  const re = /\s*([^=\s]+)="((?:[^"\\]|\\.)*)"\s*(,|$)/y;
  let at = 0;
  while (at < text.length) {
    re.lastIndex = at;
    const m = re.exec(text);
    assert.ok(m, `${where}: bad label set {${text}}`);
    assert.match(m[1]!, LABEL, `${where}: label name`);
    assert.ok(!(m[1]! in labels), `${where}: label ${m[1]} twice`);
    labels[m[1]!] = m[2]!;
    at = re.lastIndex;
  }
  return labels;
}

/** Strict parse of the Prometheus text format 0.0.4: every sample belongs to the family declared just before it. */
function parseExposition(text: string): Family[] {
  assert.ok(text.endsWith('\n'), 'the exposition ends with a newline');
  const families: Family[] = [];
  const seen = new Set<string>();
  let current: Family | null = null;
  const family = (name: string): Family => {
    if (current?.name === name) return current;
    assert.ok(!seen.has(name), `family ${name} appears twice`);
    seen.add(name);
    current = { name, type: 'untyped', help: null, samples: [] };
    families.push(current);
    return current;
  };
  text.split('\n').forEach((line, i) => {
    const where = `line ${i + 1} "${line.slice(0, 80)}"`;
    if (line === '') return;
    const meta = /^# (HELP|TYPE) (\S+)(?: (.*))?$/.exec(line);
    if (meta) {
      assert.match(meta[2]!, NAME, where);
      const f = family(meta[2]!);
      assert.equal(f.samples.length, 0, `${where}: ${meta[1]} after samples`);
      if (meta[1] === 'TYPE') {
        assert.ok(TYPES.has(meta[3] ?? ''), `${where}: unknown type`);
        f.type = meta[3]!;
      } else {
        f.help = meta[3] ?? '';
      }
      return;
    }
    if (line.startsWith('#')) return;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)(?: (-?\d+))?$/.exec(line);
    assert.ok(m, `${where}: not a sample`);
    // Go's strconv.ParseFloat, which Prometheus uses: inf/nan in any case (prom-client writes "Nan").
    const word = m[3]!.toLowerCase().replace(/^\+/, '');
    const value = word === 'inf' ? Infinity : word === '-inf' ? -Infinity : word === 'nan' ? NaN : Number(m[3]);
    assert.ok(!Number.isNaN(value) || word === 'nan', `${where}: value`);
    const f = current as Family | null;
    assert.ok(f && SUFFIXES[f.type]!.some((s) => m[1] === f.name + s), `${where}: sample outside its family (${f?.name})`);
    const labels = parseLabels(m[2] ?? '', where);
    if (f.type === 'histogram' && m[1]!.endsWith('_bucket')) assert.ok('le' in labels, `${where}: bucket without le`);
    f.samples.push({ name: m[1]!, labels, value });
  });
  return families;
}

/** promlint's checks (prometheus/util/promlint): what `promtool check metrics` reports. */
function lint(f: Family): string[] {
  const problems: string[] = [];
  if (!f.help) problems.push('no help text');
  if (f.type === 'counter' && !f.name.endsWith('_total')) problems.push('counter metrics should have "_total" suffix');
  if (f.type !== 'counter' && f.type !== 'untyped' && f.name.endsWith('_total')) problems.push('non-counter metrics should not have "_total" suffix');
  if (f.name.includes(':')) problems.push('metric names should not contain ":"');
  if (/[A-Z]/.test(f.name)) problems.push('metric names should be written in snake_case not camelCase');
  for (const s of f.samples) for (const l of Object.keys(s.labels)) if (/[A-Z]/.test(l)) problems.push(`label ${l} should be snake_case`);
  const tokens = f.name.split('_');
  for (const t of ['counter', 'gauge', 'histogram', 'summary']) if (tokens.includes(t)) problems.push(`metric name should not include type '${t}'`);
  for (const t of ['s', 'ms', 'us', 'ns', 'sec', 'b', 'kb', 'mb', 'gb', 'tb', 'pb', 'm', 'h', 'd']) if (tokens.includes(t)) problems.push(`metric names should not contain abbreviated units ('${t}')`);
  for (const [t, base] of [['milliseconds', 'seconds'], ['minutes', 'seconds'], ['hours', 'seconds'], ['kilobytes', 'bytes'], ['megabytes', 'bytes'], ['celsius', 'celsius']] as const) {
    if (t !== base && tokens.includes(t)) problems.push(`use base unit "${base}" instead of "${t}"`);
  }
  if (f.type !== 'histogram' && f.type !== 'summary') {
    for (const suffix of ['_bucket', '_count', '_sum']) if (f.name.endsWith(suffix)) problems.push(`non-histogram and non-summary metrics should not have "${suffix}" suffix`);
    if (f.samples.some((s) => 'le' in s.labels)) problems.push('non-histogram metrics should not have "le" label');
  }
  if (f.type !== 'summary' && f.samples.some((s) => 'quantile' in s.labels)) problems.push('non-summary metrics should not have "quantile" label');
  return problems;
}

test('/metrics of a running hub parses and passes promtool\'s lint: no gauge ends in _total, every counter does', async (t) => {
  const { dir, cleanup } = await tempDir();
  t.after(cleanup);
  const hub = await startHub(dir);
  t.after(() => hub.close());
  const res = await fetch(`${hub.url}/metrics`);
  assert.equal(res.status, 200);
  assert.match(res.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/);
  const families = parseExposition(await res.text());
  assert.ok(families.some((f) => f.name === 'reconsync_connected_agents'), 'the hub\'s own metrics');
  assert.ok(families.some((f) => f.name.startsWith('reconsync_hub_nodejs_')), 'the Node.js default metrics');
  const problems = families.flatMap((f) => lint(f).map((p) => `${f.name} (${f.type}): ${p}`));
  assert.deepEqual(problems, []);
});

test('the lint itself catches the names promtool refuses', () => {
  const families = parseExposition([
    '# HELP a_active_handles_total Total handles', '# TYPE a_active_handles_total gauge', 'a_active_handles_total 3',
    '# HELP api_requests Requests', '# TYPE api_requests counter', 'api_requests 1',
    '# HELP c_seconds Latency', '# TYPE c_seconds histogram', 'c_seconds_bucket{le="1"} 1', 'c_seconds_bucket{le="+Inf"} 1', 'c_seconds_sum 0.5', 'c_seconds_count 1',
    '',
  ].join('\n'));
  assert.deepEqual(families.map(lint), [['non-counter metrics should not have "_total" suffix'], ['counter metrics should have "_total" suffix'], []]);
  assert.throws(() => parseExposition('# TYPE x gauge\ny 1\n'), /sample outside its family/);
  assert.throws(() => parseExposition('# TYPE x gauge\nx{a="1",a="2"} 1\n'), /label a twice/);
});
