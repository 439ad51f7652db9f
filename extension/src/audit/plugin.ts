import { ILayoutRestorer, type JupyterFrontEnd, type JupyterFrontEndPlugin } from '@jupyterlab/application';
import { ICommandPalette, type MainAreaWidget, WidgetTracker } from '@jupyterlab/apputils';
import { ILauncher } from '@jupyterlab/launcher';
import { ITranslator, nullTranslator } from '@jupyterlab/translation';

import { clickhouseIcon } from '../launcher/icon.js';
import { openSingletonPanel } from '../main-area.js';
import { mayReadAudit } from './api.js';
import { AuditLogWidget } from './panel.js';

export const AUDIT_LOG_COMMAND = 'chlab:audit-log';

/** "Audit log" for admins: offered in the launcher and palette only when the server lets this user read it. */
export const auditLogPlugin: JupyterFrontEndPlugin<void> = {
  id: 'chlab-extension:audit-log',
  description: 'Shows the audit log (queries, DDL, migrations, imports, logins) to admins.',
  autoStart: true,
  optional: [ICommandPalette, ILauncher, ILayoutRestorer, ITranslator],
  activate: (app: JupyterFrontEnd, palette: ICommandPalette | null, launcher: ILauncher | null, restorer: ILayoutRestorer | null, translator: ITranslator | null): void => {
    const trans = (translator ?? nullTranslator).load('chlab');
    const tracker = new WidgetTracker<MainAreaWidget<AuditLogWidget>>({ namespace: 'chlab-audit-log' });

    app.commands.addCommand(AUDIT_LOG_COMMAND, {
      label: trans.__('Audit log'),
      caption: trans.__('Who ran what, from where, and how it ended'),
      icon: args => (args['isPalette'] ? undefined : clickhouseIcon),
      execute: () =>
        openSingletonPanel(app, tracker, { id: 'chlab-audit-log-panel', label: trans.__('Audit log'), icon: clickhouseIcon, create: () => new AuditLogWidget() })
    });

    void restorer?.restore(tracker, { command: AUDIT_LOG_COMMAND, name: () => 'audit-log' });
    void mayReadAudit().then(
      allowed => {
        if (allowed) {
          palette?.addItem({ command: AUDIT_LOG_COMMAND, category: trans.__('ClickHouse'), args: { isPalette: true } });
          launcher?.add({ command: AUDIT_LOG_COMMAND, category: trans.__('ClickHouse'), categoryRank: -1, rank: 30 });
        }
      },
      () => undefined
    );
  }
};
