import type { IRenderMime } from '@jupyterlab/rendermime-interfaces';
import { Widget } from '@lumino/widgets';

import type { ResultsSettings } from './settings.js';
import { renderArrowResult } from './view.js';

/** Renders `application/vnd.apache.arrow.stream` outputs as an HTML table. */
export class ArrowResultRenderer extends Widget implements IRenderMime.IRenderer {
  constructor(
    private readonly mimeType: string,
    private readonly settings: ResultsSettings
  ) {
    super();
    this.addClass('chlab-ArrowResultRenderer');
  }

  async renderModel(model: IRenderMime.IMimeModel): Promise<void> {
    const view = renderArrowResult(
      model.data[this.mimeType],
      model.metadata[this.mimeType],
      this.settings.maxRenderedRows
    );
    this.node.replaceChildren(view);
  }
}
