// bmaas db roles [--apply]: the least-privilege role of every component
// (docs/deploying.md#roles), printed as SQL or applied to the BMDB.
import type { Command } from '../command.ts';
import { BMDB_FLAGS, LOG_FLAGS, openBmdbFromFlags } from '../common-flags.ts';
import { applyRoles, inspectRoleTarget, ROLE_GRANTS, roleName, rolesSql } from '../../bmdb/index.ts';
import { UsageError } from '../../lib/flags.ts';

export const command: Command = {
  name: 'db',
  summary: 'print or apply the least-privilege database role of each component',
  usage: 'roles [--apply] [--role-prefix PREFIX] [--bmdb-url URL]',
  description: [
    'roles prints the SQL that creates one login role per component and grants it only what that component does;',
    '--apply runs it in one transaction (as a superuser or the owner of the schema). It is idempotent: run it again',
    'after every `bmaas migrate up`, because grants on tables a migration adds are left out until they exist.',
    'Set passwords (ALTER ROLE ... PASSWORD) or certificate authentication yourself.',
  ].join('\n'),
  positionals: 1,
  flags: [
    ...BMDB_FLAGS,
    { name: 'apply', type: 'boolean', description: 'run the SQL instead of printing it' },
    { name: 'role-prefix', type: 'string', default: 'bmaas_', placeholder: 'PREFIX', description: 'role names are PREFIX followed by the component (migrator, shepherd, server, webug, webug_actions, scruffy)' },
    ...LOG_FLAGS,
  ],
  async run(flags, ctx) {
    if (flags.positionals.length !== 1 || flags.positionals[0] !== 'roles') throw new UsageError('expected: roles');
    const prefix = flags.string('role-prefix')!;
    for (const spec of ROLE_GRANTS) roleName(prefix, spec.component);
    const bmdb = await openBmdbFromFlags(flags, { logger: ctx.logger, migrate: false, signal: ctx.signal });
    try {
      if (bmdb.driver.kind !== 'postgres') throw new UsageError('roles need PostgreSQL (--bmdb-url postgres://...); the embedded database has a single user');
      const script = flags.boolean('apply')
        ? await applyRoles(bmdb.driver, { prefix, signal: ctx.signal })
        : rolesSql(await inspectRoleTarget(bmdb.driver, { prefix, signal: ctx.signal }), { prefix });
      if (!flags.boolean('apply')) {
        ctx.stdout.write('BEGIN;\n');
        for (const sql of script.statements) ctx.stdout.write(`${sql};\n`);
        ctx.stdout.write('COMMIT;\n');
      } else {
        ctx.stdout.write(`applied ${script.statements.length} statements; roles: ${ROLE_GRANTS.map((s) => roleName(prefix, s.component)).join(', ')}\n`);
      }
      for (const s of script.skipped) ctx.stderr.write(`skipped (table not there yet; run again after migrating): ${s}\n`);
    } finally {
      await bmdb.close();
    }
  },
};
