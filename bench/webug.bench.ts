// webug at fleet scale: 100,000 machines in a throw-away PostgreSQL, timed
// over HTTP as an operator's browser would ask (full HTML pages). Prints one
// JSON line per figure; the target is a median under 200 ms each.
import { Registry } from 'prom-client';
import { openBmdb } from '../src/bmdb/index.ts';
import { startWebug } from '../src/webug/index.ts';
import { sampleHardwareReport } from '../src/webug/testing/seed.ts';
import { startPgCluster } from '../test/pg-cluster.ts';
import { connectClient, createDatabase, emit, median } from './bench-lib.ts';

const MACHINES = Number(process.env.BENCH_MACHINES ?? 100_000);
const RUNS = Number(process.env.BENCH_RUNS ?? 15);

const cluster = await startPgCluster();
try {
  const admin = await connectClient(cluster.adminUrl);
  const url = await createDatabase(admin, cluster.adminUrl, 'webug_bench');
  await admin.end();
  const bmdb = await openBmdb({ url, migrate: true, metricsRegistry: new Registry() });
  const db = bmdb.driver;
  const seedStart = performance.now();
  await db.query(`INSERT INTO machines (machine_id, machine_created_at) SELECT gen_random_uuid(), now() - i * interval '1 second' FROM generate_series(1, $1::int) i`, [MACHINES]);
  await db.query(`CREATE TEMP TABLE numbered AS SELECT machine_id, row_number() OVER (ORDER BY machine_id) AS n FROM machines`);
  await db.query(`INSERT INTO machine_provided (machine_id, provider, provider_id, provider_ip_address, provider_location, provider_status)
    SELECT machine_id, CASE WHEN n % 4 = 0 THEN 'Lumen' ELSE 'Equinix' END::provider, 'srv-' || lpad(n::text, 6, '0'),
      '10.' || (n / 65536) || '.' || (n / 256 % 256) || '.' || (n % 256), (ARRAY['da11','ny5','sv15','am6'])[1 + n % 4], 'Running'
    FROM numbered`);
  await db.query(`INSERT INTO machine_agent_started (machine_id, agent_started_at, agent_public_key)
    SELECT machine_id, now() - interval '1 day', decode(md5(machine_id::text) || md5(n::text), 'hex') FROM numbered WHERE n % 10 <> 0`);
  await db.query(`INSERT INTO machine_agent_heartbeat (machine_id, agent_heartbeat_at)
    SELECT machine_id, now() - (n % 7200) * interval '1 second' FROM numbered WHERE n % 10 <> 0 AND n % 20 <> 1`);
  await db.query(`INSERT INTO machine_hardware_report (machine_id, hardware_report_raw) SELECT machine_id, $1 FROM numbered WHERE n % 10 <> 0`, [sampleHardwareReport()]);
  await db.query(`INSERT INTO sessions (session_component_name, session_runtime_info, session_interval_seconds, session_deadline)
    SELECT 'shepherd-' || i, 'host=bench pid=' || i, 5, now() + interval '1 hour' FROM generate_series(1, 4) i`);
  await db.query(`INSERT INTO work (machine_id, session_id, process)
    SELECT machine_id, (SELECT session_id FROM sessions ORDER BY session_id LIMIT 1), 'ShepherdRecovery' FROM numbered WHERE n % 200 = 3`);
  await db.query(`INSERT INTO work_backoff (machine_id, process, until, cause, last_interval_seconds)
    SELECT machine_id, 'ShepherdAgentStart', now() + interval '10 minutes', 'ssh: connection refused (attempt ' || n || ')', 600 FROM numbered WHERE n % 50 = 7`);
  await db.query(`INSERT INTO work_history (machine_id, process, event, timestamp, failed_cause)
    SELECT machine_id, 'ShepherdAgentStart', e, now() - interval '1 day' + k * interval '1 second', CASE WHEN e = 'Failed' THEN 'ssh: timeout' END
    FROM numbered, unnest(ARRAY['Started','Failed','Started','Finished']::work_history_event[]) WITH ORDINALITY AS x(e, k) WHERE n % 2 = 0`);
  await db.query('ANALYZE');
  const detailId = String((await db.query('SELECT machine_id FROM numbered WHERE n = 4242')).rows[0]!.machine_id);
  process.stderr.write(`webug bench: seeded ${MACHINES} machines in ${Math.round(performance.now() - seedStart)} ms\n`);

  const webug = await startWebug({ bmdb, listenAddress: '127.0.0.1:0' });
  try {
    const figures: Array<[string, string]> = [
      ['list_first_page_ms', '/'],
      ['list_filtered_page_ms', '/?provider=Lumen&has=hardware_report&hb_older=30m'],
      ['list_backoff_filter_ms', '/?backoff=ShepherdAgentStart'],
      ['list_sorted_by_heartbeat_ms', '/?sort=heartbeat'],
      ['search_provider_id_ms', '/?q=srv-0424'],
      ['search_address_ms', '/?q=10.1.4.'],
      ['search_machine_id_ms', `/?q=${detailId.slice(0, 6)}`],
      ['machine_detail_ms', `/machines/${detailId}`],
      ['audit_first_page_ms', '/audit?event=Failed'],
    ];
    for (const [figure, path] of figures) {
      const times: number[] = [];
      for (let i = 0; i < RUNS + 2; i++) {
        const start = performance.now();
        const res = await fetch(new URL(path, webug.url));
        await res.text();
        if (res.status !== 200) throw new Error(`${path}: HTTP ${res.status}`);
        if (i >= 2) times.push(performance.now() - start);
      }
      emit({ bench: 'webug', figure, median: Math.round(median(times) * 10) / 10, runs: RUNS, machines: MACHINES, path });
    }
  } finally {
    await webug.close();
    await bmdb.close();
  }
} finally {
  await cluster.stop();
}
