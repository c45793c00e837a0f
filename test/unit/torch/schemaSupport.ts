/** The PyTorch log JSON Schema, compiled with ajv (draft 2020-12), for tests that compare it with zod. */
import { readFileSync } from 'node:fs';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { ROOT } from '../../support/paths.ts';

export const SCHEMA_PATH = `${ROOT}server/integrations/pytorch/headroom-torch-log.schema.json`;

export function compileLogSchema(): (value: unknown) => boolean {
  const schema = JSON.parse(readFileSync(SCHEMA_PATH, 'utf8')) as object;
  const ajv = new Ajv2020({ allErrors: true, strict: true, strictRequired: false, allowUnionTypes: true });
  const validate = ajv.compile(schema);
  return (value) => validate(value) === true;
}
