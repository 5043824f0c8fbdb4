// bmaas machines: look at machines and act on them. `list`, `show`,
// `explain` and `history` read (through webug's loaders, in read-only
// transactions); every other subcommand is an operator action of
// src/actions, one transaction and one audit entry per machine.
import { userInfo } from 'node:os';
import {
  ACTIONS,
  ACTION_NAMES,
  ActionArgumentError,
  ActionRefusedError,
  AmbiguousMachineError,
  UnknownMachineError,
  resolveMachine,
  runAction,
  type ActionOutcome,
} from '../../actions/index.ts';
import { listAuditEntries, type Bmdb } from '../../bmdb/index.ts';
import { UsageError, type FlagSpec, type ParsedFlags } from '../../lib/flags.ts';
import { createContext, loadMachine, type WebugContext } from '../../webug/index.ts';
import type { Command, CommandContext } from '../command.ts';
import { BMDB_FLAGS, openBmdbFromFlags, RECOVERY_THRESHOLD_FLAGS, recoveryThresholdsFromFlags } from '../common-flags.ts';
import { confirm } from '../machines/confirm.ts';
import { filteredMachines, own, selectMachines, SELECTION_FLAGS } from '../machines/select.ts';
import { explainView, historyView, listView, showView, timeline } from '../machines/views.ts';

const READS = ['list', 'show', 'explain', 'history'] as const;
const kebab = (s: string) => s.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);

/** One flag per distinct action argument (--process, --image, --sha256, …). */
const ACTION_ARGUMENT_FLAGS: readonly FlagSpec[] = [
  ...new Map(
    Object.values(ACTIONS).flatMap((a) =>
      a.arguments.map((s) => [kebab(s.name), own({ name: kebab(s.name), type: 'string', placeholder: s.name.toUpperCase(), description: `${a.name}: ${s.description}${s.oneOf ? ` (${s.oneOf.join(', ')})` : ''}` })] as const),
    ),
  ).values(),
];

const actionHelp = Object.values(ACTIONS)
  .map((a) => `  ${a.name.padEnd(16)} ${a.summary}`)
  .join('\n');

export const command: Command = {
  name: 'machines',
  summary: 'list, show and explain machines; operator actions (recover, reinit, clear-backoff, …), each audited',
  usage: `list|show|explain|history|<action> [MACHINE…] [filters] [flags]`,
  description:
    'MACHINE is a machine id, an id prefix or a provider id. Without machines, actions need filters (--provider, --has, …) and --all. ' +
    'More than one machine asks for confirmation (--yes skips it; without a terminal --yes is required). --dry-run says what each machine would see. ' +
    `Output is a table; --json prints JSON.\n\nActions:\n${actionHelp}`,
  positionals: 1000,
  flags: [
    ...BMDB_FLAGS,
    ...SELECTION_FLAGS,
    ...ACTION_ARGUMENT_FLAGS,
    own({ name: 'reason', type: 'string', placeholder: 'TEXT', description: 'why (recorded in the audit trail)' }),
    own({ name: 'actor', type: 'string', placeholder: 'NAME', description: 'who acts, for the audit trail (default cli:<login name>)' }),
    own({ name: 'dry-run', type: 'boolean', description: 'say what would change, change nothing' }),
    own({ name: 'yes', type: 'boolean', description: 'do not ask before acting on more than one machine' }),
    own({ name: 'json', type: 'boolean', description: 'print JSON instead of a table' }),
    ...RECOVERY_THRESHOLD_FLAGS,
    { name: 'log-level', type: 'string', default: 'warn', placeholder: 'LEVEL', env: 'BMAAS_LOG_LEVEL', description: 'trace, debug, info, warn, error or silent' },
  ],
  async run(flags, ctx) {
    const [sub, ...selectors] = flags.positionals;
    if (!sub) throw new UsageError(`expected a subcommand: ${[...READS, ...ACTION_NAMES].join(', ')}`);
    if (!(READS as readonly string[]).includes(sub) && !Object.hasOwn(ACTIONS, sub)) throw new UsageError(`unknown subcommand ${JSON.stringify(sub)}; known: ${[...READS, ...ACTION_NAMES].join(', ')}`);
    const bmdb = await openBmdbFromFlags(flags, { logger: ctx.logger, migrate: false, signal: ctx.signal });
    try {
      const wctx = createContext(bmdb, recoveryThresholdsFromFlags(flags));
      if (sub === 'list') return await list(wctx, flags, selectors, ctx);
      if (sub === 'show' || sub === 'explain' || sub === 'history') return await detail(sub, bmdb, wctx, flags, selectors, ctx);
      return await act(sub, bmdb, wctx, flags, selectors, ctx);
    } catch (err) {
      if (err instanceof UnknownMachineError || err instanceof AmbiguousMachineError) {
        ctx.stderr.write(`bmaas machines: ${err.message}\n`);
        return 1;
      }
      if (err instanceof ActionArgumentError) throw new UsageError(err.message);
      throw err;
    } finally {
      await bmdb.close();
    }
  },
};

function print(ctx: CommandContext, flags: ParsedFlags, value: unknown, table: () => string): void {
  ctx.stdout.write(flags.boolean('json') ? `${JSON.stringify(value, null, 2)}\n` : table());
}

async function list(wctx: WebugContext, flags: ParsedFlags, selectors: readonly string[], ctx: CommandContext): Promise<number> {
  if (selectors.length) throw new UsageError('list takes filters, not machines (use show for one machine)');
  const rows = await filteredMachines(wctx, flags, ctx.signal);
  print(ctx, flags, rows, () => listView(rows));
  return 0;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

async function detail(sub: 'show' | 'explain' | 'history', bmdb: Bmdb, wctx: WebugContext, flags: ParsedFlags, selectors: readonly string[], ctx: CommandContext): Promise<number> {
  if (selectors.length !== 1) throw new UsageError(`${sub} takes exactly one machine`);
  const selector = selectors[0]!;
  let machineId: string;
  try {
    machineId = (await resolveMachine(bmdb, selector, { signal: ctx.signal })).machineId;
  } catch (err) {
    // A removed machine keeps its history and audit entries: a full id still finds them.
    if (!(err instanceof UnknownMachineError && UUID.test(selector))) throw err;
    machineId = selector.toLowerCase();
  }
  const d = await loadMachine(wctx, machineId, ctx.signal);
  const audit = await wctx.read((db) => listAuditEntries(db, { machineId, limit: 500 }, { signal: ctx.signal }), { signal: ctx.signal });
  if (sub === 'explain') print(ctx, flags, { state: d.state, explain: d.explain }, () => explainView(d));
  else if (sub === 'show') print(ctx, flags, { ...d, audit }, () => showView(d, audit.slice(0, 20)));
  else {
    const history = d.history.map((h) => ({ ...h, machineId }));
    const rows = timeline(history, audit);
    print(ctx, flags, rows, () => historyView(rows));
  }
  if (!d.exists && d.history.length === 0 && audit.length === 0) {
    ctx.stderr.write(`bmaas machines: no machine ${machineId}, and no history of one\n`);
    return 1;
  }
  return 0;
}

/** The arguments of this action from its flags; a flag of another action is a usage error. */
function actionArguments(action: string, flags: ParsedFlags): Record<string, string> {
  const mine = ACTIONS[action]!.arguments;
  const out: Record<string, string> = {};
  for (const f of ACTION_ARGUMENT_FLAGS) {
    const v = flags.string(f.name);
    if (v === undefined) continue;
    const spec = mine.find((s) => kebab(s.name) === f.name);
    if (!spec) throw new UsageError(`--${f.name} does not apply to ${action}`);
    out[spec.name] = v;
  }
  return out;
}

interface Line {
  readonly machineId: string;
  readonly providerId: string | null;
  readonly ok: boolean;
  readonly result: string;
  readonly auditId?: string | undefined;
}

async function act(action: string, bmdb: Bmdb, wctx: WebugContext, flags: ParsedFlags, selectors: readonly string[], ctx: CommandContext): Promise<number> {
  const args = actionArguments(action, flags);
  const dryRun = flags.boolean('dry-run');
  const actor = flags.string('actor') ?? `cli:${userInfo().username}`;
  const machines = await selectMachines(bmdb, wctx, flags, selectors, ctx.signal);
  if (machines.length === 0) {
    ctx.stderr.write('bmaas machines: the filters select no machine\n');
    return 1;
  }
  if (!dryRun && machines.length > 1 && !flags.boolean('yes')) {
    const yes = await confirm(`${action} ${machines.length} machines?`, { stdin: process.stdin, stderr: ctx.stderr }, ctx.signal);
    if (!yes) {
      ctx.stderr.write('bmaas machines: nothing done\n');
      return 1;
    }
  }
  const lines: Line[] = [];
  for (const m of machines) {
    ctx.signal.throwIfAborted();
    try {
      const out: ActionOutcome = await runAction(bmdb, { action, machineId: m.machineId, actor, arguments: args, reason: flags.string('reason'), dryRun }, { signal: ctx.signal });
      lines.push({ machineId: m.machineId, providerId: m.providerId, ok: true, result: dryRun ? `would: ${out.result}` : out.result, auditId: out.auditId });
    } catch (err) {
      if (!(err instanceof ActionRefusedError || err instanceof UnknownMachineError)) throw err;
      lines.push({ machineId: m.machineId, providerId: m.providerId, ok: false, result: err instanceof ActionRefusedError ? `refused: ${err.message.replace(/^.*?: /, '')}` : err.message });
    }
  }
  print(ctx, flags, { action, dryRun, machines: lines }, () =>
    lines.map((l) => `${l.machineId}${l.providerId ? ` (${l.providerId})` : ''}: ${l.result}\n`).join('') +
    (lines.length > 1 ? `${lines.filter((l) => l.ok).length} of ${lines.length} ${dryRun ? 'would change' : 'changed'}\n` : ''),
  );
  return lines.every((l) => l.ok) ? 0 : 1;
}
