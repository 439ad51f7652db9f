import { SQLDialect } from '@codemirror/lang-sql';

import { CLICKHOUSE_BUILTINS, CLICKHOUSE_KEYWORDS, CLICKHOUSE_TYPES } from './keywords.js';

function lowerCased(words: readonly string[]): Set<string> {
  return new Set(words.map(word => word.toLowerCase()));
}

function wordList(words: Set<string>, ...taken: Set<string>[]): string {
  return [...words].filter(word => !taken.some(set => set.has(word))).join(' ');
}

// A word in several lists keeps the first role: `LEFT JOIN` and `FORMAT JSON`
// read as keywords, `Map(String, UInt8)` as a type.
const keywords = lowerCased(CLICKHOUSE_KEYWORDS);
const types = lowerCased(CLICKHOUSE_TYPES);
const builtins = lowerCased(CLICKHOUSE_BUILTINS);

/**
 * ClickHouse SQL for `@codemirror/lang-sql`.
 *
 * - `--`, `#` and `/* *\/` comments
 * - backtick and double-quoted identifiers, single-quoted strings with
 *   backslash escapes, `$tag$ … $tag$` heredocs
 * - `{name:Type}` query parameters tokenize as braces around plain words
 */
export const ClickHouseDialect = SQLDialect.define({
  keywords: wordList(keywords),
  types: wordList(types, keywords),
  builtin: wordList(builtins, keywords, types),
  hashComments: true,
  backslashEscapes: true,
  doubleQuotedStrings: false,
  doubleDollarQuotedStrings: true,
  identifierQuotes: '`"',
  caseInsensitiveIdentifiers: false,
  unquotedBitLiterals: true,
  specialVar: '?'
});
