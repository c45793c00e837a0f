/**
 * `headroom estimate --config <config.json | model folder | gguf | catalog id> --dtype bf16 --batch 8 --seq 8192
 *  [--new-tokens 0] [--attn sdpa|eager] [--logits last|all] [--kv-dtype …] [--tp N] [--gpu h200] --json`
 * Prints one JSON object (or a table). Bad input: one line on stderr and exit code 2.
 */
import { parseArgs } from 'node:util';
import { EstimateError, estimate, solveMaxBatch, solveMaxPrompt, solveSmallestGpu } from '../../shared/estimator/index.ts';
import { buildInput, ESTIMATE_OPTIONS, type EstimateFlags } from './flags.ts';
import { GgufError } from './gguf.ts';
import { resolveModelArg } from './model.ts';
import { formatEstimate } from './table.ts';
import { SafetensorsError } from './safetensors.ts';

export const ESTIMATE_HELP = `headroom estimate: predict GPU memory for a model and runtime (per GPU)

Usage: headroom estimate --config <config.json | model folder | file.gguf | catalog id> [options] [--json]

Model and runtime:
  --config, --model <x>   HF config.json, a folder with config.json (+ *.safetensors headers), a .gguf, or a catalog id
  --dtype fp32|fp16|bf16  activation (and weight) dtype (default: the config's torch_dtype)
  --quant <scheme>        weight storage: fp32 fp16 bf16 fp8 int8 gptq-int4 awq-int4 gptq-int8 nf4 nf4-dq q4_0 q4_1
                          q5_0 q5_1 q8_0 q2_k q3_k q4_k q5_k q6_k (default: the checkpoint's, else --dtype)
  --group-size <n>        GPTQ/AWQ group size (default 128)
  --kv-dtype <t>          KV cache type: fp32 fp16 bf16 fp8 int8 int4 (default: --dtype)
  --batch <n>             sequences (default 1)
  --seq <n>               prompt tokens per sequence (default 2048)
  --new-tokens <n>        generated tokens per sequence (default 0)
  --attn sdpa|eager|flash attention implementation (default sdpa)
  --logits last|all       logits for the last position (logits_to_keep=1) or every position (default last)
  --logits-fp32           upcast logits to fp32
  --engine <e>            hf (dynamic cache, default) | hf-static | vllm | llamacpp (default for .gguf)
  --max-cache-len <n>     hf-static: StaticCache length in tokens (transformers max_cache_len; default --seq + --new-tokens)
  --gpu-util <f>          vLLM gpu_memory_utilization (default 0.9)
  --block-size <n>        vLLM KV block size (default 16)
  --max-batched-tokens <n> vLLM profile run tokens (default max(8192, --seq))
  --no-cuda-graphs        vLLM --enforce-eager
  --n-ctx <n>, --ubatch <n>, --no-flash-attn   llama.cpp context, micro-batch (512), flash attention off
  --tp <n>, --pp <n>      tensor / pipeline parallel degree (default 1)
  --gpu <id>              GPU (default h200): h200 h100 h100-pcie h100-nvl gh200 b200 a100-80 a100-40 a10 a10g l4
                          l40s a6000 rtx4090 rtx3090 rtx5090 t4 v100 mi300x
  --headroom <f>          fraction of GPU memory to keep free for "fits" (default 0.05)

Training (instead of inference):
  --train                 weights + gradients + optimizer states + saved activations
  --optimizer <o>         adamw (default) | adamw-8bit | sgd | sgd-momentum
  --zero <0-3>            DeepSpeed ZeRO stage (default 0)   --dp <n>  data-parallel GPUs (default 1)
  --checkpointing         activation checkpointing          --no-mixed-precision  train in --dtype throughout
                          (default: AMP, fp32 weights under autocast; with --zero ≥ 1 DeepSpeed's 16-bit weights + fp32 master)
  --offload <o>           none (default) | optimizer | optimizer+params

Solvers:
  --solve max-batch       largest batch that fits at --seq
  --solve max-seq         longest prompt that fits at --batch
  --solve gpu             smallest catalog GPU (and count) that fits

  --json                  one JSON object on stdout
  -h, --help              show this help`;

function fail(message: string): number {
  process.stderr.write(`headroom estimate: ${message}\n`);
  return 2;
}

export async function run(argv: string[]): Promise<number> {
  let values: EstimateFlags;
  try {
    ({ values } = parseArgs({ args: argv, strict: true, allowPositionals: false, options: ESTIMATE_OPTIONS }));
  } catch (e) {
    return fail(`${(e as Error).message.split('\n')[0]}. Run headroom estimate --help.`);
  }
  if (values.help) {
    process.stdout.write(`${ESTIMATE_HELP}\n`);
    return 0;
  }
  try {
    const target = values.config ?? values.model;
    if (!target) return fail('--config <config.json | model folder | gguf | catalog id> is required. Run headroom estimate --help.');
    const resolved = resolveModelArg(target);
    const input = buildInput(values, resolved);
    const result = estimate(input);
    const out: Record<string, unknown> = {
      ...result,
      model: { id: resolved.model.id, name: resolved.model.name, family: resolved.model.family, source: resolved.source },
      input: { dtype: input.dtype, weightScheme: input.weightScheme, kvDtype: input.kvDtype, batch: input.batch, seq: input.promptTokens, newTokens: input.newTokens, attention: input.attention, logits: input.logits },
    };
    if (values.solve === 'max-batch') out.solve = { maxBatch: solveMaxBatch(input) };
    else if (values.solve === 'max-seq') out.solve = { maxPromptTokens: solveMaxPrompt(input) };
    else if (values.solve === 'gpu') {
      const choices = solveSmallestGpu(input);
      out.solve = { gpus: choices.map((c) => ({ gpu: c.gpu.id, count: c.count, deviceUsedBytes: c.estimate.deviceUsedBytes })) };
    } else if (values.solve !== undefined) return fail(`--solve must be max-batch, max-seq or gpu, got "${values.solve}"`);
    process.stdout.write(values.json ? `${JSON.stringify(out)}\n` : formatEstimate(out));
    return 0;
  } catch (e) {
    if (e instanceof EstimateError || e instanceof GgufError || e instanceof SafetensorsError) return fail(e.message.split('\n')[0]!);
    throw e;
  }
}
