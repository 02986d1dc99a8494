import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { parseConfigText } from '../src/config/load.ts';
import { planServices, type ServicePlan } from '../src/config/plan.ts';
import { startControl } from '../src/control/server.ts';
import { PluginNotices } from '../src/plugin-support/plugin-notices.ts';
import { EventBus, type AirlockEvent } from '../src/events.ts';
import { noticesFromEnv, PluginHost, type PluginEvent } from '../../runtime/src/plugins/index.ts';

/**
 * airlock and an app's plugin host together: airlock's own watcher on `plugins.dir`,
 * its real control socket, and the runtime's PluginHost subscribed to it. The host swaps
 * what airlock announces, and watches on its own once airlock is gone.
 */
describe('plugin changes announced by airlock to the app\'s plugin host', () => {
  const dir = mkdtempSync(join(tmpdir(), 'airlock-notices-'));
  after(() => rmSync(dir, { recursive: true, force: true }));
  const plugins = join(dir, 'plugins');

  /** Saves as editors do: a temp file renamed over. */
  const save = (file: string, text: string) => {
    writeFileSync(`${file}.tmp`, text);
    renameSync(`${file}.tmp`, file);
  };
  const greet = (word: string) => save(join(plugins, 'greet', 'index.mjs'), `export function hello(name) { return '${word} ' + name; }\n`);

  /** What the bus and the host said, for a timeout's message. */
  const story: string[] = [];
  const next = <T>(subscribe: (listener: (value: T) => void) => () => void, test: (value: T) => boolean, what: string): Promise<T> =>
    new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        unsubscribe();
        reject(new Error(`timed out waiting for ${what}; so far:\n${story.join('\n')}`));
      }, 20_000);
      const unsubscribe = subscribe((value) => {
        if (!test(value)) return;
        clearTimeout(timer);
        unsubscribe();
        resolve(value);
      });
    });

  it('swaps a plugin on airlock\'s plugin.changed, not on its own watching, and watches itself once airlock goes', async () => {
    mkdirSync(join(plugins, 'greet'), { recursive: true });
    writeFileSync(join(plugins, 'greet', 'plugin.json'), JSON.stringify({ name: 'greet', version: '1.0.0', main: 'index.mjs', host: '^1' }));
    greet('hello');
    const yaml = 'services:\n  app:\n    run: { cmd: node server.js }\n    plugins: { dir: plugins }\n';
    const [plan] = (await planServices(parseConfigText(yaml, join(dir, 'airlock.yaml')).config, dir)) as [ServicePlan];
    const bus = new EventBus();
    const events: AirlockEvent[] = [];
    bus.subscribe((event) => {
      events.push(event);
      story.push(`bus: ${JSON.stringify(event)}`);
    });
    const socket = join(dir, 'control.sock');
    const control = await startControl(socket, { status: () => [{ name: 'app' }], configRejected: undefined, reload: () => undefined, rollout: async () => undefined }, bus);
    let controlOpen = true;
    after(async () => {
      if (controlOpen) await control.close();
    });
    const notices = new PluginNotices(() => plan, bus);
    after(() => notices.stop());
    await notices.start(true, socket);
    const env = notices.env();
    assert.deepEqual(env, { AIRLOCK_PLUGINS_WATCHED: plugins, AIRLOCK_CONTROL_SOCKET: socket });

    const airlock = noticesFromEnv(plugins, { ...env, AIRLOCK_SERVICE: 'app' });
    assert.deepEqual(airlock, { socket, service: 'app' });
    assert.equal(noticesFromEnv(join(dir, 'elsewhere'), { ...env, AIRLOCK_SERVICE: 'app' }), undefined, 'another directory is the host\'s own to watch');
    const host = new PluginHost({ dir: plugins, airlock });
    after(() => host.close());
    host.on('event', (e) => story.push(`host: ${JSON.stringify(e)}`));
    host.on('log', (l) => story.push(`host log: ${l.line}`));
    const hostEvents = (listener: (e: PluginEvent) => void) => {
      host.on('event', listener);
      return () => void host.off('event', listener);
    };
    await host.start();
    assert.equal(host.watching, 'airlock');
    assert.equal(await host.call('greet', 'hello', 'ada'), 'hello ada');

    // Another service's notice is not this host's.
    bus.emit({ type: 'plugin.changed', service: 'other', plugin: 'greet', paths: [] });
    const swapped = next(hostEvents, (e) => e.state === 'active' && e.generation === 2, 'the swap airlock announced');
    swapped.catch(() => undefined); // awaited below, after the notice it follows
    greet('hi');
    const changed = await next<AirlockEvent>((l) => bus.subscribe(l), (e) => e.type === 'plugin.changed', 'plugin.changed');
    assert.deepEqual(changed, { type: 'plugin.changed', service: 'app', plugin: 'greet', paths: ['plugins/greet/index.mjs'] });
    await swapped;
    assert.equal(await host.call('greet', 'hello', 'ada'), 'hi ada');
    assert.equal(events.filter((e) => e.type === 'plugin.changed').length, 2, 'one notice per save (and the other service\'s)');

    // airlock goes: the host says so and watches for itself.
    const warned = next<{ line: string }>(
      (l) => {
        host.on('log', l);
        return () => void host.off('log', l);
      },
      (l) => /watching .* from now on/.test(l.line),
      'the host to watch on its own',
    );
    await notices.stop();
    await control.close();
    controlOpen = false;
    assert.match((await warned).line, /^plugin changes: airlock closed the event stream; watching /);
    assert.equal(host.watching, 'self');
    const own = next(hostEvents, (e) => e.state === 'active' && e.generation === 3, 'the swap the host saw itself');
    greet('hey');
    await own;
    assert.equal(await host.call('greet', 'hello', 'ada'), 'hey ada');
  });
});
