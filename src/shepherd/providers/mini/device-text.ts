// What a text field of the device list may hold: only what PostgreSQL can
// store (no NUL, well-formed Unicode) and what reads as one line, within a
// length that no real entry exceeds.
import { z } from 'zod';

export interface TextRules {
  /** Upper bound in UTF-16 code units (JavaScript's string length). */
  readonly max: number;
  /** Whether a tab is allowed; every other control character (C0, DEL, C1) never is. */
  readonly tab?: boolean;
}

function hex(code: number): string {
  return `U+${code.toString(16).toUpperCase().padStart(4, '0')}`;
}

/** Why `value` breaks `rules`, or undefined when it does not. Never repeats the value. */
export function textProblem(value: string, rules: TextRules): string | undefined {
  if (value.length === 0) return 'must not be empty';
  if (value.length > rules.max) return `must be at most ${rules.max} characters (has ${value.length})`;
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    if (c >= 0xd800 && c <= 0xdbff) {
      const next = value.charCodeAt(i + 1);
      if (next >= 0xdc00 && next <= 0xdfff) {
        i++;
        continue;
      }
      return `contains an unpaired surrogate ${hex(c)} at index ${i}`;
    }
    if (c >= 0xdc00 && c <= 0xdfff) return `contains an unpaired surrogate ${hex(c)} at index ${i}`;
    if (c === 0) return `contains NUL (U+0000) at index ${i}`;
    if ((c < 0x20 && !(rules.tab === true && c === 0x09)) || (c >= 0x7f && c <= 0x9f)) return `contains the control character ${hex(c)} at index ${i}`;
  }
  return undefined;
}

/** A zod string field checked by textProblem. */
export function textField(rules: TextRules): z.ZodType<string> {
  return z.string().superRefine((value, ctx) => {
    const problem = textProblem(value, rules);
    if (problem !== undefined) ctx.addIssue({ code: 'custom', message: problem });
  });
}

const UNPRINTABLE = /[\p{Cc}\p{Cs}\u2028\u2029\ufffd]/gu;

/** `text` with control characters, line separators, U+FFFD and unpaired surrogates escaped as \uXXXX. */
export function printable(text: string): string {
  return text.replace(UNPRINTABLE, (ch) => `\\u${ch.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/** `value` quoted for an error message, unprintable characters escaped and cut to `max` characters. */
export function quoteForError(value: string, max = 64): string {
  return printable(JSON.stringify(value.length > max ? `${value.slice(0, max)}…` : value));
}
