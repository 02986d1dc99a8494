import { existsSync } from 'node:fs';
import { relative, sep } from 'node:path';
import type { ServicePlan } from '../config/plan.js';
import { fullCode } from '../errors.js';
import { internalError, type EventBus } from '../events.js';
import { ContentTracker } from '../watch/content.js';
import { Debouncer } from '../watch/debounce.js';
import { createFilter, isEditorTemp } from '../watch/filter.js';
import { watcherFor } from '../watch/factory.js';
import type { WatchHandle } from '../watch/watcher.js';

/**
 * A service's plugin directory (`plugins: { dir }`), watched by airlock for the app's
 * plugin host: the directory is no rebuild trigger, and each save that touches a plugin
 * becomes one `plugin.changed` event (after the watch debounce, so an editor's temp file
 * and rename, or a directory made before its files, is one; editor temp files, and a
 * rewrite with the same content, are no change, as in the service's own watch). The host
 * (@airlock/runtime/plugins) finds AIRLOCK_PLUGINS_WATCHED and AIRLOCK_CONTROL_SOCKET in
 * its environment, subscribes to those events on the control socket, and does not watch
 * the directory itself; without airlock (or when the socket goes) it watches on its own.
 *
 * @example
 *   const notices = new PluginNotices(() => plan, bus);
 *   await notices.start(true, '/home/me/shop/.airlock/control.sock');
 *   notices.env(); // { AIRLOCK_PLUGINS_WATCHED: '/home/me/shop/plugins', AIRLOCK_CONTROL_SOCKET: '…' }
 */
export class PluginNotices {
  #handle: WatchHandle | undefined;
  #env: Record<string, string> = {};

  constructor(
    private readonly plan: () => ServicePlan,
    private readonly bus: EventBus,
  ) {}

  /** Watches the plugin directory when airlock watches (dev) and apps can reach it (a control socket). */
  async start(watch: boolean, controlSocket: string | undefined): Promise<void> {
    this.#env = {};
    const dir = this.plan().plugins?.dir;
    // A directory that is not there yet is the host's to wait for: it watches on its own then.
    if (!watch || controlSocket === undefined || dir === undefined || !existsSync(dir)) return;
    const service = this.plan().name;
    const filter = createFilter({ root: dir, include: ['**'], exclude: [], gitignore: false });
    const content = new ContentTracker();
    await content.prime(dir, filter, 20_000, Date.now());
    const announce = async (paths: Iterable<string>) => {
      // A plugin directory itself (made, moved away) is always news; a file only when its content changed.
      const wholes = [...paths].filter((path) => relative(dir, path).split(sep).length === 1);
      const files = await content.changed([...paths].filter((path) => filter.matches(path) && !wholes.includes(path)));
      const byPlugin = new Map<string, string[]>();
      for (const path of [...wholes, ...files]) {
        const [plugin] = relative(dir, path).split(sep);
        if (plugin === undefined || plugin === '' || plugin.startsWith('..') || isEditorTemp(plugin)) continue;
        byPlugin.set(plugin, [...(byPlugin.get(plugin) ?? []), relative(this.plan().dir, path).split(sep).join('/')]);
      }
      for (const [plugin, changed] of byPlugin) this.bus.emit({ type: 'plugin.changed', service, plugin, paths: changed.sort() });
    };
    const debouncer = new Debouncer<string>(this.plan().watch.debounceMs, (paths) => {
      announce(paths).catch((error: unknown) => this.bus.emit(internalError(service, 'announcing a plugin change', error)));
    });
    this.#handle = await watcherFor(this.plan().watch)(
      dir,
      (events) => debouncer.add(events.map((event) => event.path)),
      (error) => this.bus.emit({ type: 'error', service, code: fullCode(error.code), message: error.message }),
    );
    this.#env = { AIRLOCK_PLUGINS_WATCHED: dir, AIRLOCK_CONTROL_SOCKET: controlSocket };
  }

  /** What a generation's environment gets: empty when airlock does not watch the directory. */
  env(): Readonly<Record<string, string>> {
    return this.#env;
  }

  async stop(): Promise<void> {
    await this.#handle?.close();
    this.#handle = undefined;
  }
}
