import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { jsonSchema } from '../src/config/schema.ts';

describe('schema.json', () => {
  it('is the JSON Schema the code generates (run `npm run build` after changing the schema)', () => {
    const file = join(fileURLToPath(import.meta.url), '..', '..', 'schema.json');
    assert.deepEqual(JSON.parse(readFileSync(file, 'utf8')), jsonSchema());
  });

  it('describes every service key, strictly', () => {
    const schema = jsonSchema() as { properties: { services: { additionalProperties: { properties: object; additionalProperties: boolean } } } };
    const service = schema.properties.services.additionalProperties;
    assert.equal(service.additionalProperties, false);
    assert.deepEqual(Object.keys(service.properties).sort(), ['build', 'config', 'debug', 'dependsOn', 'dir', 'go', 'handoff', 'health', 'listen', 'node', 'plugins', 'proxy', 'release', 'restartWith', 'rollout', 'run', 'stop', 'watch']);
  });
});
