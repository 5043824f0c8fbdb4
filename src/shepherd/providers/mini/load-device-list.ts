// Where a device list comes from: a file or an HTTP(S) URL, read as bytes
// (so that parseDeviceList sees any invalid UTF-8) and bounded in size.
import { open } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { DeviceListError, parseDeviceList, type Device } from './device-list.ts';

export const DEFAULT_FETCH_TIMEOUT_MS = 10_000;
/** A device list larger than this is refused (about 200,000 entries with BMCs). */
export const MAX_DEVICE_LIST_BYTES = 64 * 1024 * 1024;

const TOO_LARGE = `larger than ${MAX_DEVICE_LIST_BYTES} bytes`;

async function fetchBytes(url: string, signal: AbortSignal): Promise<Uint8Array> {
  const response = await fetch(url, { signal });
  if (!response.ok) throw new Error(`HTTP ${response.status} ${response.statusText}`);
  if (Number(response.headers.get('content-length') ?? 0) > MAX_DEVICE_LIST_BYTES) throw new Error(TOO_LARGE);
  const chunks: Uint8Array[] = [];
  let total = 0;
  for await (const chunk of response.body ?? []) {
    total += chunk.length;
    if (total > MAX_DEVICE_LIST_BYTES) throw new Error(TOO_LARGE);
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
}

async function readBytes(path: string, signal: AbortSignal | undefined): Promise<Uint8Array> {
  const handle = await open(path, 'r');
  try {
    if ((await handle.stat()).size > MAX_DEVICE_LIST_BYTES) throw new Error(TOO_LARGE);
    return await handle.readFile({ signal });
  } finally {
    await handle.close();
  }
}

function filePath(url: string): string {
  if (/^file:/i.test(url)) {
    try {
      return fileURLToPath(url);
    } catch (err) {
      throw new DeviceListError(`invalid device list URL ${url}: ${(err as Error).message}`, { cause: err });
    }
  }
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(url)) throw new DeviceListError(`device list URL ${url} must be file://, http:// or https://`);
  return url;
}

/**
 * Reads the list from a `file://` or `http(s)://` URL (a plain path is taken
 * as a file) and validates it.
 * @throws DeviceListError when it cannot be read or is invalid.
 */
export async function loadDeviceList(url: string, options: { signal?: AbortSignal; timeoutMs?: number } = {}): Promise<Device[]> {
  const { signal } = options;
  let bytes: Uint8Array;
  if (/^https?:\/\//i.test(url)) {
    const timeoutMs = options.timeoutMs ?? DEFAULT_FETCH_TIMEOUT_MS;
    const timeout = AbortSignal.timeout(timeoutMs);
    try {
      bytes = await fetchBytes(url, signal ? AbortSignal.any([signal, timeout]) : timeout);
    } catch (err) {
      if (signal?.aborted) throw err;
      const why = timeout.aborted ? `no answer within ${timeoutMs} ms` : (err as Error).message;
      throw new DeviceListError(`could not fetch device list ${url}: ${why}`, { cause: err });
    }
  } else {
    const path = filePath(url);
    try {
      bytes = await readBytes(path, signal);
    } catch (err) {
      if (signal?.aborted) throw err;
      throw new DeviceListError(`could not read device list ${url}: ${(err as Error).message}`, { cause: err });
    }
  }
  return parseDeviceList(bytes, url);
}
