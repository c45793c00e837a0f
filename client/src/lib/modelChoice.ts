/**
 * Which model the prediction describes, by precedence: the user's catalog pick, then the model given to the
 * agent (`--model`), then what the PyTorch hook reported (its `load_weights` facts: model, config, dtype).
 * And which PyTorch process on a GPU the prediction is about: the one with the most weights.
 */
import { modelFromCatalog, modelFromReport, type ModelChoice } from './predict.ts';
import type { ProcessFacts } from './processFacts.ts';

export function pickModel(input: { catalogId: string | null; agentModel: ModelChoice | null; hook: ProcessFacts | null }): ModelChoice | null {
  if (input.catalogId) {
    const picked = modelFromCatalog(input.catalogId);
    if (picked) return picked;
  }
  if (input.agentModel) return input.agentModel;
  return input.hook ? modelFromReport(input.hook) : null;
}

/** The PyTorch process the prediction describes: of those on the GPU and still running, the one with the most weights. */
export function primaryPid(facts: Readonly<Record<number, ProcessFacts>>, pids: readonly number[]): number | null {
  let best: ProcessFacts | null = null;
  for (const pid of pids) {
    const f = facts[pid];
    if (!f || f.endedMs !== null) continue;
    if (!best || (f.weightBytes ?? 0) > (best.weightBytes ?? 0) || (best.model === null && f.model !== null)) best = f;
  }
  if (best) return best.pid;
  // Only ended processes (or none with facts): keep showing the last one that reported a model.
  const known = pids.map((p) => facts[p]).filter((f): f is ProcessFacts => !!f && f.model !== null);
  return known.sort((a, b) => (b.weightBytes ?? 0) - (a.weightBytes ?? 0))[0]?.pid ?? pids[0] ?? null;
}
