import { sql } from '@codemirror/lang-sql';
import { HighlightStyle, LanguageSupport, syntaxHighlighting } from '@codemirror/language';
import type { IEditorLanguage } from '@jupyterlab/codemirror';
import { tags } from '@lezer/highlight';

import { ClickHouseDialect } from './dialect.js';
import { cellMagicHighlighter } from './magic.js';

/** Matches the kernel's `language_info.mimetype` and `codemirror_mode`. */
export const CLICKHOUSE_SQL_MIME = 'text/x-clickhouse-sql';

export const CLICKHOUSE_SQL_NAME = 'ClickHouse SQL';

/**
 * JupyterLab's highlight style leaves SQL type names and builtins uncoloured;
 * give them theme colours so `UInt64` and `toStartOfDay` stand out.
 */
const clickhouseHighlightStyle = HighlightStyle.define([
  { tag: tags.typeName, color: 'var(--jp-mirror-editor-variable-2-color)' },
  { tag: tags.standard(tags.name), color: 'var(--jp-mirror-editor-builtin-color)' },
  { tag: tags.special(tags.name), color: 'var(--jp-mirror-editor-variable-2-color)' }
]);

export function clickhouseSqlSupport(): LanguageSupport {
  const base = sql({ dialect: ClickHouseDialect, upperCaseKeywords: true });
  return new LanguageSupport(base.language, [
    base.support,
    syntaxHighlighting(clickhouseHighlightStyle),
    cellMagicHighlighter
  ]);
}

export function clickhouseSqlLanguage(displayName = CLICKHOUSE_SQL_NAME): IEditorLanguage {
  return {
    name: CLICKHOUSE_SQL_NAME,
    displayName,
    alias: ['clickhouse', 'clickhouse-sql', 'chsql'],
    mime: CLICKHOUSE_SQL_MIME,
    extensions: ['chsql'],
    load: async () => clickhouseSqlSupport()
  };
}
