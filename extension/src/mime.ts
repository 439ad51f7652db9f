import type { IRenderMime } from '@jupyterlab/rendermime-interfaces';

import { migrationRendererExtension } from './migration/renderers.js';
import { arrowRendererExtension } from './results/plugin.js';

const mimeExtensions: IRenderMime.IExtension[] = [arrowRendererExtension, migrationRendererExtension];

export default mimeExtensions;
