/** Conversions for values ClickHouse sends as raw bytes or plain integers. */

/** Reads a little-endian integer of any width (Int128, UInt256, Decimal …). */
export function littleEndianToBigInt(bytes: Uint8Array, signed: boolean): bigint {
  let value = 0n;
  for (let i = bytes.length - 1; i >= 0; i--) {
    value = (value << 8n) | BigInt(bytes[i]);
  }
  if (signed && bytes.length > 0 && bytes[bytes.length - 1] & 0x80) {
    value -= 1n << BigInt(bytes.length * 8);
  }
  return value;
}

/** Writes `value / 10^scale` exactly, e.g. (-5n, 2) → "-0.05". */
export function scaledDecimalText(value: bigint, scale: number): string {
  if (scale <= 0) {
    return value.toString();
  }
  const negative = value < 0n;
  const digits = (negative ? -value : value).toString().padStart(scale + 1, '0');
  const text = `${digits.slice(0, -scale)}.${digits.slice(-scale)}`;
  return negative ? `-${text}` : text;
}

function hex(bytes: Uint8Array): string {
  return Array.from(bytes, byte => byte.toString(16).padStart(2, '0')).join('');
}

/**
 * ClickHouse stores a UUID as two little-endian 64-bit halves, so each half
 * is byte-reversed relative to the textual form.
 */
export function clickhouseUuidText(bytes: Uint8Array): string {
  if (bytes.length !== 16) {
    return hex(bytes);
  }
  const ordered = hex(
    Uint8Array.from([...bytes.subarray(0, 8).reverse(), ...bytes.subarray(8, 16).reverse()])
  );
  return [
    ordered.slice(0, 8),
    ordered.slice(8, 12),
    ordered.slice(12, 16),
    ordered.slice(16, 20),
    ordered.slice(20)
  ].join('-');
}

export function ipv4Text(value: number | bigint): string {
  const n = Number(value) >>> 0;
  return [n >>> 24, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff].join('.');
}

/** RFC 5952 text for 16 bytes in network order (IPv4-mapped shown dotted). */
export function ipv6Text(bytes: Uint8Array): string {
  if (bytes.length !== 16) {
    return hex(bytes);
  }
  const groups: number[] = [];
  for (let i = 0; i < 16; i += 2) {
    groups.push((bytes[i] << 8) | bytes[i + 1]);
  }
  if (groups.slice(0, 5).every(g => g === 0) && groups[5] === 0xffff) {
    return `::ffff:${bytes.subarray(12).join('.')}`;
  }
  let bestStart = -1;
  let bestLength = 0;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) {
      j++;
    }
    if (j - i > bestLength && j - i > 1) {
      bestStart = i;
      bestLength = j - i;
    }
    i = j;
  }
  const text = groups.map(g => g.toString(16));
  if (bestStart < 0) {
    return text.join(':');
  }
  const head = text.slice(0, bestStart).join(':');
  const tail = text.slice(bestStart + bestLength).join(':');
  return `${head}::${tail}`;
}

const utf8 = new TextDecoder('utf-8', { fatal: false });

export function utf8Text(bytes: Uint8Array): string {
  return utf8.decode(bytes);
}

/** FixedString(N) pads with zero bytes; show the text without them. */
export function fixedStringText(bytes: Uint8Array): string {
  let end = bytes.length;
  while (end > 0 && bytes[end - 1] === 0) {
    end--;
  }
  return utf8Text(bytes.subarray(0, end));
}
