// bmaas migrate up|down|status: manage the BMDB schema by hand. (Every
// component also migrates up at start-up.)
import type { Command } from '../command.ts';
import { BMDB_FLAGS, LOG_FLAGS, openBmdbFromFlags } from '../common-flags.ts';
import { UsageError } from '../../lib/flags.ts';

export const command: Command = {
  name: 'migrate',
  summary: 'apply, revert or show BMDB schema migrations',
  usage: 'up|down|status [--steps N] [--bmdb-url URL]',
  description: 'up applies every pending migration (a no-op when there is none); down reverts the newest --steps migrations; status lists them.',
  positionals: 1,
  flags: [...BMDB_FLAGS, { name: 'steps', type: 'int', default: 1, min: 1, max: 10_000, description: 'how many migrations `down` reverts' }, ...LOG_FLAGS],
  async run(flags, ctx) {
    const action = flags.positionals[0];
    if (flags.positionals.length !== 1 || !['up', 'down', 'status'].includes(action!)) throw new UsageError('expected exactly one of: up, down, status');
    const bmdb = await openBmdbFromFlags(flags, { logger: ctx.logger, migrate: false, signal: ctx.signal });
    try {
      if (action === 'up') {
        const applied = await bmdb.migrateUp({ signal: ctx.signal });
        const status = await bmdb.migrationStatus({ signal: ctx.signal });
        ctx.stdout.write(applied.length ? `applied ${applied.join(', ')}; schema version is now ${status.current}\n` : `nothing to apply; schema version is ${status.current}\n`);
      } else if (action === 'down') {
        const steps = flags.number('steps')!;
        const reverted = await bmdb.migrateDown({ steps, signal: ctx.signal });
        const status = await bmdb.migrationStatus({ signal: ctx.signal });
        ctx.stdout.write(reverted.length ? `reverted ${reverted.join(', ')}; schema version is now ${status.current}\n` : 'nothing to revert; the schema is empty\n');
      } else {
        const s = await bmdb.migrationStatus({ signal: ctx.signal });
        ctx.stdout.write(`database: ${bmdb.description}\nschema version: ${s.current} (this build knows up to ${s.latestKnown})\n`);
        for (const a of s.applied) ctx.stdout.write(`  applied  ${String(a.version).padStart(4, '0')}_${a.name}  ${a.appliedAt.toISOString()}\n`);
        for (const p of s.pending) ctx.stdout.write(`  pending  ${String(p.version).padStart(4, '0')}_${p.name}\n`);
        if (s.current > s.latestKnown) ctx.stdout.write('  (the database is newer than this build: it keeps working, but do not migrate down with it)\n');
      }
    } finally {
      await bmdb.close();
    }
  },
};
