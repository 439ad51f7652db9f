import { EditorState } from '@codemirror/state';
import { syntaxTree } from '@codemirror/language';
import { describe, expect, it } from 'vitest';

import { clickhouseSqlSupport } from '../src/sql/language.js';
import { findCellMagic } from '../src/sql/magic.js';

function tokens(source: string): string[] {
  const state = EditorState.create({ doc: source, extensions: [clickhouseSqlSupport()] });
  const out: string[] = [];
  syntaxTree(state).iterate({
    enter: node => {
      if (!node.node.firstChild) {
        out.push(`${node.name}:${source.slice(node.from, node.to)}`);
      }
    }
  });
  return out;
}

describe('ClickHouse SQL', () => {
  it('knows ClickHouse types, functions and comments', () => {
    const found = tokens(
      'SELECT toStartOfDay(ts)::DateTime64(3), `my col` # note\nFROM t FINAL -- more\nPREWHERE x LIMIT 1'
    );
    expect(found).toEqual(
      expect.arrayContaining([
        'Keyword:SELECT',
        'Builtin:toStartOfDay',
        'Type:DateTime64',
        'QuotedIdentifier:`my col`',
        'LineComment:# note',
        'Keyword:FINAL',
        'LineComment:-- more',
        'Keyword:PREWHERE'
      ])
    );
    expect(tokens('SELECT 1 FROM a LEFT JOIN b USING id')).toContain('Keyword:LEFT');
  });

  it('finds a cell magic on the first line', () => {
    expect(findCellMagic('%%migrate --dry-run')).toEqual({ name: 'migrate', nameLength: 9, argumentsLength: 10 });
    expect(findCellMagic('SELECT 1')).toBeNull();
  });
});
