/** Settings of the result renderer, filled by the `chlab-extension:results` plugin. */
export class ResultsSettings {
  static readonly DEFAULT_MAX_RENDERED_ROWS = 1000;

  maxRenderedRows = ResultsSettings.DEFAULT_MAX_RENDERED_ROWS;

  update(values: { maxRenderedRows?: unknown }): void {
    const rows = Number(values.maxRenderedRows);
    this.maxRenderedRows =
      Number.isInteger(rows) && rows > 0 ? rows : ResultsSettings.DEFAULT_MAX_RENDERED_ROWS;
  }
}

/**
 * One instance per page: the MIME renderer (a mime extension, which cannot ask
 * for the settings registry) reads what the settings plugin writes.
 */
export const resultsSettings = new ResultsSettings();
