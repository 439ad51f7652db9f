import type { IRenderMime } from '@jupyterlab/rendermime-interfaces';
import { Widget } from '@lumino/widgets';

import type { ResultsSettings } from './settings.js';
import { ResultView } from './view.js';

/**
 * Renders `application/vnd.apache.arrow.stream` outputs as a virtual grid over the result. JupyterLab calls
 * renderModel again for `update_display_data` (the final display of a streamed result): the grid stays.
 */
export class ArrowResultRenderer extends Widget implements IRenderMime.IRenderer {
  private view: ResultView | undefined;

  constructor(
    private readonly mimeType: string,
    // The grid pages through every row; the old row cap setting no longer applies.
    _settings: ResultsSettings
  ) {
    super();
    this.addClass('chlab-ArrowResultRenderer');
  }

  async renderModel(model: IRenderMime.IMimeModel): Promise<void> {
    if (!this.view) {
      this.view = new ResultView();
      this.node.replaceChildren(this.view.node);
    }
    this.view.render(model.data[this.mimeType], model.metadata[this.mimeType]);
  }

  override dispose(): void {
    this.view?.dispose();
    this.view = undefined;
    super.dispose();
  }
}
