import { RESULT_MEMORY_BUDGET } from './registry.js';

/** Settings of the result renderer, filled by the `chlab-extension:results` plugin. */
export class ResultsSettings {
  static readonly DEFAULT_MAX_RENDERED_ROWS = 1000;
  /** MiB of Arrow held in DuckDB-WASM before the oldest results are dropped. */
  static readonly DEFAULT_MEMORY_BUDGET_MIB = RESULT_MEMORY_BUDGET / (1024 * 1024);

  maxRenderedRows = ResultsSettings.DEFAULT_MAX_RENDERED_ROWS;
  memoryBudgetMiB = ResultsSettings.DEFAULT_MEMORY_BUDGET_MIB;
  /** Ask for ZSTD-compressed result batches when the results comm opens (./compression.ts). */
  compressResults = true;

  update(values: { maxRenderedRows?: unknown; resultsMemoryBudget?: unknown; compressResults?: unknown }): void {
    this.compressResults = values.compressResults !== false;
    const rows = Number(values.maxRenderedRows);
    this.maxRenderedRows =
      Number.isInteger(rows) && rows > 0 ? rows : ResultsSettings.DEFAULT_MAX_RENDERED_ROWS;
    const budget = Number(values.resultsMemoryBudget);
    this.memoryBudgetMiB = Number.isInteger(budget) && budget > 0 ? budget : ResultsSettings.DEFAULT_MEMORY_BUDGET_MIB;
  }

  /** The memory budget in bytes. */
  get memoryBudgetBytes(): number {
    return this.memoryBudgetMiB * 1024 * 1024;
  }
}

/**
 * One instance per page: the MIME renderer (a mime extension, which cannot ask
 * for the settings registry) reads what the settings plugin writes.
 */
export const resultsSettings = new ResultsSettings();
