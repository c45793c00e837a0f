/** Paths of the project's own fixtures (copied from the real captures; the project never reads ../shared). */
import { fileURLToPath } from 'node:url';

export const ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const FIXTURES = fileURLToPath(new URL('../fixtures/', import.meta.url));
export const SESSION_DIR = `${FIXTURES}sessions/h200-serving/`;
export const BUNDLED_RECORDING = fileURLToPath(new URL('../../server/recordings/h200-serving.jsonl', import.meta.url));
/** Test artefacts (screenshots, logs); ignored by git. */
export const TEST_OUTPUT = fileURLToPath(new URL('../../test-output/', import.meta.url));
