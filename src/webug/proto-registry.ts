// Protobuf columns the UI knows how to read, keyed by `table.column`. A known
// column is shown as a human summary plus the message as protobuf JSON; an
// unknown bytea column as its size and leading bytes.
import { toJson, type DescMessage, type JsonValue } from '@bufbuild/protobuf';
import {
  AgentHardwareReportSchema,
  BlockDevice_Protocol,
  decodeMessage,
  OSInstallationProgress_Stage,
  OSInstallationProgressSchema,
  OSInstallationReportSchema,
  OSInstallationRequestSchema,
  type AgentHardwareReport,
  type OSInstallationProgress,
  type OSInstallationReport,
  type OSInstallationRequest,
} from '../proto/index.ts';

export interface DecodedBytes {
  /** Protobuf message type, when the column is a known message. */
  readonly type?: string;
  readonly size: number;
  /** Readable lines for a human. */
  readonly summary: readonly string[];
  /** The message as protobuf JSON (known types) or null. */
  readonly json: JsonValue | null;
  /** Set when the bytes did not parse as the declared type. */
  readonly error?: string;
  /** Hex of the first bytes, for unknown columns. */
  readonly hexPreview?: string;
}

interface Decoder<D extends DescMessage> {
  readonly schema: D;
  summarize(msg: never): string[];
}

const REGISTRY: Record<string, Decoder<DescMessage>> = {
  'machine_hardware_report.hardware_report_raw': { schema: AgentHardwareReportSchema, summarize: (m: AgentHardwareReport) => summarizeHardware(m) },
  'machine_os_installation_request.os_installation_request_raw': {
    schema: OSInstallationRequestSchema,
    summarize: (m: OSInstallationRequest) => summarizeRequest(m),
  },
  'machine_os_installation_report.os_installation_report_raw': { schema: OSInstallationReportSchema, summarize: (m: OSInstallationReport) => summarizeReport(m) },
  'machine_os_installation_progress.os_installation_progress_raw': { schema: OSInstallationProgressSchema, summarize: (m: OSInstallationProgress) => summarizeProgress(m) },
};

const HEX_PREVIEW_BYTES = 32;

export function decodeColumn(table: string, column: string, bytes: Uint8Array): DecodedBytes {
  const decoder = REGISTRY[`${table}.${column}`];
  if (!decoder) {
    const hex = Buffer.from(bytes.subarray(0, HEX_PREVIEW_BYTES)).toString('hex');
    return { size: bytes.length, summary: [`${bytes.length} bytes`], json: null, hexPreview: bytes.length > HEX_PREVIEW_BYTES ? `${hex}…` : hex };
  }
  try {
    const msg = decodeMessage(decoder.schema, bytes);
    return { type: decoder.schema.typeName, size: bytes.length, summary: decoder.summarize(msg as never), json: toJson(decoder.schema, msg) };
  } catch (err) {
    return { type: decoder.schema.typeName, size: bytes.length, summary: [`undecodable ${decoder.schema.typeName} (${bytes.length} bytes)`], json: null, error: String(err) };
  }
}

export function formatBytes(n: number | bigint): string {
  let v = Number(n);
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'];
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${i === 0 ? v : v.toFixed(v >= 100 ? 0 : 1)} ${units[i]}`;
}

const PROTOCOL_NAMES: Record<number, string> = Object.fromEntries(Object.entries(BlockDevice_Protocol).map(([k, v]) => [v, k]));

const mac = (b: Uint8Array) => [...b].map((x) => x.toString(16).padStart(2, '0')).join(':');
const speed = (bytesPerSecond: bigint) => (bytesPerSecond > 0n ? `${Number(bytesPerSecond * 8n) / 1e9} Gbit/s` : 'speed unknown');

export function summarizeHardware(m: AgentHardwareReport): string[] {
  const lines: string[] = [];
  const n = m.report;
  if (n) {
    const system = [n.manufacturer, n.product].filter(Boolean).join(' ') || 'unknown system';
    lines.push(`System: ${system}${n.serialNumber ? ` (serial ${n.serialNumber})` : ''}`);
    const threads = n.cpu.reduce((s, c) => s + c.hardwareThreads, 0);
    const cores = n.cpu.reduce((s, c) => s + c.cores, 0);
    const models = [...new Set(n.cpu.map((c) => [c.vendor, c.model].filter(Boolean).join(' ')))].join(', ');
    lines.push(`CPU: ${n.cpu.length} socket(s), ${cores} cores, ${threads} threads${models ? ` — ${models}` : ''}`);
    lines.push(`RAM: ${formatBytes(n.memoryInstalledBytes)} installed${n.memoryUsableRatio ? `, ${Math.round(n.memoryUsableRatio * 100)}% usable` : ''}`);
    const total = n.blockDevice.reduce((s, d) => s + d.capacityBytes, 0n);
    lines.push(`Disks: ${n.blockDevice.length}, ${formatBytes(total)} total`);
    for (const d of n.blockDevice) {
      const what = [d.vendor, d.deviceModel].filter(Boolean).join(' ') || 'unknown disk';
      const flags = [PROTOCOL_NAMES[d.protocol] ?? `protocol ${d.protocol}`, d.rotational ? 'rotational' : '', d.criticalWarning ? 'CRITICAL WARNING' : ''].filter(Boolean).join(', ');
      lines.push(`  - ${what}: ${formatBytes(d.capacityBytes)} (${flags})${d.serialNumber ? ` serial ${d.serialNumber}` : ''}`);
    }
    lines.push(`NICs: ${n.networkInterface.length}`);
    for (const i of n.networkInterface) {
      lines.push(`  - ${mac(i.mac)} ${i.driver || 'unknown driver'}, link ${i.linkUp ? 'up' : 'down'}, ${speed(i.currentSpeedBytes)}`);
    }
  } else {
    lines.push('empty report');
  }
  for (const w of m.warning) lines.push(`Warning: ${w}`);
  return lines;
}

function summarizeRequest(m: OSInstallationRequest): string[] {
  const lines = [`Generation ${m.generation}`];
  if (m.type.case === 'metropolis') {
    lines.push(`Metropolis bundle ${m.type.value.bundleUrl || '(no url)'}`, `Root device ${m.type.value.rootDevice || '(unset)'}`);
    lines.push(`Node parameters: ${m.type.value.nodeParameters.length} bytes`);
  } else if (m.type.case === 'image') {
    const v = m.type.value;
    lines.push(`Image ${v.url || '(no url)'}`, `SHA-256 ${Buffer.from(v.sha256).toString('hex') || '(unset)'}`, `Target device ${v.targetDevice || '(unset)'}`);
    if (v.postInstallCommand) lines.push(`Post-install command: ${v.postInstallCommand}`);
  } else {
    lines.push('No installation type set');
  }
  return lines;
}

function summarizeProgress(m: OSInstallationProgress): string[] {
  const stage = Object.entries(OSInstallationProgress_Stage).find(([, v]) => v === m.stage)?.[0] ?? String(m.stage);
  return [`Generation ${m.generation}`, `Stage ${stage}`, `${formatBytes(m.bytesDone)}${m.bytesTotal ? ` of ${formatBytes(m.bytesTotal)}` : ''}`];
}

function summarizeReport(m: OSInstallationReport): string[] {
  const lines = [`Generation ${m.generation}`];
  if (m.result.case === 'success') lines.push('Result: success');
  else if (m.result.case === 'error') lines.push(`Result: error: ${m.result.value.error}`);
  else lines.push('Result: unset');
  return lines;
}
