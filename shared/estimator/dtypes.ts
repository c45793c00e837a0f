/** Bytes per element of float dtypes, KV cache types and weight quantization schemes. */
import type { FloatDtype, KvDtype, WeightScheme } from './types.ts';

export const FLOAT_BYTES: Record<FloatDtype, number> = { fp32: 4, fp16: 2, bf16: 2 };

/** KV bytes per element: int8/int4 use llama.cpp's q8_0 (34 B / 32) and q4_0 (18 B / 32) block layouts. */
export const KV_BYTES: Record<KvDtype, number> = { fp32: 4, fp16: 2, bf16: 2, fp8: 1, int8: 34 / 32, int4: 18 / 32 };

/** GGUF block formats (ggml-common.h): elements per block and bytes per block. */
export const GGUF_BLOCKS: Record<string, { block: number; bytes: number }> = {
  q4_0: { block: 32, bytes: 18 },
  q4_1: { block: 32, bytes: 20 },
  q5_0: { block: 32, bytes: 22 },
  q5_1: { block: 32, bytes: 24 },
  q8_0: { block: 32, bytes: 34 },
  q2_k: { block: 256, bytes: 84 },
  q3_k: { block: 256, bytes: 110 },
  q4_k: { block: 256, bytes: 144 },
  q5_k: { block: 256, bytes: 176 },
  q6_k: { block: 256, bytes: 210 },
};

export const WEIGHT_SCHEMES: readonly WeightScheme[] = [
  'fp32', 'fp16', 'bf16', 'fp8', 'int8', 'gptq-int4', 'awq-int4', 'gptq-int8', 'nf4', 'nf4-dq',
  'q4_0', 'q4_1', 'q5_0', 'q5_1', 'q8_0', 'q2_k', 'q3_k', 'q4_k', 'q5_k', 'q6_k',
];
export const KV_DTYPES: readonly KvDtype[] = ['fp32', 'fp16', 'bf16', 'fp8', 'int8', 'int4'];

/** True when the scheme keeps embeddings and lm_head in 16 bits (HF quantizers; GGUF handled per tensor). */
export function keepsEmbeddings16(scheme: WeightScheme): boolean {
  return !(scheme === 'fp32' || scheme === 'fp16' || scheme === 'bf16');
}

/**
 * Exact bytes of one linear weight [out, in] stored with `scheme` (bias excluded).
 * - GPTQ/AWQ (AutoGPTQ QuantLinear): qweight int32 [in·bits/32, out], qzeros int32 [ceil(in/g), out·bits/32],
 *   scales fp16 [ceil(in/g), out], g_idx int32 [in] (GPTQ only).
 * - bitsandbytes NF4: 4-bit codes + one fp32 absmax per 64; with double quant the absmax is 8-bit per 64
 *   plus an fp32 scale per 256 absmax values (QLoRA).
 * - int8 (LLM.int8 / W8A16): 1 B per weight + one fp32 scale per output row; fp8: 1 B + one fp32 scale.
 * - GGUF blocks: ceil(n / block) · blockBytes.
 */
export function linearBytes(scheme: WeightScheme, outFeatures: number, inFeatures: number, groupSize = 128): number {
  const n = outFeatures * inFeatures;
  switch (scheme) {
    case 'fp32': return n * 4;
    case 'fp16': case 'bf16': return n * 2;
    case 'fp8': return n + 4;
    case 'int8': return n + outFeatures * 4;
    case 'gptq-int4': case 'awq-int4': case 'gptq-int8': {
      const bits = scheme === 'gptq-int8' ? 8 : 4;
      const groups = Math.ceil(inFeatures / groupSize);
      const qweight = Math.ceil((inFeatures * bits) / 32) * outFeatures * 4;
      const qzeros = groups * Math.ceil((outFeatures * bits) / 32) * 4;
      const scales = groups * outFeatures * 2;
      const gIdx = scheme === 'awq-int4' ? 0 : inFeatures * 4;
      return qweight + qzeros + scales + gIdx;
    }
    case 'nf4': return Math.ceil(n / 2) + Math.ceil(n / 64) * 4;
    case 'nf4-dq': {
      const blocks = Math.ceil(n / 64);
      return Math.ceil(n / 2) + blocks + Math.ceil(blocks / 256) * 4 + 16;
    }
    default: {
      const b = GGUF_BLOCKS[scheme];
      if (!b) throw new Error(`unknown weight scheme "${scheme}"`);
      return Math.ceil(n / b.block) * b.bytes;
    }
  }
}

/** Effective bits per weight of a scheme on a reference [4096, 4096] linear. */
export function bitsPerWeight(scheme: WeightScheme, groupSize = 128): number {
  return (linearBytes(scheme, 4096, 4096, groupSize) * 8) / (4096 * 4096);
}
