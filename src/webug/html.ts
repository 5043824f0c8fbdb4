// One way to produce HTML: the `html` tagged template escapes every
// interpolation unless it is already SafeHtml, so forgetting to escape is not
// possible by construction. Attribute values must be written in double quotes.

export class SafeHtml {
  readonly value: string;
  constructor(value: string) {
    this.value = value;
  }
  toString(): string {
    return this.value;
  }
}

const ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

/** Escapes text for use in element content and double- or single-quoted attributes. */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ESCAPES[c]!);
}

/** Values an interpolation accepts: nothing, text, numbers, SafeHtml, or arrays of those. */
export type HtmlValue = SafeHtml | string | number | bigint | boolean | null | undefined | readonly HtmlValue[];

function render(v: HtmlValue): string {
  if (v instanceof SafeHtml) return v.value;
  if (v === null || v === undefined || v === false || v === true) return '';
  if (Array.isArray(v)) return v.map(render).join('');
  return escapeHtml(String(v as string | number | bigint));
}

export function html(strings: TemplateStringsArray, ...values: readonly HtmlValue[]): SafeHtml {
  let out = strings[0]!;
  for (let i = 0; i < values.length; i++) out += render(values[i]!) + strings[i + 1]!;
  return new SafeHtml(out);
}

/** Marks trusted, constant markup as safe. Never pass data through this. */
export function unsafeRaw(markup: string): SafeHtml {
  return new SafeHtml(markup);
}

/** JSON for an inline <script>: `<`, `>`, `&` and line separators cannot end the script element. */
export function scriptJson(value: unknown): SafeHtml {
  const json = JSON.stringify(value) ?? 'null';
  return new SafeHtml(json.replace(/[<>&\u2028\u2029]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`));
}

/** A same-origin link: path segments are percent-encoded, empty query values dropped. */
export function href(path: string, query: Record<string, string | readonly string[] | number | undefined> = {}): string {
  if (!path.startsWith('/') || path.startsWith('//')) throw new Error(`href must be an absolute path, got ${path}`);
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(query)) {
    if (v === undefined || v === '') continue;
    if (Array.isArray(v)) for (const item of v as readonly string[]) q.append(k, item);
    else q.append(k, String(v as string | number));
  }
  const s = q.toString();
  return s ? `${path}?${s}` : path;
}
