// The `--config FILE` format: one `key = value` per line, where key is a
// flag's name without the dashes. `#` starts a comment line; blank lines are
// ignored. The value runs to the end of the line (surrounding spaces trimmed);
// to keep spaces or a leading `#`, write it as a JSON string ("  like this").
// A key may appear once, unless its flag takes several values. Example:
//
//   # /etc/bmaas/shepherd.conf
//   bmdb-url-file = /etc/bmaas/bmdb-url
//   provider = mini
//   initializer-loop-parallelism = 50
import { readFileSync } from 'node:fs';

/** Thrown for an unreadable config file or a malformed line; the message names the file and line. */
export class ConfigFileError extends Error {
  override name = 'ConfigFileError';
}

export interface ConfigEntry {
  readonly values: string[];
  /** `FILE:LINE` of the (last) line that set it, for error messages. */
  readonly where: string;
}

export interface ConfigKey {
  readonly name: string;
  readonly multiple: boolean;
}

/** Reads and checks a config file against the keys the command knows. */
export function readConfigFile(file: string, keys: readonly ConfigKey[]): Map<string, ConfigEntry> {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new ConfigFileError(`cannot read config file ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, { cause: err });
  }
  return parseConfigText(text, file, keys);
}

export function parseConfigText(text: string, file: string, keys: readonly ConfigKey[]): Map<string, ConfigEntry> {
  const known = new Map(keys.map((k) => [k.name, k]));
  const entries = new Map<string, ConfigEntry>();
  text.split(/\r?\n/).forEach((raw, i) => {
    const where = `${file}:${i + 1}`;
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) return;
    const eq = line.indexOf('=');
    if (eq < 0) throw new ConfigFileError(`${where}: expected key = value, got ${JSON.stringify(line.slice(0, 40))}`);
    const key = line.slice(0, eq).trim().replace(/^--/, '');
    const spec = known.get(key);
    if (!spec) throw new ConfigFileError(`${where}: unknown key ${JSON.stringify(key)}`);
    let value = line.slice(eq + 1).trim();
    if (value.startsWith('"')) {
      try {
        value = JSON.parse(value) as string;
      } catch {
        throw new ConfigFileError(`${where}: bad quoted value for ${key}`);
      }
      if (typeof value !== 'string') throw new ConfigFileError(`${where}: bad quoted value for ${key}`);
    }
    const existing = entries.get(key);
    if (existing && !spec.multiple) throw new ConfigFileError(`${where}: ${key} is set twice (also at ${existing.where})`);
    entries.set(key, { values: [...(existing?.values ?? []), value], where });
  });
  return entries;
}
