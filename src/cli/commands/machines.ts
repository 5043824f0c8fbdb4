// bmaas machines: look at machines and act on them. `list`, `show`,
// `explain` and `history` read (through webug's loaders, in read-only
// transactions); every other subcommand is an operator action of
// src/actions, one transaction and one audit entry per machine. With
// --bmdb-url it works on the BMDB directly; with --api on webug's JSON API
// (machines/backend.ts: one interface, both paths).
import { readFile } from 'node:fs/promises';
import { userInfo } from 'node:os';
import { ACTIONS, ACTION_NAMES, ActionArgumentError, AmbiguousMachineError, UnknownMachineError } from '../../actions/index.ts';
import { UsageError, type FlagSpec, type ParsedFlags } from '../../lib/flags.ts';
import { createContext } from '../../webug/index.ts';
import type { Command, CommandContext } from '../command.ts';
import { BMDB_FLAGS, openBmdbFromFlags, RECOVERY_THRESHOLD_FLAGS, recoveryThresholdsFromFlags } from '../common-flags.ts';
import { ApiBackend, ApiError } from '../machines/api-backend.ts';
import { DirectBackend, type MachinesBackend } from '../machines/backend.ts';
import { confirm } from '../machines/confirm.ts';
import { filteredMachines, filterUsageError, own, selectMachines, SELECTION_FLAGS } from '../machines/select.ts';
import { STUCK_LIMIT_FLAG, stuckLimitsFromFlags } from '../stuck-limit-flags.ts';
import { explainView, historyView, listView, showView, timeline } from '../machines/views.ts';

const READS = ['list', 'show', 'explain', 'history'] as const;
export const API_TOKEN_ENV = 'BMAAS_API_TOKEN';
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
    `With --api URL everything goes through webug's JSON API (webug --allow-actions) instead of the BMDB, with the bearer token from ${API_TOKEN_ENV} or --api-token-file; the audit trail's actor is then the token's name. ` +
    `Output is a table; --json prints JSON.\n\nActions:\n${actionHelp}`,
  positionals: 1000,
  flags: [
    ...BMDB_FLAGS,
    own({ name: 'api', type: 'string', placeholder: 'URL', description: "webug's URL: read and act through its JSON API instead of the BMDB (for https with a private CA, set NODE_EXTRA_CA_CERTS)" }),
    own({ name: 'api-token-file', type: 'string', placeholder: 'PATH', description: `a file holding the API bearer token (default: the ${API_TOKEN_ENV} environment variable)` }),
    ...SELECTION_FLAGS,
    ...ACTION_ARGUMENT_FLAGS,
    own({ name: 'reason', type: 'string', placeholder: 'TEXT', description: 'why (recorded in the audit trail)' }),
    own({ name: 'actor', type: 'string', placeholder: 'NAME', description: 'who acts, for the audit trail (default cli:<login name>)' }),
    own({ name: 'dry-run', type: 'boolean', description: 'say what would change, change nothing' }),
    own({ name: 'yes', type: 'boolean', description: 'do not ask before acting on more than one machine' }),
    own({ name: 'json', type: 'boolean', description: 'print JSON instead of a table' }),
    ...RECOVERY_THRESHOLD_FLAGS,
    own(STUCK_LIMIT_FLAG),
    { name: 'log-level', type: 'string', default: 'warn', placeholder: 'LEVEL', env: 'BMAAS_LOG_LEVEL', description: 'trace, debug, info, warn, error or silent' },
  ],
  async run(flags, ctx) {
    const [sub, ...selectors] = flags.positionals;
    if (!sub) throw new UsageError(`expected a subcommand: ${[...READS, ...ACTION_NAMES].join(', ')}`);
    if (!(READS as readonly string[]).includes(sub) && !Object.hasOwn(ACTIONS, sub)) throw new UsageError(`unknown subcommand ${JSON.stringify(sub)}; known: ${[...READS, ...ACTION_NAMES].join(', ')}`);
    const opened = await openBackend(flags, ctx);
    try {
      const backend = opened.backend;
      if (sub === 'list') return await list(backend, flags, selectors, ctx);
      if (sub === 'show' || sub === 'explain' || sub === 'history') return await detail(sub, backend, flags, selectors, ctx);
      return await act(sub, backend, flags, selectors, ctx);
    } catch (err) {
      if (err instanceof UnknownMachineError || err instanceof AmbiguousMachineError) {
        ctx.stderr.write(`bmaas machines: ${err.message}\n`);
        return 1;
      }
      if (err instanceof ActionArgumentError) throw new UsageError(err.message);
      if (err instanceof ApiError) {
        if (err.kind === 'bad-request') throw filterUsageError(err.message);
        ctx.stderr.write(`bmaas machines: ${err.message}${err.status ? ` (HTTP ${err.status} from ${opened.backend.description})` : ''}\n`);
        return 1;
      }
      throw err;
    } finally {
      await opened.close();
    }
  },
};

/** The backend the flags ask for: webug's API with --api, else the BMDB. */
async function openBackend(flags: ParsedFlags, ctx: CommandContext): Promise<{ backend: MachinesBackend; close: () => Promise<void> }> {
  const api = flags.string('api');
  if (api !== undefined) {
    if (flags.string('actor') !== undefined) throw new UsageError("--actor does not apply with --api: the audit trail records the API token's name");
    if (flags.strings('stuck-limit').length > 0) throw new UsageError('--stuck-limit does not apply with --api: webug decides what is stuck (its own --stuck-limit)');
    const file = flags.string('api-token-file');
    let token = process.env[API_TOKEN_ENV];
    if (file !== undefined) {
      try {
        token = (await readFile(file, 'utf8')).trim();
      } catch (err) {
        throw new UsageError(`--api-token-file: cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
      }
    }
    let backend: ApiBackend;
    try {
      backend = new ApiBackend({ url: api, token: token === '' ? undefined : token });
    } catch (err) {
      throw new UsageError((err as Error).message);
    }
    return { backend, close: () => Promise.resolve() };
  }
  const thresholds = recoveryThresholdsFromFlags(flags);
  const stuckLimits = stuckLimitsFromFlags(flags);
  const bmdb = await openBmdbFromFlags(flags, { logger: ctx.logger, migrate: false, signal: ctx.signal });
  return { backend: new DirectBackend(bmdb, createContext(bmdb, thresholds, stuckLimits)), close: () => bmdb.close() };
}

function print(ctx: CommandContext, flags: ParsedFlags, value: unknown, table: () => string): void {
  ctx.stdout.write(flags.boolean('json') ? `${JSON.stringify(value, null, 2)}\n` : table());
}

async function list(backend: MachinesBackend, flags: ParsedFlags, selectors: readonly string[], ctx: CommandContext): Promise<number> {
  if (selectors.length) throw new UsageError('list takes filters, not machines (use show for one machine)');
  const rows = await filteredMachines(backend, flags, ctx.signal);
  print(ctx, flags, rows, () => listView(rows));
  return 0;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

async function detail(sub: 'show' | 'explain' | 'history', backend: MachinesBackend, flags: ParsedFlags, selectors: readonly string[], ctx: CommandContext): Promise<number> {
  if (selectors.length !== 1) throw new UsageError(`${sub} takes exactly one machine`);
  const selector = selectors[0]!;
  let machineId: string;
  try {
    machineId = (await backend.resolve(selector, ctx.signal)).machineId;
  } catch (err) {
    // A removed machine keeps its history and audit entries: a full id still finds them.
    if (!(err instanceof UnknownMachineError && UUID.test(selector))) throw err;
    machineId = selector.toLowerCase();
  }
  const d = await backend.machine(machineId, ctx.signal);
  const audit = await backend.audit(machineId, ctx.signal);
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

async function act(action: string, backend: MachinesBackend, flags: ParsedFlags, selectors: readonly string[], ctx: CommandContext): Promise<number> {
  const args = actionArguments(action, flags);
  const dryRun = flags.boolean('dry-run');
  const actor = flags.string('actor') ?? `cli:${userInfo().username}`;
  const machines = await selectMachines(backend, flags, selectors, ctx.signal);
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
    const r = await backend.act({ action, machineId: m.machineId, actor, arguments: args, reason: flags.string('reason'), dryRun }, ctx.signal);
    if (r.ok) lines.push({ machineId: m.machineId, providerId: m.providerId, ok: true, result: dryRun ? `would: ${r.outcome.result}` : r.outcome.result, auditId: r.outcome.auditId });
    else lines.push({ machineId: m.machineId, providerId: m.providerId, ok: false, result: r.why });
  }
  print(ctx, flags, { action, dryRun, machines: lines }, () =>
    lines.map((l) => `${l.machineId}${l.providerId ? ` (${l.providerId})` : ''}: ${l.result}\n`).join('') +
    (lines.length > 1 ? `${lines.filter((l) => l.ok).length} of ${lines.length} ${dryRun ? 'would change' : 'changed'}\n` : ''),
  );
  return lines.every((l) => l.ok) ? 0 : 1;
}
