"""Compare what the agent showed (attribution frames captured from its socket) with torch.cuda.memory_stats()
and nvidia-smi at the same moments (moments.jsonl written by llama_inference.py). Prints Markdown.

    python3 compare_moments.py moments.jsonl frames.jsonl
"""
import json
import sys

GiB = 1024 ** 3
MiB = 1024 ** 2
moments = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
frames = [json.loads(l) for l in open(sys.argv[2]) if l.strip()]
frames = [f for f in frames if "frame" in f]
SEG = ["weightsBytes", "kvCacheBytes", "otherTorchBytes", "torchCachedFreeBytes", "nonTorchBytes", "otherProcessesBytes", "driverReservedBytes", "freeBytes"]


def g(x):
    return "n/a" if x is None else f"{x / GiB:.2f}"


for m in moments:
    lo, hi = m["start_ts"] * 1000 + 1500, m["end_ts"] * 1000
    inside = [f for f in frames if lo <= f["receivedMs"] <= hi]
    print(f"\n### {m['name']}\n")
    if not inside:
        print(f"no agent frame received between {lo:.0f} and {hi:.0f}\n")
        continue
    fr = inside[-1]["frame"]
    gpu = fr["gpus"][0] if fr["gpus"] else None
    procs = (gpu or {}).get("processes", []) + fr.get("unattributed", [])
    p = next((q for q in procs if q["pid"] == m["pid"]), None)
    t, s = m["torch"], m["smi"]
    app = next((a for a in s.get("apps", []) if str(a.get("pid")) == str(m["pid"])), None)
    print(f"frames in window: {len(inside)}; process match: {p and p['match']}\n")
    print("| quantity | agent showed | torch.memory_stats / nvidia-smi at the moment |")
    print("|---|---|---|")
    print(f"| allocated (GiB) | {g(p and p['allocatedBytes'])} | {g(t['allocated'])} |")
    print(f"| reserved (GiB) | {g(p and p['reservedBytes'])} | {g(t['reserved'])} |")
    print(f"| cached-but-free = reserved − allocated (GiB) | {g(p and p['torchCachedFreeBytes'])} | {g(t['reserved'] - t['allocated'])} |")
    print(f"| inactive split (GiB) | {g(p and p['inactiveSplitBytes'])} | {g(t['inactive_split'])} |")
    print(f"| weights (GiB) | {g(p and p['weightsBytes'])} | {g(m.get('weight_bytes'))} (hook) |")
    print(f"| KV cache (GiB) | {g(p and p['kvCacheBytes'])} | {g(m.get('kv_bytes'))} |")
    print(f"| process used, nvidia-smi (GiB) | {g(p and p['usedBytes'])} | {g(app and int(app['used_mib']) * MiB)} |")
    print(f"| non-PyTorch in process (GiB) | {g(p and p['nonTorchBytes'])} | {g(app and int(app['used_mib']) * MiB - t['reserved'])} |")
    if gpu:
        print(f"| GPU used, nvidia-smi (GiB) | {g(gpu['usedBytes'])} | {g(s.get('used_mib', 0) * MiB)} |")
        print(f"| GPU free (GiB) | {g(gpu['freeBytes'])} | {g(s.get('free_mib', 0) * MiB)} (smi), {g(t['free'])} (mem_get_info) |")
        print(f"| driver reserved (GiB) | {g(gpu['driverReservedBytes'])} | {g(s.get('reserved_mib', 0) * MiB)} |")
        print("\nagent segments (GiB): " + ", ".join(f"{k[:-5]} {g(gpu[k])}" for k in SEG) + f", skew {g(gpu['skewBytes'])}, total {g(gpu['totalBytes'])}")
    if m.get("oom_message"):
        print(f"\nOOM message: {m['oom_message']}")
    markers = [mk for f in frames for mk in f["frame"].get("markers", []) if mk["kind"] in ("oom", "phase")]
print("\nmarkers seen: " + ", ".join(f"{mk['label']}" for mk in markers))
