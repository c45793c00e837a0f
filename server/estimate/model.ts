/**
 * `--config` / `--model` argument → a ModelSpec plus exact weight bytes where a checkpoint is at hand:
 * a catalog id, a config.json, a model folder (config.json + *.safetensors headers), a .safetensors file
 * with its config.json beside it, or a .gguf file. Reads headers only; never downloads anything.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { basename, dirname, extname, join } from 'node:path';
import { EstimateError, findModel, MODELS, modelFromHfConfig, type ModelSpec, type WeightScheme } from '../../shared/estimator/index.ts';
import { readGgufHeader } from './gguf.ts';
import { modelFromGguf } from './ggufModel.ts';
import { readSafetensorsHeader } from './safetensors.ts';

export interface ResolvedModel {
  model: ModelSpec;
  /** Exact bytes of every tensor in the checkpoint, or null when only a config was given. */
  weightsBytesExact: number | null;
  /** Storage scheme the checkpoint declares (quantization_config), when it does. */
  scheme: WeightScheme | null;
  /** What was read, for the output. */
  source: string;
  /** A GGUF file implies the llama.cpp engine. */
  gguf: boolean;
}

function readJson(path: string): unknown {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new EstimateError(`cannot read ${path} (${(e as NodeJS.ErrnoException).code ?? String(e)})`);
  }
  try {
    return JSON.parse(text);
  } catch {
    throw new EstimateError(`${path} is not valid JSON`);
  }
}

/** quantization_config → scheme (GPTQ/AWQ bits, bitsandbytes 4/8-bit, fp8). */
export function schemeFromConfig(raw: unknown): WeightScheme | null {
  if (typeof raw !== 'object' || raw === null) return null;
  const q = (raw as { quantization_config?: Record<string, unknown> }).quantization_config;
  if (!q) return null;
  const method = String(q.quant_method ?? '');
  const bits = Number(q.bits ?? q.w_bit ?? 4);
  if (method === 'gptq') return bits === 8 ? 'gptq-int8' : 'gptq-int4';
  if (method === 'awq') return 'awq-int4';
  if (method === 'fp8' || method === 'compressed-tensors') return 'fp8';
  if (method === 'bitsandbytes') {
    if (q.load_in_8bit === true) return 'int8';
    return q.bnb_4bit_use_double_quant === true ? 'nf4-dq' : 'nf4';
  }
  return null;
}

function fromConfigFile(path: string, id: string): { model: ModelSpec; scheme: WeightScheme | null } {
  const raw = readJson(path);
  return { model: modelFromHfConfig(raw, id), scheme: schemeFromConfig(raw) };
}

function safetensorsBytes(files: string[]): number {
  return files.reduce((sum, f) => sum + readSafetensorsHeader(f).totalBytes, 0);
}

export function resolveModelArg(arg: string): ResolvedModel {
  if (!existsSync(arg)) {
    const m = findModel(arg);
    if (m) return { model: m, weightsBytesExact: null, scheme: null, source: `catalog: ${m.name}`, gguf: false };
    throw new EstimateError(`"${arg}" is neither a file, a folder nor a catalog model; catalog ids: ${MODELS.map((x) => x.id).join(', ')}`);
  }
  const st = statSync(arg);
  if (st.isDirectory()) {
    const config = join(arg, 'config.json');
    if (!existsSync(config)) throw new EstimateError(`model folder ${arg} has no config.json`);
    const { model, scheme } = fromConfigFile(config, basename(arg));
    const shards = readdirSync(arg).filter((f) => f.endsWith('.safetensors')).sort().map((f) => join(arg, f));
    const ggufs = readdirSync(arg).filter((f) => f.endsWith('.gguf'));
    if (shards.length === 0 && ggufs.length === 0) {
      return { model, weightsBytesExact: null, scheme, source: `${config} (no *.safetensors: weights from the config)`, gguf: false };
    }
    if (shards.length === 0) return resolveModelArg(join(arg, ggufs.sort()[0]!));
    return { model, weightsBytesExact: safetensorsBytes(shards), scheme, source: `${config} + ${shards.length} safetensors header(s)`, gguf: false };
  }
  const ext = extname(arg).toLowerCase();
  if (ext === '.gguf') {
    const h = readGgufHeader(arg);
    return { model: modelFromGguf(h, basename(arg, ext)), weightsBytesExact: h.totalBytes, scheme: null, source: `GGUF v${h.version} header (${h.tensors.length} tensors)`, gguf: true };
  }
  if (ext === '.safetensors') {
    const config = join(dirname(arg), 'config.json');
    if (!existsSync(config)) throw new EstimateError(`${arg}: a safetensors file needs its config.json beside it for the architecture`);
    const { model, scheme } = fromConfigFile(config, basename(dirname(arg)));
    return { model, weightsBytesExact: safetensorsBytes([arg]), scheme, source: `${config} + ${basename(arg)} header`, gguf: false };
  }
  if (ext === '.json') {
    const { model, scheme } = fromConfigFile(arg, basename(dirname(arg)) || basename(arg));
    return { model, weightsBytesExact: null, scheme, source: arg, gguf: false };
  }
  throw new EstimateError(`${arg}: expected a config.json, a model folder, a .safetensors or a .gguf file`);
}
