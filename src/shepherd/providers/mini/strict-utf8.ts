// Strict UTF-8 for device lists: a byte sequence that is not UTF-8 is refused,
// never replaced with U+FFFD (which would store an ID nobody wrote).

/** Thrown by decodeStrictUtf8; `offset` is where the first ill-formed sequence starts. */
export class InvalidUtf8Error extends Error {
  override name = 'InvalidUtf8Error';
  readonly offset: number;
  constructor(offset: number) {
    super(`invalid UTF-8 at byte offset ${offset}`);
    this.offset = offset;
  }
}

const decoder = new TextDecoder('utf-8', { fatal: true });

/** Decodes UTF-8 (a leading byte order mark is dropped). @throws InvalidUtf8Error */
export function decodeStrictUtf8(bytes: Uint8Array): string {
  try {
    return decoder.decode(bytes);
  } catch {
    throw new InvalidUtf8Error(firstInvalidUtf8Offset(bytes));
  }
}

// The second byte's range for each lead byte (Unicode table 3-7); later
// continuation bytes are always 0x80..0xBF.
function sequence(lead: number): { length: number; low: number; high: number } | undefined {
  if (lead < 0x80) return { length: 1, low: 0, high: 0 };
  if (lead >= 0xc2 && lead <= 0xdf) return { length: 2, low: 0x80, high: 0xbf };
  if (lead === 0xe0) return { length: 3, low: 0xa0, high: 0xbf };
  if (lead === 0xed) return { length: 3, low: 0x80, high: 0x9f }; // no surrogates
  if (lead >= 0xe1 && lead <= 0xef) return { length: 3, low: 0x80, high: 0xbf };
  if (lead === 0xf0) return { length: 4, low: 0x90, high: 0xbf };
  if (lead >= 0xf1 && lead <= 0xf3) return { length: 4, low: 0x80, high: 0xbf };
  if (lead === 0xf4) return { length: 4, low: 0x80, high: 0x8f }; // at most U+10FFFF
  return undefined;
}

/** Offset of the first byte of the first ill-formed sequence, or -1 when `bytes` is UTF-8. */
export function firstInvalidUtf8Offset(bytes: Uint8Array): number {
  let i = 0;
  while (i < bytes.length) {
    const seq = sequence(bytes[i]!);
    if (seq === undefined) return i;
    if (seq.length > 1) {
      if (i + seq.length > bytes.length) return i;
      const second = bytes[i + 1]!;
      if (second < seq.low || second > seq.high) return i;
      for (let k = 2; k < seq.length; k++) {
        const b = bytes[i + k]!;
        if (b < 0x80 || b > 0xbf) return i;
      }
    }
    i += seq.length;
  }
  return -1;
}
