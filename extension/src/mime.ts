import type { IRenderMime } from '@jupyterlab/rendermime-interfaces';

import { arrowRendererExtension } from './results/plugin.js';

const mimeExtensions: IRenderMime.IExtension[] = [arrowRendererExtension];

export default mimeExtensions;
