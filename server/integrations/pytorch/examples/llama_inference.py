"""A real inference run that uses the Headroom hook: a Llama-3-8B-shaped model with random weights (built from
its config, nothing downloaded), chunked prefill with a DynamicCache, decode steps, one over-sized batch that
runs out of memory, then the cache released. At each of four moments it writes what torch.cuda.memory_stats()
and nvidia-smi say into <out>/moments.jsonl and holds still for `--hold` seconds, so an agent running beside
it (headroom --torch-log <out>/torch.jsonl) can be compared with them.

    python3 llama_inference.py /tmp/hr [--layers 32] [--batch 8] [--seq 4096] [--hold 3]
"""
import argparse
import json
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import headroom_torch as hr  # noqa: E402
import torch  # noqa: E402

ap = argparse.ArgumentParser()
ap.add_argument("out")
ap.add_argument("--layers", type=int, default=32)
ap.add_argument("--batch", type=int, default=8)
ap.add_argument("--seq", type=int, default=4096)
ap.add_argument("--chunks", type=int, default=4)
ap.add_argument("--hold", type=float, default=3.0)
ap.add_argument("--trace-dir", default=None)
args = ap.parse_args()
os.makedirs(args.out, exist_ok=True)
moments = open(os.path.join(args.out, "moments.jsonl"), "a", buffering=1)


def smi():
    """nvidia-smi's view right now: the GPU row and this process's row."""
    out = {}
    try:
        g = subprocess.run(["nvidia-smi", "--query-gpu=uuid,memory.total,memory.reserved,memory.used,memory.free",
                            "--format=csv,noheader,nounits"], capture_output=True, text=True, timeout=10).stdout.strip().splitlines()[0]
        uuid, total, reserved, used, free = [x.strip() for x in g.split(",")]
        out.update(uuid=uuid, total_mib=int(total), reserved_mib=int(reserved), used_mib=int(used), free_mib=int(free))
        apps = subprocess.run(["nvidia-smi", "--query-compute-apps=pid,used_gpu_memory,gpu_uuid", "--format=csv,noheader,nounits"],
                              capture_output=True, text=True, timeout=10).stdout.strip().splitlines()
        out["apps"] = [dict(zip(("pid", "used_mib", "uuid"), [a.strip() for a in row.split(",")])) for row in apps if row.strip()]
    except Exception as e:  # report, never fail the run
        out["error"] = repr(e)
    return out


def moment(name, **facts):
    """Record torch's and nvidia-smi's numbers, mark the moment in the log, and hold still."""
    torch.cuda.synchronize()
    s = torch.cuda.memory_stats()
    free, total = torch.cuda.mem_get_info()
    rec = {"name": name, "start_ts": time.time(), "pid": os.getpid(),
           "torch": {"allocated": s["allocated_bytes.all.current"], "reserved": s["reserved_bytes.all.current"],
                     "inactive_split": s["inactive_split_bytes.all.current"], "peak": s["allocated_bytes.all.peak"],
                     "num_ooms": s["num_ooms"], "num_alloc_retries": s["num_alloc_retries"], "free": free, "total": total},
           "smi": smi(), **facts}
    hr.event("moment", name=name)
    time.sleep(args.hold)
    rec["end_ts"] = time.time()
    rec["smi_end"] = smi()
    moments.write(json.dumps(rec) + "\n")
    print("moment", name, json.dumps(rec["torch"]), flush=True)


hr.start(os.path.join(args.out, "torch.jsonl"), interval_s=0.1)
hr.phase("cuda_init")
torch.zeros(1, device="cuda")
time.sleep(1.5)

from transformers import DynamicCache, LlamaConfig, LlamaForCausalLM  # noqa: E402

kw = dict(num_hidden_layers=args.layers, hidden_size=4096, num_attention_heads=32, num_key_value_heads=8,
          intermediate_size=14336, vocab_size=128256)
hr.phase("load_weights", model="llama-3-8b-shaped", config=kw, dtype="bf16")
torch.set_default_dtype(torch.bfloat16)
with torch.device("cuda"):
    model = LlamaForCausalLM(LlamaConfig(**kw, max_position_embeddings=32768)).eval()
torch.set_default_dtype(torch.float32)
by_dtype = hr.weights(model)
moment("after_weights_load", weight_bytes=sum(by_dtype.values()))

hr.phase("prefill", batch=args.batch, seq=args.seq, chunks=args.chunks)
cache = DynamicCache()
ids = torch.randint(0, kw["vocab_size"], (args.batch, args.seq), device="cuda")
step = args.seq // args.chunks
with torch.no_grad(), hr.oom_guard(batch=args.batch, seq=args.seq):
    for c in range(args.chunks):
        out = model(input_ids=ids[:, c * step:(c + 1) * step], past_key_values=cache, use_cache=True, logits_to_keep=1)
        cache = out.past_key_values
        kv = hr.track_cache(cache, chunk=c)
        if c == args.chunks // 2 - 1:
            moment("during_prefill", chunk=c, kv_bytes=kv)
    nxt = out.logits[:, -1:].argmax(-1)
    del out

hr.phase("decode", steps=16)
with torch.no_grad():
    for _ in range(16):
        out = model(input_ids=nxt, past_key_values=cache, use_cache=True)
        cache = out.past_key_values
        nxt = out.logits[:, -1:].argmax(-1)
        del out
kv = hr.track_cache(cache)
if args.trace_dir:
    from torch.profiler import ProfilerActivity, profile, tensorboard_trace_handler
    with profile(activities=[ProfilerActivity.CPU, ProfilerActivity.CUDA], profile_memory=True,
                 on_trace_ready=tensorboard_trace_handler(args.trace_dir, worker_name="infer0")):
        with torch.no_grad():
            model(input_ids=nxt, past_key_values=cache, use_cache=True)
        torch.cuda.synchronize()
del cache, nxt
hr.kv_cache(0)

hr.phase("oversized_batch", batch=96, seq=16384)
oom_message = None
try:
    with torch.no_grad(), hr.oom_guard(batch=96, seq=16384):
        big = torch.randint(0, kw["vocab_size"], (96, 16384), device="cuda")
        model(input_ids=big, use_cache=True, logits_to_keep=1)
except torch.cuda.OutOfMemoryError as e:
    oom_message = str(e).splitlines()[0]
big = None
moment("after_oom", oom_message=oom_message)

torch.cuda.empty_cache()
hr.event("empty_cache")
moment("after_cache_release")
hr.phase("shutdown")
del model
torch.cuda.empty_cache()
time.sleep(1)
hr.stop()
print("done", flush=True)
