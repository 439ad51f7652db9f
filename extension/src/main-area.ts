import type { JupyterFrontEnd } from '@jupyterlab/application';
import { MainAreaWidget, type WidgetTracker } from '@jupyterlab/apputils';
import type { LabIcon } from '@jupyterlab/ui-components';
import type { Widget } from '@lumino/widgets';

/** A panel that exists once: activated (and reloaded) when open, else created in the main area. */
export function openSingletonPanel<T extends Widget & { load(): Promise<void> }>(
  app: JupyterFrontEnd,
  tracker: WidgetTracker<MainAreaWidget<T>>,
  options: { id: string; label: string; icon: LabIcon; create: () => T }
): MainAreaWidget<T> {
  const existing = tracker.find(() => true);
  if (existing) {
    app.shell.activateById(existing.id);
    void existing.content.load();
    return existing;
  }
  const content = options.create();
  const widget = new MainAreaWidget({ content });
  widget.id = options.id;
  widget.title.label = options.label;
  widget.title.icon = options.icon;
  widget.title.closable = true;
  void tracker.add(widget);
  app.shell.add(widget, 'main');
  app.shell.activateById(widget.id);
  void content.load();
  return widget;
}
