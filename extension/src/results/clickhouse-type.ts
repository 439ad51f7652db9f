/**
 * A parsed ClickHouse type name such as `Nullable(DateTime64(3, 'UTC'))`.
 *
 * Only what the result renderer needs: the name, nested types, string and
 * number parameters, Enum labels and named Tuple elements.
 */
export interface ClickHouseType {
  name: string;
  /** Name of a named Tuple or Nested element, when this type is one. */
  element?: string;
  args: ClickHouseTypeArg[];
}

export type ClickHouseTypeArg =
  | { kind: 'type'; type: ClickHouseType }
  | { kind: 'string'; value: string }
  | { kind: 'number'; value: number }
  | { kind: 'enum'; label: string; value: number };

type Token =
  | { kind: 'word'; text: string }
  | { kind: 'string'; text: string }
  | { kind: 'number'; text: string }
  | { kind: 'punct'; text: string };

function tokenize(text: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  while (i < text.length) {
    const ch = text[i];
    if (/\s/.test(ch)) {
      i++;
    } else if (ch === "'") {
      let value = '';
      i++;
      while (i < text.length && text[i] !== "'") {
        if (text[i] === '\\' && i + 1 < text.length) {
          i++;
        }
        value += text[i++];
      }
      i++;
      tokens.push({ kind: 'string', text: value });
    } else if (ch === '`' || ch === '"') {
      const end = text.indexOf(ch, i + 1);
      const stop = end < 0 ? text.length : end;
      tokens.push({ kind: 'word', text: text.slice(i + 1, stop) });
      i = stop + 1;
    } else if (/[-+\d]/.test(ch)) {
      const match = /^[-+]?\d+(\.\d+)?/.exec(text.slice(i));
      const number = match ? match[0] : ch;
      tokens.push({ kind: match ? 'number' : 'punct', text: number });
      i += number.length;
    } else if (/[A-Za-z_]/.test(ch)) {
      const word = /^[A-Za-z_][\w.]*/.exec(text.slice(i))![0];
      tokens.push({ kind: 'word', text: word });
      i += word.length;
    } else {
      tokens.push({ kind: 'punct', text: ch });
      i++;
    }
  }
  return tokens;
}

class Parser {
  private position = 0;

  constructor(private readonly tokens: Token[]) {}

  parseType(): ClickHouseType {
    const first = this.next();
    if (!first || first.kind !== 'word') {
      throw new Error('type name expected');
    }
    const following = this.peek();
    // `name Type` inside Tuple(…) or Nested(…)
    if (following?.kind === 'word') {
      const type = this.parseType();
      return { ...type, element: first.text };
    }
    const type: ClickHouseType = { name: first.text, args: [] };
    if (this.peekPunct('(')) {
      this.position++;
      while (!this.peekPunct(')')) {
        type.args.push(this.parseArg());
        if (this.peekPunct(',')) {
          this.position++;
        } else if (!this.peekPunct(')')) {
          throw new Error("',' or ')' expected");
        }
      }
      this.position++;
    }
    return type;
  }

  get done(): boolean {
    return this.position >= this.tokens.length;
  }

  private parseArg(): ClickHouseTypeArg {
    const token = this.peek();
    if (token?.kind === 'string') {
      this.position++;
      if (this.peekPunct('=')) {
        this.position++;
        const value = this.next();
        if (value?.kind !== 'number') {
          throw new Error('enum value expected');
        }
        return { kind: 'enum', label: token.text, value: Number(value.text) };
      }
      return { kind: 'string', value: token.text };
    }
    if (token?.kind === 'number') {
      this.position++;
      return { kind: 'number', value: Number(token.text) };
    }
    return { kind: 'type', type: this.parseType() };
  }

  private next(): Token | undefined {
    return this.tokens[this.position++];
  }

  private peek(): Token | undefined {
    return this.tokens[this.position];
  }

  private peekPunct(text: string): boolean {
    const token = this.peek();
    return token?.kind === 'punct' && token.text === text;
  }
}

/**
 * Parses a ClickHouse type name; an unparsable name becomes a bare type with
 * that name, so callers can always fall back to showing the text.
 */
export function parseClickHouseType(text: string): ClickHouseType {
  try {
    const parser = new Parser(tokenize(text));
    const type = parser.parseType();
    if (!parser.done) {
      throw new Error('trailing input');
    }
    return type;
  } catch {
    return { name: text.trim(), args: [] };
  }
}

const WRAPPERS = new Set(['Nullable', 'LowCardinality']);

/** Strips `Nullable(…)` and `LowCardinality(…)`. */
export function baseType(type: ClickHouseType): ClickHouseType {
  let current = type;
  while (WRAPPERS.has(current.name) && current.args[0]?.kind === 'type') {
    current = current.args[0].type;
  }
  return current;
}

/** The nested types of Array, Tuple, Map, Nested …, in order. */
export function typeArgs(type: ClickHouseType): ClickHouseType[] {
  return type.args.flatMap(arg => (arg.kind === 'type' ? [arg.type] : []));
}

export function stringArgs(type: ClickHouseType): string[] {
  return type.args.flatMap(arg => (arg.kind === 'string' ? [arg.value] : []));
}

export function numberArgs(type: ClickHouseType): number[] {
  return type.args.flatMap(arg => (arg.kind === 'number' ? [arg.value] : []));
}

/** Value → label for `Enum8(…)` / `Enum16(…)`. */
export function enumLabels(type: ClickHouseType): Map<number, string> {
  const labels = new Map<number, string>();
  for (const arg of type.args) {
    if (arg.kind === 'enum') {
      labels.set(arg.value, arg.label);
    }
  }
  return labels;
}

const NUMERIC = /^(U?Int(8|16|32|64|128|256)|Float(32|64)|BFloat16|Decimal(32|64|128|256)?)$/;

export function isNumericType(type: ClickHouseType): boolean {
  return NUMERIC.test(baseType(type).name);
}
