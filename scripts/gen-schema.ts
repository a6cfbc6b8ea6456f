// Writes the editor JSON Schema for .nestor.yml from the loader's own schemas.
import { writeFileSync } from 'node:fs';
import { pipelineJsonSchema, SCHEMA_FILE } from '../src/pipeline/json-schema.ts';

writeFileSync(new URL(`../${SCHEMA_FILE}`, import.meta.url), `${JSON.stringify(pipelineJsonSchema(), null, 2)}\n`);
console.log(`wrote ${SCHEMA_FILE}`);
