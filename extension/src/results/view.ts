import { type Table, makeVector, tableFromIPC } from 'apache-arrow';

import { parseClickHouseType } from './clickhouse-type.js';
import { type ColumnFormat, columnFormat } from './format.js';
import { decodeBase64Payload, readResultMetadata, type ResultMetadata } from './metadata.js';
import { summarizeResult } from './summary.js';

/** Arrow field metadata key that may carry the ClickHouse type name. */
export const CLICKHOUSE_TYPE_FIELD_KEY = 'clickhouse.type';

/** Cells longer than this get their full text as a tooltip. */
const TOOLTIP_THRESHOLD = 60;

interface ColumnView {
  name: string;
  typeLabel: string;
  format: ColumnFormat;
}

function describeColumns(table: Table, metadata: ResultMetadata): ColumnView[] {
  return table.schema.fields.map((field, index) => {
    const declared =
      metadata.columns[index]?.name === field.name
        ? metadata.columns[index]
        : metadata.columns.find(column => column.name === field.name);
    const clickhouseType = declared?.type ?? field.metadata.get(CLICKHOUSE_TYPE_FIELD_KEY);
    return {
      name: field.name,
      typeLabel: clickhouseType ?? String(field.type),
      format: columnFormat(
        field.type,
        clickhouseType ? parseClickHouseType(clickhouseType) : undefined
      )
    };
  });
}

/** Formatted cells of one column, `null` for NULL, at most `limit` of them. */
function columnTexts(table: Table, index: number, format: ColumnFormat, limit: number): (string | null)[] {
  const texts: (string | null)[] = [];
  const vector = table.getChildAt(index);
  if (!vector) {
    return texts;
  }
  for (const data of vector.data) {
    const chunk = makeVector(data);
    for (let row = 0; row < chunk.length && texts.length < limit; row++) {
      texts.push(chunk.isValid(row) ? format.text(chunk, row) : null);
    }
    if (texts.length >= limit) {
      break;
    }
  }
  return texts;
}

function element<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  className: string,
  text?: string
): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  node.className = className;
  if (text !== undefined) {
    node.textContent = text;
  }
  return node;
}

function renderTable(table: Table, columns: ColumnView[], shownRows: number): HTMLTableElement {
  const tableNode = element('table', 'chlab-ResultTable');

  const headRow = tableNode.createTHead().insertRow();
  for (const column of columns) {
    const th = element('th', column.format.numeric ? 'chlab-mod-numeric' : '');
    th.title = `${column.name} ${column.typeLabel}`;
    th.append(
      element('span', 'chlab-ResultTable-columnName', column.name),
      element('span', 'chlab-ResultTable-columnType', column.typeLabel)
    );
    headRow.appendChild(th);
  }

  const cells = columns.map((column, index) => columnTexts(table, index, column.format, shownRows));
  const body = tableNode.createTBody();
  const rows = document.createDocumentFragment();
  for (let row = 0; row < shownRows; row++) {
    const tr = document.createElement('tr');
    columns.forEach((column, index) => {
      const text = cells[index][row];
      const td = document.createElement('td');
      if (text === null || text === undefined) {
        td.className = 'chlab-ResultTable-null';
        td.textContent = 'NULL';
      } else {
        if (column.format.numeric) {
          td.className = 'chlab-mod-numeric';
        }
        td.textContent = text;
        if (text.length > TOOLTIP_THRESHOLD) {
          td.title = text;
        }
      }
      tr.appendChild(td);
    });
    rows.appendChild(tr);
  }
  body.appendChild(rows);
  return tableNode;
}

/**
 * Builds the result view for one Arrow output: the table, a summary line and
 * notes about truncation. Decoding problems become a visible error message.
 */
export function renderArrowResult(data: unknown, rawMetadata: unknown, maxRenderedRows: number): HTMLElement {
  const root = element('div', 'chlab-ArrowResult');
  let table: Table;
  try {
    table = tableFromIPC(decodeBase64Payload(data));
  } catch (reason) {
    const message = reason instanceof Error ? reason.message : String(reason);
    root.appendChild(element('div', 'chlab-ArrowResult-error', `Could not read the Arrow result: ${message}`));
    return root;
  }

  const metadata = readResultMetadata(rawMetadata);
  const shownRows = Math.min(table.numRows, Math.max(0, Math.floor(maxRenderedRows)));
  const columns = describeColumns(table, metadata);
  const summary = summarizeResult(table.numRows, shownRows, metadata);

  const scroller = element('div', 'chlab-ArrowResult-scroller');
  scroller.appendChild(renderTable(table, columns, shownRows));
  root.appendChild(scroller);
  root.appendChild(element('div', 'chlab-ArrowResult-summary', summary.line));
  if (summary.truncationNote) {
    root.appendChild(element('div', 'chlab-ArrowResult-note chlab-mod-warning', summary.truncationNote));
  }
  if (summary.displayNote) {
    root.appendChild(element('div', 'chlab-ArrowResult-note', summary.displayNote));
  }
  return root;
}
