"""Drives server/integrations/pytorch/headroom_torch.py against the stub torch (test/stubs/torch).

Usage: python3 hook_scenario.py <log path> full|crash
  full:  a short inference-shaped run (init, weights, prefill with a KV cache, an OOM, release), then stop();
         prints the expected numbers as one JSON line on stdout.
  crash: starts the hook and waits to be killed (SIGKILL), to check that no partial line is left behind.
"""
import json
import sys
import time

import headroom_torch as hr
import torch

path, mode = sys.argv[1], sys.argv[2]
hr.start(path, interval_s=0.02)
torch.cuda.current_device()  # CUDA init: the first segment appears

if mode == "crash":
    torch.Tensor(1 << 20, torch.bfloat16, "cuda:0")
    print("started", flush=True)
    while True:
        time.sleep(1)


class Linear:
    def __init__(self, n, dtype, dev="cuda:0"):
        self.weight = torch.Tensor(n, dtype, dev)


class FakeModel:
    """Parameters as nn.Module.parameters() yields them: tied weights once, some on another device."""

    def __init__(self):
        self.embed = Linear(1000, torch.bfloat16)
        self.layers = [Linear(4096, torch.bfloat16) for _ in range(4)]
        self.norm = Linear(64, torch.float32)
        self.offloaded = Linear(256, torch.bfloat16, "cpu")
        self.shard = Linear(512, torch.bfloat16, "cuda:1")
        self.rope = torch.Tensor(32, torch.float32, "cuda:0")

    def parameters(self):
        yield self.embed.weight
        for layer in self.layers:
            yield layer.weight
        yield self.norm.weight
        yield self.offloaded.weight
        yield self.shard.weight

    def buffers(self):
        yield self.rope


class Layer:  # transformers >= 4.56: DynamicLayer with .keys/.values
    def __init__(self, n):
        self.keys = torch.Tensor(n, torch.bfloat16, "cuda:0")
        self.values = torch.Tensor(n, torch.bfloat16, "cuda:0")
        self.keys_view = self.keys.view()  # a view shares storage: counted once


class DynamicCache:
    def __init__(self, layers, n):
        self.layers = [Layer(n) for _ in range(layers)]


class StaticCache:  # older transformers: key_cache / value_cache lists
    def __init__(self, layers, n):
        self.key_cache = [torch.Tensor(n, torch.float16, "cuda:0") for _ in range(layers)]
        self.value_cache = [torch.Tensor(n, torch.float16, "cuda:0") for _ in range(layers)]


time.sleep(0.06)
hr.phase("load_weights", model="fake-llama", dtype="bf16")
model = FakeModel()
by_dtype = hr.weights(model)
time.sleep(0.06)
hr.phase("prefill", batch=4, seq=512)
cache = DynamicCache(8, 2048)
kv = hr.track_cache(cache)
static_kv = hr.track_cache(StaticCache(2, 100))
time.sleep(0.06)

with hr.oom_guard(reraise=False, batch=96):
    torch.cuda._fake_oom(0, 42 << 30)

@hr.oom_guard(batch=1)
def decorated():
    torch.cuda._fake_oom(0, 1 << 30)

reraised = False
try:
    decorated()
except torch.cuda.OutOfMemoryError:
    reraised = True

passthrough = False
try:
    with hr.oom_guard():
        raise ValueError("not an OOM")
except ValueError:
    passthrough = True

hr.phase("release")
torch.cuda._fake_free(0, kv, fragment=kv // 4)
hr.kv_cache(0)
torch.cuda._fake_empty_cache(0)
time.sleep(0.06)
hr.stop()
print(json.dumps({"weights_by_dtype": by_dtype, "kv_bytes": kv, "static_kv_bytes": static_kv,
                  "reraised": reraised, "passthrough": passthrough}))
