import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { parseConfigText } from '../src/config/load.ts';
import { planServices, type ServicePlan } from '../src/config/plan.ts';
import { classifyChange } from '../src/live-config/plan-change.ts';

const dir = mkdtempSync(join(tmpdir(), 'airlock-plan-change-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const BASE = {
  build: '{ cmd: "make" }',
  run: '{ cmd: ./app }',
  listen: '8080',
  handoff: 'proxy',
  watch: '{ include: ["src/**"] }',
  stop: '{ timeout: 5s }',
  health: '{ http: { path: /healthz } }',
};

async function plan(overrides: Partial<typeof BASE> = {}): Promise<ServicePlan> {
  const fields = { ...BASE, ...overrides };
  const yaml = `services:\n  app:\n${Object.entries(fields)
    .map(([key, value]) => `    ${key}: ${value}`)
    .join('\n')}\n`;
  const [only] = await planServices(parseConfigText(yaml, join(dir, 'airlock.yaml')).config, dir);
  return only as ServicePlan;
}

describe('what an airlock.yaml edit asks of a running service', () => {
  it('tells apart replace, rebuild, restart, update and same', async () => {
    const running = await plan();
    assert.equal(classifyChange(running, await plan()), 'same');
    assert.equal(classifyChange(running, await plan({ listen: '8081' })), 'replace');
    assert.equal(classifyChange(running, await plan({ handoff: 'fd' })), 'replace');
    assert.equal(classifyChange(running, await plan({ build: '{ cmd: "make all" }' })), 'rebuild');
    assert.equal(classifyChange(running, await plan({ run: '{ cmd: ./app, env: { A: "1" } }' })), 'restart');
    assert.equal(classifyChange(running, await plan({ health: '{ http: { path: /ready } }' })), 'restart');
    assert.equal(classifyChange(running, await plan({ watch: '{ include: ["lib/**"] }' })), 'update');
    assert.equal(classifyChange(running, await plan({ stop: '{ timeout: 9s }' })), 'update');
    // The app's plugin host learns where airlock watches when its generation starts.
    assert.equal(classifyChange(running, await plan({ plugins: '{ dir: plugins }' } as Partial<typeof BASE>)), 'restart');
  });

  it('takes the most disruptive change when several fields changed', async () => {
    const running = await plan();
    assert.equal(classifyChange(running, await plan({ build: '{ cmd: "make all" }', run: '{ cmd: ./other }', watch: '{ include: ["x"] }' })), 'rebuild');
    assert.equal(classifyChange(running, await plan({ listen: '9090', build: '{ cmd: "make all" }' })), 'replace');
  });
});
