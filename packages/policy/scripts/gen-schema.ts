/**
 * Write policy.schema.json from the typebox schemas (`pnpm --filter @clawd402/policy gen:schema`). A test fails when
 * the committed file differs from what this writes.
 */
import { writeFileSync } from 'node:fs';
import { policySchemaText } from '../src/policy-document.schema.ts';

const target = new URL('../policy.schema.json', import.meta.url);
writeFileSync(target, policySchemaText());
process.stdout.write(`wrote ${target.pathname}\n`);
