import type { JupyterFrontEnd } from '@jupyterlab/application';

/** The kernel spec served by the kernel-proxy. */
export const CLICKHOUSE_KERNEL_NAME = 'clickhouse';

interface OpenedDocument {
  isUntitled?: boolean;
}

/**
 * Creates an untitled notebook in `directory` and opens it on the ClickHouse
 * kernel, the way `notebook:create-new` does for a chosen kernel.
 */
export async function createClickHouseNotebook(
  commands: JupyterFrontEnd['commands'],
  directory: string
): Promise<unknown> {
  const model = (await commands.execute('docmanager:new-untitled', {
    path: directory,
    type: 'notebook'
  })) as { path: string } | undefined;
  if (!model) {
    return undefined;
  }
  const widget = (await commands.execute('docmanager:open', {
    path: model.path,
    factory: 'Notebook',
    kernel: { name: CLICKHOUSE_KERNEL_NAME }
  })) as OpenedDocument | undefined;
  if (widget) {
    // Like a notebook made from File › New: the first save offers a rename.
    widget.isUntitled = true;
  }
  return widget;
}
