import type { JupyterFrontEnd, JupyterFrontEndPlugin } from '@jupyterlab/application';
import type { IRenderMime } from '@jupyterlab/rendermime-interfaces';
import { ISettingRegistry } from '@jupyterlab/settingregistry';

import { ARROW_RENDERER_RANK, createArrowRendererFactory } from './factory.js';
import { resultsSettings } from './settings.js';

/** The MIME renderer for Arrow results (registered as a mime extension). */
export const arrowRendererExtension: IRenderMime.IExtension = {
  id: 'chlab-extension:arrow-renderer',
  description: 'Shows ClickHouse results sent as Apache Arrow streams as a table.',
  rendererFactory: createArrowRendererFactory(resultsSettings),
  rank: ARROW_RENDERER_RANK,
  dataType: 'string'
};

/** Applies the `chlab-extension:results` settings to the Arrow renderer. */
export const resultsSettingsPlugin: JupyterFrontEndPlugin<void> = {
  id: 'chlab-extension:results',
  description: 'Settings for ClickHouse result tables.',
  autoStart: true,
  optional: [ISettingRegistry],
  activate: (_app: JupyterFrontEnd, registry: ISettingRegistry | null): void => {
    if (!registry) {
      return;
    }
    registry
      .load(resultsSettingsPlugin.id)
      .then(settings => {
        const apply = (): void => resultsSettings.update(settings.composite);
        apply();
        settings.changed.connect(apply);
      })
      .catch(reason => {
        console.warn('chlab: could not load result settings, using defaults', reason);
      });
  }
};
