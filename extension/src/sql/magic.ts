import { RangeSetBuilder } from '@codemirror/state';
import {
  Decoration,
  type DecorationSet,
  type EditorView,
  ViewPlugin,
  type ViewUpdate
} from '@codemirror/view';

/** The cell magics the clickhouse kernel understands. */
export const CELL_MAGICS = ['migrate', 's3', 'duckdb'] as const;

/** `%%name` at the very start of a cell, followed by optional arguments. */
const MAGIC_LINE = /^(%%[A-Za-z_][\w-]*)(.*)$/;

const magicName = Decoration.mark({ class: 'cm-chlab-magic' });
const knownMagicName = Decoration.mark({ class: 'cm-chlab-magic cm-chlab-magic-known' });
const magicArguments = Decoration.mark({ class: 'cm-chlab-magic-args' });

/**
 * Locates the cell magic on the first line of a document, if any.
 */
export function findCellMagic(
  firstLine: string
): { name: string; nameLength: number; argumentsLength: number } | null {
  const match = MAGIC_LINE.exec(firstLine);
  if (!match) {
    return null;
  }
  return {
    name: match[1].slice(2),
    nameLength: match[1].length,
    argumentsLength: match[2].length
  };
}

function magicDecorations(view: EditorView): DecorationSet {
  const builder = new RangeSetBuilder<Decoration>();
  const line = view.state.doc.line(1);
  const magic = findCellMagic(line.text);
  if (magic) {
    const known = (CELL_MAGICS as readonly string[]).includes(magic.name);
    const nameEnd = line.from + magic.nameLength;
    builder.add(line.from, nameEnd, known ? knownMagicName : magicName);
    if (magic.argumentsLength > 0) {
      builder.add(nameEnd, line.to, magicArguments);
    }
  }
  return builder.finish();
}

/**
 * Highlights a leading `%%migrate`, `%%s3` or `%%duckdb` line, which the SQL
 * grammar would otherwise read as an operator followed by an identifier.
 */
export const cellMagicHighlighter = ViewPlugin.fromClass(
  class {
    decorations: DecorationSet;

    constructor(view: EditorView) {
      this.decorations = magicDecorations(view);
    }

    update(update: ViewUpdate): void {
      if (update.docChanged) {
        this.decorations = magicDecorations(update.view);
      }
    }
  },
  { decorations: plugin => plugin.decorations }
);
