// Where a machine's OS installation stands (docs/architecture.md#image-installation),
// derived from its three installation tags as the machine page has read them:
// pending (a request the agent has not started on), installing (progress of
// the request's generation), done or failed (a report of that generation).
// The machine page, its JSON and `bmaas machines show` all use this.
import { fromJson, type DescMessage, type JsonValue, type MessageShape } from '@bufbuild/protobuf';
import { OSInstallationProgress_Stage, OSInstallationProgressSchema, OSInstallationReportSchema, OSInstallationRequestSchema } from '../proto/index.ts';
import type { TagValue } from './machine.ts';
import { formatBytes } from './proto-registry.ts';

export type InstallationPhase = 'pending' | 'installing' | 'done' | 'failed';

export interface InstallationState {
  readonly phase: InstallationPhase;
  readonly generation: number;
  /** What is installed where, e.g. `image https://…/os.img onto /dev/sda`. */
  readonly what: string | null;
  /** One line for people: the phase with its detail. */
  readonly summary: string;
  /** The agent's error, when failed. */
  readonly error: string | null;
  /** The latest progress of this generation, when installing. */
  readonly progress: { readonly stage: string; readonly bytesDone: number; readonly bytesTotal: number; readonly reportedAt: Date | null } | null;
}

const STAGE_NAMES: Record<number, string> = {
  [OSInstallationProgress_Stage.WRITING]: 'writing',
  [OSInstallationProgress_Stage.VERIFYING]: 'verifying',
  [OSInstallationProgress_Stage.POST_INSTALL]: 'running the post-install command',
};

function tagField(tags: readonly TagValue[], tag: string, name: string) {
  const t = tags.find((x) => x.name === tag && x.present);
  return t?.fields.find((f) => f.name === name);
}

/** The message a bytea column holds, from the protobuf JSON the tag reader decoded; null when it did not decode. */
function message<D extends DescMessage>(tags: readonly TagValue[], tag: string, column: string, schema: D): MessageShape<D> | null {
  const json = tagField(tags, tag, column)?.decoded?.json;
  if (json === null || json === undefined) return null;
  try {
    return fromJson(schema, json as JsonValue, { ignoreUnknownFields: true });
  } catch {
    return null;
  }
}

function generation(tags: readonly TagValue[], tag: string): number | null {
  const v = tagField(tags, tag, 'generation')?.value;
  return v === null || v === undefined ? null : Number(v);
}

function describeRequest(tags: readonly TagValue[]): string | null {
  const r = message(tags, 'os_installation_request', 'os_installation_request_raw', OSInstallationRequestSchema);
  if (r?.type.case === 'image') return `image ${r.type.value.url} onto ${r.type.value.targetDevice}`;
  if (r?.type.case === 'metropolis') return `Metropolis bundle ${r.type.value.bundleUrl} onto ${r.type.value.rootDevice}`;
  return null;
}

/** The installation state of a machine from its tags, or null when it has neither a request nor a report. */
export function installationState(tags: readonly TagValue[]): InstallationState | null {
  const requested = generation(tags, 'os_installation_request');
  const reported = generation(tags, 'os_installation_report');
  const what = describeRequest(tags);
  // A report of the request's generation, or (the request withdrawn) the last report.
  if (reported !== null && (requested === null || requested === reported)) {
    const ok = tagField(tags, 'os_installation_report', 'os_installation_result')?.value === 'Success';
    const report = message(tags, 'os_installation_report', 'os_installation_report_raw', OSInstallationReportSchema);
    const error = ok ? null : report?.result.case === 'error' ? report.result.value.error : 'the agent reported an error';
    const base = { generation: reported, what: requested === null ? null : what, progress: null };
    return ok ? { ...base, phase: 'done', summary: `generation ${reported} done`, error: null } : { ...base, phase: 'failed', summary: `generation ${reported} failed: ${error}`, error };
  }
  if (requested === null) return null;
  const progressed = generation(tags, 'os_installation_progress');
  const p = progressed === requested ? message(tags, 'os_installation_progress', 'os_installation_progress_raw', OSInstallationProgressSchema) : null;
  if (!p) return { phase: 'pending', generation: requested, what, summary: `generation ${requested} pending: the agent has not started it`, error: null, progress: null };
  const at = tagField(tags, 'os_installation_progress', 'progress_reported_at')?.value;
  const progress = { stage: STAGE_NAMES[p.stage] ?? 'starting', bytesDone: Number(p.bytesDone), bytesTotal: Number(p.bytesTotal), reportedAt: at ? new Date(at) : null };
  const amount = progress.stage === 'running the post-install command' ? '' : ` ${formatBytes(progress.bytesDone)}${progress.bytesTotal ? ` of ${formatBytes(progress.bytesTotal)}` : ''}`;
  return { phase: 'installing', generation: requested, what, summary: `generation ${requested} installing: ${progress.stage}${amount}`, error: null, progress };
}
