import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { pipelineJsonSchema, SCHEMA_FILE } from './json-schema.ts';

test('the committed JSON Schema matches the loader (npm run gen:schema rewrites it)', () => {
  const committed = JSON.parse(readFileSync(new URL(`../../${SCHEMA_FILE}`, import.meta.url), 'utf8'));
  assert.deepEqual(committed, JSON.parse(JSON.stringify(pipelineJsonSchema())));
});

test('the JSON Schema forbids unknown step keys, as the loader does', () => {
  const schema = pipelineJsonSchema() as { $defs?: unknown; properties: { steps: { anyOf: { items?: { additionalProperties?: boolean } }[] } } };
  assert.equal(schema.properties.steps.anyOf[0]!.items!.additionalProperties, false);
});
