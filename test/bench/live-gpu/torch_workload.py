"""PyTorch process for the live GPU check: allocates and frees GPU memory in phases, and at the middle of each
steady phase asks nvidia-smi for memory.used itself, so the agent's samples can be compared with nvidia-smi's
own numbers at the same moments. Writes one JSON line per check to the file given as argv[1]."""
import json
import subprocess
import sys
import time

import torch

out = open(sys.argv[1], "w", buffering=1)
GiB = 1 << 30
dev = torch.device("cuda:0")


def smi_used():
    t0 = time.time()
    r = subprocess.run(
        ["nvidia-smi", "--query-gpu=timestamp,index,uuid,memory.used,memory.reserved", "--format=csv,noheader,nounits", "-i", "0"],
        capture_output=True, text=True, check=True,
    )
    t1 = time.time()
    ts, index, uuid, used, reserved = [c.strip() for c in r.stdout.strip().split(", ")]
    return {"callStartMs": t0 * 1000, "callEndMs": t1 * 1000, "smiTimestamp": ts, "uuid": uuid, "smiUsedMiB": int(used), "smiReservedMiB": int(reserved)}


def hold(phase, seconds):
    time.sleep(seconds / 2)
    torch.cuda.synchronize()
    rec = {"phase": phase, "pid": __import__("os").getpid(), "torchAllocated": torch.cuda.memory_allocated(), "torchReserved": torch.cuda.memory_reserved()}
    rec.update(smi_used())
    out.write(json.dumps(rec) + "\n")
    time.sleep(seconds / 2)


torch.zeros(1, device=dev)  # CUDA context
hold("context", 4)
a = torch.empty(8 * GiB, dtype=torch.uint8, device=dev)
hold("alloc 8 GiB", 4)
b = torch.empty(16 * GiB, dtype=torch.uint8, device=dev)
hold("alloc +16 GiB", 4)
del a
hold("free 8 GiB (cached by PyTorch)", 4)
torch.cuda.empty_cache()
hold("empty_cache", 4)
ramp = []
for i in range(5):
    ramp.append(torch.empty(2 * GiB, dtype=torch.uint8, device=dev))
    hold(f"ramp {i + 1} x 2 GiB", 2)
del b, ramp
torch.cuda.empty_cache()
hold("all freed + empty_cache", 4)
out.close()
