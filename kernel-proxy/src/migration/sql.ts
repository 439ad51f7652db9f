// Quoting for the two SQL dialects a migration writes. Values are bound wherever the protocol allows it
// (PostgreSQL $n parameters, ClickHouse {name:Type} parameters); what must be inlined goes through these.
import pg from 'pg';

/** ClickHouse identifier: always backtick-quoted, backslash and backtick escaped. */
export function chIdent(name: string): string {
  if (name.includes('\0')) throw new MigrationError('identifier', 'identifiers must not contain NUL characters');
  return '`' + name.replace(/\\/g, '\\\\').replace(/`/g, '\\`') + '`';
}

/** ClickHouse string literal. */
export function chString(value: string): string {
  return "'" + value.replace(/\\/g, '\\\\').replace(/'/g, "\\'") + "'";
}

/** `db`.`table` */
export function chTable(database: string | undefined, table: string): string {
  return database ? `${chIdent(database)}.${chIdent(table)}` : chIdent(table);
}

/** PostgreSQL identifier (pg's escapeIdentifier: doubles quotes, always quoted). */
export function pgIdent(name: string): string {
  if (name.includes('\0')) throw new MigrationError('identifier', 'identifiers must not contain NUL characters');
  return pg.escapeIdentifier(name);
}

export function pgTable(schema: string, table: string): string {
  return `${pgIdent(schema)}.${pgIdent(table)}`;
}

/** PostgreSQL string literal (pg's escapeLiteral: E'' form when backslashes occur). */
export function pgString(value: string): string {
  return pg.escapeLiteral(value);
}

/** An error a user can act on; `field` names the spec field or request field at fault. */
export class MigrationError extends Error {
  constructor(
    readonly field: string,
    message: string,
    readonly status = 400,
  ) {
    super(field ? `${field}: ${message}` : message);
    this.name = 'MigrationError';
  }

  /** A fault in the spec (the cell source or the REST body) rather than in the data or the servers. */
  get inSpec(): boolean {
    return this.field === '' || /^(spec|source|target|connection|description|options|columns|%%migrate)/.test(this.field);
  }
}

/** Replaces every occurrence of each secret (passwords) in a message. */
export function redact(message: string, secrets: readonly (string | undefined)[]): string {
  let out = message;
  for (const secret of secrets) {
    if (secret && secret.length >= 1) out = out.split(secret).join('***');
  }
  return out.replace(/(password\s*=\s*)('[^']*'|\S+)/gi, '$1***').replace(/(postgres(?:ql)?:\/\/[^:/@\s]*:)[^@\s]*@/gi, '$1***@');
}

/**
 * Checks that a ClickHouse expression written by a user (transform, partition_by) is one expression:
 * no statement separators or comments, balanced brackets and quotes. ClickHouse then type-checks it.
 */
export function checkExpression(field: string, expression: string): string {
  const text = expression.trim();
  if (!text) throw new MigrationError(field, 'expression is empty');
  if (text.length > 10_000) throw new MigrationError(field, 'expression is longer than 10000 characters');
  const stack: string[] = [];
  const pairs: Record<string, string> = { ')': '(', ']': '[', '}': '{' };
  for (let i = 0; i < text.length; i++) {
    const ch = text[i]!;
    if (ch === "'" || ch === '"' || ch === '`') {
      let j = i + 1;
      for (; j < text.length; j++) {
        if (text[j] === '\\') j++;
        else if (text[j] === ch) {
          if (text[j + 1] === ch) j++;
          else break;
        }
      }
      if (j >= text.length) throw new MigrationError(field, `unterminated ${ch} quote in expression`);
      i = j;
    } else if (ch === ';') {
      throw new MigrationError(field, 'expression must not contain ";" (one expression, not statements)');
    } else if ((ch === '-' && text[i + 1] === '-') || (ch === '/' && text[i + 1] === '*') || ch === '#') {
      throw new MigrationError(field, 'expression must not contain comments');
    } else if (ch === '(' || ch === '[' || ch === '{') {
      stack.push(ch);
    } else if (ch === ')' || ch === ']' || ch === '}') {
      if (stack.pop() !== pairs[ch]) throw new MigrationError(field, `unbalanced "${ch}" in expression`);
    }
  }
  if (stack.length) throw new MigrationError(field, `unclosed "${stack[stack.length - 1]}" in expression`);
  if (/\b(FORMAT|SETTINGS|INTO\s+OUTFILE)\b/i.test(text.replace(/'(?:[^'\\]|\\.)*'/g, "''").replace(/`(?:[^`\\]|\\.)*`/g, '``'))) {
    throw new MigrationError(field, 'expression must not contain FORMAT, SETTINGS or INTO OUTFILE clauses');
  }
  return text;
}

/** Destination (ClickHouse) column and table names: letters, digits, underscore; a clear message otherwise. */
const NAME = /^[\p{L}_][\p{L}\p{N}_]*$/u;
export function checkName(field: string, name: string): string {
  if (!name) throw new MigrationError(field, 'name is empty');
  if (name.length > 200) throw new MigrationError(field, 'name is longer than 200 characters');
  if (!NAME.test(name)) throw new MigrationError(field, `"${truncate(name, 80)}" is not a valid name (letters, digits and _; not starting with a digit)`);
  return name;
}

/** A PostgreSQL identifier taken from the user: anything PostgreSQL allows in a quoted name. */
export function checkPgName(field: string, name: string): string {
  if (!name) throw new MigrationError(field, 'name is empty');
  if (name.includes('\0')) throw new MigrationError(field, 'name must not contain NUL characters');
  if (Buffer.byteLength(name) > 63) throw new MigrationError(field, `"${truncate(name, 80)}" is longer than PostgreSQL's 63-byte identifier limit`);
  return name;
}

export function truncate(text: string, max: number): string {
  return text.length > max ? `${text.slice(0, max)}…` : text;
}

/** Splits `a.b` into parts, honouring double quotes (`"my schema"."My Table"`). */
export function splitQualified(field: string, text: string, quote = '"'): string[] {
  const parts: string[] = [];
  let i = 0;
  const s = text.trim();
  while (i <= s.length) {
    if (s[i] === quote) {
      let j = i + 1;
      let part = '';
      for (; j < s.length; j++) {
        if (s[j] === quote) {
          if (s[j + 1] === quote) {
            part += quote;
            j++;
          } else break;
        } else part += s[j];
      }
      if (j >= s.length) throw new MigrationError(field, `unterminated ${quote} in "${truncate(s, 80)}"`);
      parts.push(part);
      i = j + 1;
      if (i < s.length && s[i] !== '.') throw new MigrationError(field, `unexpected text after quoted name in "${truncate(s, 80)}"`);
      i++;
    } else {
      const dot = s.indexOf('.', i);
      const end = dot === -1 ? s.length : dot;
      parts.push(s.slice(i, end));
      i = end + 1;
    }
  }
  if (parts.length === 0 || parts.some((p) => p === '')) throw new MigrationError(field, `"${truncate(s, 80)}" is not a valid [schema.]table name`);
  return parts;
}
