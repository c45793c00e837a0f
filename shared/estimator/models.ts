/**
 * Built-in model catalog: architecture fields copied from each model's public config.json
 * (num_hidden_layers, hidden_size, heads, kv heads, head_dim, intermediate, vocab, tying, biases, MoE, MLA).
 */
import type { ModelSpec } from './types.ts';

type Fields = Partial<ModelSpec> & Pick<ModelSpec, 'family' | 'layers' | 'hidden' | 'heads' | 'intermediate' | 'vocab'>;

/** A ModelSpec with Llama defaults: MHA unless kvHeads, headDim = hidden / heads, untied, RMSNorm ×2, no biases. */
export function modelSpec(id: string, name: string, f: Fields): ModelSpec {
  return {
    id, name,
    kvHeads: f.heads, headDim: f.hidden / f.heads, tiedEmbeddings: false, qkvBias: false, outBias: false, qkNorm: false,
    normsPerLayer: 2, layerNormBias: false, slidingWindow: null, slidingPattern: 'all', maxPositions: 4096,
    moe: null, mla: null, defaultDtype: 'bf16',
    ...f,
  };
}

const llama = (id: string, name: string, f: Omit<Fields, 'family'>) => modelSpec(id, name, { family: 'llama', ...f });
const qwen2 = (id: string, name: string, f: Omit<Fields, 'family'>) => modelSpec(id, name, { family: 'qwen2', qkvBias: true, maxPositions: 32768, ...f });
const qwen3 = (id: string, name: string, f: Omit<Fields, 'family'>) => modelSpec(id, name, { family: 'qwen3', qkNorm: true, headDim: 128, maxPositions: 40960, ...f });
const gemma2 = (id: string, name: string, f: Omit<Fields, 'family' | 'vocab'>) =>
  modelSpec(id, name, { family: 'gemma2', vocab: 256000, tiedEmbeddings: true, normsPerLayer: 4, slidingWindow: 4096, slidingPattern: 'alternate', maxPositions: 8192, ...f });

export const MODELS: readonly ModelSpec[] = [
  llama('tinyllama-1.1b', 'TinyLlama-1.1B', { layers: 22, hidden: 2048, heads: 32, kvHeads: 4, intermediate: 5632, vocab: 32000, maxPositions: 2048 }),
  llama('llama-2-7b', 'Llama-2-7B', { layers: 32, hidden: 4096, heads: 32, intermediate: 11008, vocab: 32000, defaultDtype: 'fp16' }),
  llama('llama-2-13b', 'Llama-2-13B', { layers: 40, hidden: 5120, heads: 40, intermediate: 13824, vocab: 32000, defaultDtype: 'fp16' }),
  llama('llama-2-70b', 'Llama-2-70B', { layers: 80, hidden: 8192, heads: 64, kvHeads: 8, intermediate: 28672, vocab: 32000, defaultDtype: 'fp16' }),
  llama('llama-3-8b', 'Llama-3-8B', { layers: 32, hidden: 4096, heads: 32, kvHeads: 8, intermediate: 14336, vocab: 128256, maxPositions: 8192 }),
  llama('llama-3-70b', 'Llama-3-70B', { layers: 80, hidden: 8192, heads: 64, kvHeads: 8, intermediate: 28672, vocab: 128256, maxPositions: 8192 }),
  llama('llama-3.1-8b', 'Llama-3.1-8B', { layers: 32, hidden: 4096, heads: 32, kvHeads: 8, intermediate: 14336, vocab: 128256, maxPositions: 131072 }),
  llama('llama-3.1-70b', 'Llama-3.1-70B', { layers: 80, hidden: 8192, heads: 64, kvHeads: 8, intermediate: 28672, vocab: 128256, maxPositions: 131072 }),
  llama('llama-3.1-405b', 'Llama-3.1-405B', { layers: 126, hidden: 16384, heads: 128, kvHeads: 8, intermediate: 53248, vocab: 128256, maxPositions: 131072 }),
  llama('llama-3.2-1b', 'Llama-3.2-1B', { layers: 16, hidden: 2048, heads: 32, kvHeads: 8, headDim: 64, intermediate: 8192, vocab: 128256, tiedEmbeddings: true, maxPositions: 131072 }),
  llama('llama-3.2-3b', 'Llama-3.2-3B', { layers: 28, hidden: 3072, heads: 24, kvHeads: 8, headDim: 128, intermediate: 8192, vocab: 128256, tiedEmbeddings: true, maxPositions: 131072 }),
  modelSpec('mistral-7b-v0.1', 'Mistral-7B-v0.1', { family: 'mistral', layers: 32, hidden: 4096, heads: 32, kvHeads: 8, intermediate: 14336, vocab: 32000, slidingWindow: 4096, maxPositions: 32768 }),
  modelSpec('mistral-7b-v0.3', 'Mistral-7B-v0.3', { family: 'mistral', layers: 32, hidden: 4096, heads: 32, kvHeads: 8, intermediate: 14336, vocab: 32768, maxPositions: 32768 }),
  modelSpec('mixtral-8x7b', 'Mixtral-8x7B', {
    family: 'mixtral', layers: 32, hidden: 4096, heads: 32, kvHeads: 8, intermediate: 14336, vocab: 32000, maxPositions: 32768,
    moe: { experts: 8, topK: 2, intermediate: 14336, sharedExperts: 0, sharedIntermediate: 0, firstDenseLayers: 0 },
  }),
  modelSpec('mixtral-8x22b', 'Mixtral-8x22B', {
    family: 'mixtral', layers: 56, hidden: 6144, heads: 48, kvHeads: 8, intermediate: 16384, vocab: 32768, maxPositions: 65536,
    moe: { experts: 8, topK: 2, intermediate: 16384, sharedExperts: 0, sharedIntermediate: 0, firstDenseLayers: 0 },
  }),
  qwen2('qwen2-7b', 'Qwen2-7B', { layers: 28, hidden: 3584, heads: 28, kvHeads: 4, intermediate: 18944, vocab: 152064, maxPositions: 131072 }),
  qwen2('qwen2.5-0.5b', 'Qwen2.5-0.5B', { layers: 24, hidden: 896, heads: 14, kvHeads: 2, intermediate: 4864, vocab: 151936, tiedEmbeddings: true }),
  qwen2('qwen2.5-1.5b', 'Qwen2.5-1.5B', { layers: 28, hidden: 1536, heads: 12, kvHeads: 2, intermediate: 8960, vocab: 151936, tiedEmbeddings: true }),
  qwen2('qwen2.5-3b', 'Qwen2.5-3B', { layers: 36, hidden: 2048, heads: 16, kvHeads: 2, intermediate: 11008, vocab: 151936, tiedEmbeddings: true }),
  qwen2('qwen2.5-7b', 'Qwen2.5-7B', { layers: 28, hidden: 3584, heads: 28, kvHeads: 4, intermediate: 18944, vocab: 152064, maxPositions: 131072 }),
  qwen2('qwen2.5-14b', 'Qwen2.5-14B', { layers: 48, hidden: 5120, heads: 40, kvHeads: 8, intermediate: 13824, vocab: 152064, maxPositions: 131072 }),
  qwen2('qwen2.5-32b', 'Qwen2.5-32B', { layers: 64, hidden: 5120, heads: 40, kvHeads: 8, intermediate: 27648, vocab: 152064, maxPositions: 131072 }),
  qwen2('qwen2.5-72b', 'Qwen2.5-72B', { layers: 80, hidden: 8192, heads: 64, kvHeads: 8, intermediate: 29568, vocab: 152064, maxPositions: 131072 }),
  qwen3('qwen3-0.6b', 'Qwen3-0.6B', { layers: 28, hidden: 1024, heads: 16, kvHeads: 8, intermediate: 3072, vocab: 151936, tiedEmbeddings: true }),
  qwen3('qwen3-8b', 'Qwen3-8B', { layers: 36, hidden: 4096, heads: 32, kvHeads: 8, intermediate: 12288, vocab: 151936 }),
  qwen3('qwen3-32b', 'Qwen3-32B', { layers: 64, hidden: 5120, heads: 64, kvHeads: 8, intermediate: 25600, vocab: 151936 }),
  modelSpec('qwen3-30b-a3b', 'Qwen3-30B-A3B', {
    family: 'qwen3_moe', layers: 48, hidden: 2048, heads: 32, kvHeads: 4, headDim: 128, intermediate: 6144, vocab: 151936, qkNorm: true, maxPositions: 40960,
    moe: { experts: 128, topK: 8, intermediate: 768, sharedExperts: 0, sharedIntermediate: 0, firstDenseLayers: 0 },
  }),
  gemma2('gemma-2-2b', 'Gemma-2-2B', { layers: 26, hidden: 2304, heads: 8, kvHeads: 4, headDim: 256, intermediate: 9216 }),
  gemma2('gemma-2-9b', 'Gemma-2-9B', { layers: 42, hidden: 3584, heads: 16, kvHeads: 8, headDim: 256, intermediate: 14336 }),
  gemma2('gemma-2-27b', 'Gemma-2-27B', { layers: 46, hidden: 4608, heads: 32, kvHeads: 16, headDim: 128, intermediate: 36864 }),
  modelSpec('phi-3-mini', 'Phi-3-mini-4k', { family: 'phi3', layers: 32, hidden: 3072, heads: 32, intermediate: 8192, vocab: 32064 }),
  modelSpec('phi-3-medium', 'Phi-3-medium-4k', { family: 'phi3', layers: 40, hidden: 5120, heads: 40, kvHeads: 10, intermediate: 17920, vocab: 32064 }),
  modelSpec('chatglm3-6b', 'ChatGLM3-6B', { family: 'chatglm', layers: 28, hidden: 4096, heads: 32, kvHeads: 2, intermediate: 13696, vocab: 65024, qkvBias: true, maxPositions: 8192, defaultDtype: 'fp16' }),
  modelSpec('deepseek-v2-lite', 'DeepSeek-V2-Lite', {
    family: 'deepseek_v2', layers: 27, hidden: 2048, heads: 16, headDim: 192, intermediate: 10944, vocab: 102400, maxPositions: 163840,
    moe: { experts: 64, topK: 6, intermediate: 1408, sharedExperts: 2, sharedIntermediate: 1408, firstDenseLayers: 1 },
    mla: { kvLoraRank: 512, qLoraRank: null, qkRopeHeadDim: 64, qkNopeHeadDim: 128, vHeadDim: 128 },
  }),
  modelSpec('deepseek-v2', 'DeepSeek-V2', {
    family: 'deepseek_v2', layers: 60, hidden: 5120, heads: 128, headDim: 192, intermediate: 12288, vocab: 102400, maxPositions: 163840,
    moe: { experts: 160, topK: 6, intermediate: 1536, sharedExperts: 2, sharedIntermediate: 1536, firstDenseLayers: 1 },
    mla: { kvLoraRank: 512, qLoraRank: 1536, qkRopeHeadDim: 64, qkNopeHeadDim: 128, vHeadDim: 128 },
  }),
  modelSpec('deepseek-v3', 'DeepSeek-V3', {
    family: 'deepseek_v3', layers: 61, hidden: 7168, heads: 128, headDim: 192, intermediate: 18432, vocab: 129280, maxPositions: 163840,
    moe: { experts: 256, topK: 8, intermediate: 2048, sharedExperts: 1, sharedIntermediate: 2048, firstDenseLayers: 3 },
    mla: { kvLoraRank: 512, qLoraRank: 1536, qkRopeHeadDim: 64, qkNopeHeadDim: 128, vHeadDim: 128 },
  }),
];

export function findModel(id: string): ModelSpec | undefined {
  const key = id.toLowerCase();
  return MODELS.find((m) => m.id === key || m.name.toLowerCase() === key);
}
