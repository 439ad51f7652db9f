// ClickHouse type text, enough to follow a column's type into Array / Map / Tuple (the text fallbacks and
// the runner's DuckDB loading use it).

/** `Nullable(LowCardinality(String))` → `String`. */
export function unwrapType(type: string): string {
  const m = /^(?:Nullable|LowCardinality)\((.*)\)$/s.exec(type.trim());
  return m ? unwrapType(m[1]!) : type.trim();
}

/** Splits `a, b(c, d), 'e,f'` at its top-level commas. */
export function splitTopLevel(text: string, separator: string): string[] {
  const parts: string[] = [];
  let depth = 0;
  let quote: string | undefined;
  let start = 0;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i]!;
    if (quote) {
      if (ch === '\\') i++;
      else if (ch === quote) quote = undefined;
    } else if (ch === "'" || ch === '`' || ch === '"') quote = ch;
    else if (ch === '(') depth++;
    else if (ch === ')') depth--;
    else if (depth === 0 && text.startsWith(separator, i)) {
      parts.push(text.slice(start, i).trim());
      start = i + separator.length;
    }
  }
  parts.push(text.slice(start).trim());
  return parts.filter(Boolean);
}

/** The outer name of a type: `Array` for `Array(UInt8)`, `DateTime` for `DateTime('UTC')` (wrappers removed). */
export function typeName(type: string): string {
  return /^(\w+)/.exec(unwrapType(type))?.[1] ?? '';
}

/** The element types of `Array(T)`, `Map(K, V)`, `Tuple(T1, name T2)`, `Nested(…)`. */
export function typeArgs(type: string): string[] {
  const m = /^(\w+)\((.*)\)$/s.exec(unwrapType(type));
  if (!m) return [];
  const args = splitTopLevel(m[2]!, ',');
  if (m[1] !== 'Tuple' && m[1] !== 'Nested') return args;
  // A named element is `name Type`: a space outside parentheses and quotes.
  return args.map((arg) => {
    const words = splitTopLevel(arg, ' ');
    return words.length > 1 ? words.slice(1).join(' ') : arg;
  });
}
