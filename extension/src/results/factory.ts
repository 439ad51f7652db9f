import type { IRenderMime } from '@jupyterlab/rendermime-interfaces';

import type { ResultsSettings } from './settings.js';
import { ArrowResultRenderer } from './widget.js';

export const ARROW_STREAM_MIME = 'application/vnd.apache.arrow.stream';

/** Lower ranks win; text/html is 50, so the table is preferred over the HTML fallback. */
export const ARROW_RENDERER_RANK = 10;

export function createArrowRendererFactory(settings: ResultsSettings): IRenderMime.IRendererFactory {
  return {
    // Only text nodes are created, so untrusted notebooks may use it too.
    safe: true,
    mimeTypes: [ARROW_STREAM_MIME],
    defaultRank: ARROW_RENDERER_RANK,
    createRenderer: options => new ArrowResultRenderer(options.mimeType, settings)
  };
}
