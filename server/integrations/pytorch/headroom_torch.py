"""headroom_torch: a PyTorch memory log for Headroom (one file, depends only on torch).

Usage::

    import headroom_torch as hr
    hr.start("/tmp/headroom/torch.jsonl")          # daemon thread, one line per device every 0.1 s
    hr.phase("load_weights", model="llama-3-8b")
    model = build_model().cuda()
    hr.weights(model)                              # parameter bytes by dtype, per device
    with hr.oom_guard(batch=32):                   # an OOM becomes an event with PyTorch's message
        out = model(ids, use_cache=True)
    hr.track_cache(out.past_key_values)            # KV-cache bytes measured from the cache's tensors
    hr.stop()                                      # also runs at interpreter exit

Then run ``headroom --torch-log /tmp/headroom/torch.jsonl``. Every line is one JSON object, version 1,
described by ``headroom-torch-log.schema.json`` beside this file: a sample line carries
``torch.cuda.memory_stats()`` numbers for one device; an event line carries ``event`` (phase, weights,
kv_cache, oom, start, end, ...). Lines are written whole and flushed at once, so a crash loses at most the
sample interval in progress. The sampler never raises into the host program: errors are logged as events.
"""
from __future__ import annotations

import atexit
import contextlib
import json
import os
import threading
import time
from typing import Any, Dict, Iterable, Optional

import torch

__all__ = ["start", "stop", "phase", "event", "kv_cache", "track_cache", "weights", "oom_guard", "sample_now"]

SCHEMA_VERSION = 1
HOOK_VERSION = "1.0.0"

_lock = threading.RLock()
_state: Dict[str, Any] = {"file": None, "thread": None, "stop": None, "phase": None, "interval_s": 0.1,
                          "devices": None, "uuids": {}, "seen": set(), "observer": False, "errors": 0}


def _now() -> float:
    return round(time.time(), 6)


def _write(obj: Dict[str, Any]) -> None:
    """Write one whole line and flush it; never raise into the host program."""
    with _lock:
        f = _state["file"]
        if f is None:
            return
        try:
            f.write(json.dumps(obj, separators=(",", ":"), default=str) + "\n")
            f.flush()
        except Exception:  # a full disk must not kill the model server
            _state["errors"] += 1


def _base(device: Optional[int]) -> Dict[str, Any]:
    line: Dict[str, Any] = {"v": SCHEMA_VERSION, "ts": _now(), "pid": os.getpid()}
    if device is not None:
        line["device"] = device
        uuid = _uuid(device)
        if uuid is not None:
            line["uuid"] = uuid
    if _state["phase"] is not None:
        line["phase"] = _state["phase"]
    return line


def _uuid(device: int) -> Optional[str]:
    """nvidia-smi's spelling of the GPU UUID (``GPU-…``), so the server can join on it; None if unknown."""
    cache = _state["uuids"]
    if device in cache:
        return cache[device]
    if not torch.cuda.is_initialized():
        return None  # asking would create a CUDA context the program did not ask for
    value = None
    try:
        raw = getattr(torch.cuda.get_device_properties(device), "uuid", None)
        if raw is not None:
            text = str(raw)
            value = text if text.startswith(("GPU-", "MIG-")) else "GPU-" + text
    except Exception:
        value = None
    cache[device] = value
    return value


def _devices() -> Iterable[int]:
    if _state["devices"] is not None:
        return _state["devices"]
    try:
        return range(torch.cuda.device_count())
    except Exception:
        return ()


def _sample_line(device: int) -> Optional[Dict[str, Any]]:
    """One device's numbers, or None before CUDA is initialised or when the process never used it."""
    if not torch.cuda.is_initialized():
        return None
    s = torch.cuda.memory_stats(device)
    reserved = int(s.get("reserved_bytes.all.current", 0))
    seen = _state["seen"]
    if reserved == 0 and device not in seen and int(s.get("num_device_alloc", 0)) == 0:
        return None  # a visible GPU this process does not use: no line, so no false attribution
    seen.add(device)
    line = _base(device)
    line.update({
        "allocated": int(s.get("allocated_bytes.all.current", 0)),
        "reserved": reserved,
        "active": int(s.get("active_bytes.all.current", 0)),
        "inactive_split": int(s.get("inactive_split_bytes.all.current", 0)),
        "peak_allocated": int(s.get("allocated_bytes.all.peak", 0)),
        "num_alloc_retries": int(s.get("num_alloc_retries", 0)),
        "num_ooms": int(s.get("num_ooms", 0)),
    })
    try:
        free, total = torch.cuda.mem_get_info(device)
        line["free"], line["total"] = int(free), int(total)
    except Exception:
        pass
    return line


def sample_now() -> None:
    """Write one sample line per used device now (the sampler thread calls this every interval)."""
    for d in _devices():
        try:
            line = _sample_line(d)
        except Exception as e:  # never raise into the host program
            _error("sample", e)
            continue
        if line is not None:
            _write(line)


def _error(where: str, e: BaseException) -> None:
    _state["errors"] += 1
    if _state["errors"] <= 10:
        event("hook_error", where=where, message=f"{type(e).__name__}: {e}"[:500])


def _loop(stop: threading.Event, interval_s: float) -> None:
    deadline = time.monotonic()
    while not stop.is_set():
        try:
            sample_now()
        except Exception as e:
            _error("loop", e)
        deadline += interval_s
        delay = deadline - time.monotonic()
        if delay < 0:  # fell behind (a stopped process, a slow disk): skip missed ticks, no burst
            deadline = time.monotonic()
            delay = 0
        stop.wait(delay)


def _on_oom(device: int, alloc: int, device_alloc: int, device_free: int) -> None:
    """torch's OOM observer: fires inside the allocator before the exception is raised."""
    event("oom", device=int(device), source="observer", alloc=int(alloc), device_allocated=int(device_alloc),
          device_free=int(device_free))


def start(path: str, interval_s: float = 0.1, devices: Optional[Iterable[int]] = None) -> None:
    """Start logging to ``path`` (appended; parent folders created). Calling it again changes nothing."""
    if interval_s <= 0:
        raise ValueError("interval_s must be above 0 (seconds between samples, e.g. 0.1)")
    with _lock:
        if _state["file"] is not None:
            return
        parent = os.path.dirname(os.path.abspath(path))
        os.makedirs(parent, exist_ok=True)
        _state["file"] = open(path, "a", buffering=1, encoding="utf-8")
        _state["interval_s"] = float(interval_s)
        _state["devices"] = None if devices is None else [int(d) for d in devices]
        stop_event = threading.Event()
        _state["stop"] = stop_event
    attach = getattr(torch._C, "_cuda_attach_out_of_memory_observer", None)
    if attach is not None and not _state["observer"]:
        try:
            attach(_on_oom)
            _state["observer"] = True
        except Exception:
            pass
    event("start", hook_version=HOOK_VERSION, torch_version=str(getattr(torch, "__version__", "unknown")),
          interval_s=float(interval_s), oom_observer=_state["observer"],
          cuda_visible_devices=os.environ.get("CUDA_VISIBLE_DEVICES"))
    t = threading.Thread(target=_loop, args=(stop_event, float(interval_s)), name="headroom-torch", daemon=True)
    _state["thread"] = t
    t.start()


def stop() -> None:
    """Write a last sample and an ``end`` event, stop the thread and close the file."""
    with _lock:
        if _state["file"] is None:
            return
        stop_event, thread = _state["stop"], _state["thread"]
    stop_event.set()
    if thread is not None and thread is not threading.current_thread():
        thread.join(timeout=2)
    sample_now()
    event("end")
    with _lock:
        try:
            _state["file"].close()
        finally:
            _state["file"] = None
            _state["thread"] = None


atexit.register(stop)


def event(kind: str, device: Optional[int] = None, **facts: Any) -> None:
    """Write an event line: ``{"event": {"kind": kind, ...facts}}``."""
    line = _base(device)
    line["event"] = {"kind": kind, **facts}
    _write(line)


def phase(name: str, **facts: Any) -> None:
    """Mark a phase (load, prefill, decode, ...); later sample lines carry it as ``phase``."""
    _state["phase"] = str(name)
    event("phase", name=str(name), **facts)
    sample_now()


def kv_cache(nbytes: int, device: Optional[int] = None, **facts: Any) -> None:
    """Report the KV cache's current size in bytes (0 when released)."""
    if device is None and torch.cuda.is_initialized():
        device = torch.cuda.current_device()
    event("kv_cache", device=device, bytes=int(nbytes), **facts)


def _tensors(obj: Any, depth: int = 0) -> Iterable[Any]:
    """Tensors held by an HF cache: ``layers[i].keys/values`` (transformers ≥ 4.56), ``key_cache`` /
    ``value_cache`` lists (older DynamicCache/StaticCache), or legacy tuples of (key, value)."""
    if depth > 4 or obj is None:
        return
    if isinstance(obj, torch.Tensor):
        yield obj
    elif isinstance(obj, (list, tuple)):
        for x in obj:
            yield from _tensors(x, depth + 1)
    elif isinstance(obj, dict):
        for x in obj.values():
            yield from _tensors(x, depth + 1)
    elif hasattr(obj, "__dict__"):
        for name, x in vars(obj).items():
            if not name.startswith("__"):
                yield from _tensors(x, depth + 1)


def _tensor_bytes(tensors: Iterable[Any]) -> Dict[Optional[int], int]:
    """Bytes per device index (None for CPU), counting each storage once (views share it)."""
    seen = set()
    by_device: Dict[Optional[int], int] = {}
    for t in tensors:
        try:
            storage = t.untyped_storage()
            key = (str(t.device), storage.data_ptr())
            nbytes = int(storage.nbytes())
        except Exception:
            key, nbytes = (str(t.device), id(t)), int(t.numel()) * int(t.element_size())
        if key in seen:
            continue
        seen.add(key)
        dev = t.device.index if t.device.type == "cuda" else None
        by_device[dev] = by_device.get(dev, 0) + nbytes
    return by_device


def track_cache(cache: Any, **facts: Any) -> int:
    """Measure an HF ``DynamicCache``/``StaticCache`` (or legacy tuples) from its tensors and report it as
    ``kv_cache`` events, one per device. Returns the total bytes."""
    by_device = _tensor_bytes(_tensors(cache))
    cls = type(cache).__name__
    for dev, nbytes in sorted(by_device.items(), key=lambda kv: -1 if kv[0] is None else kv[0]):
        event("kv_cache", device=dev, bytes=nbytes, cache_class=cls, **({"location": "cpu"} if dev is None else {}), **facts)
    if not by_device:
        kv_cache(0, cache_class=cls, **facts)
    return sum(by_device.values())


def weights(model: Any, **facts: Any) -> Dict[str, int]:
    """Report parameter bytes by dtype, one ``weights`` event per device; returns bytes by dtype overall."""
    per_device: Dict[Optional[int], Dict[str, Any]] = {}
    overall: Dict[str, int] = {}
    for p in model.parameters():
        dev = p.device.index if p.device.type == "cuda" else None
        dtype = str(p.dtype).replace("torch.", "")
        nbytes = int(p.numel()) * int(p.element_size())
        d = per_device.setdefault(dev, {"bytes_by_dtype": {}, "params": 0})
        d["bytes_by_dtype"][dtype] = d["bytes_by_dtype"].get(dtype, 0) + nbytes
        d["params"] += int(p.numel())
        overall[dtype] = overall.get(dtype, 0) + nbytes
    buffers = getattr(model, "buffers", None)
    buffer_bytes = _tensor_bytes(list(buffers())) if callable(buffers) else {}
    for dev, d in sorted(per_device.items(), key=lambda kv: -1 if kv[0] is None else kv[0]):
        event("weights", device=dev, total_bytes=sum(d["bytes_by_dtype"].values()), bytes_by_dtype=d["bytes_by_dtype"],
              params=d["params"], buffer_bytes=buffer_bytes.get(dev, 0), **({"location": "cpu"} if dev is None else {}), **facts)
    return overall


def _is_oom(e: BaseException) -> bool:
    cls = getattr(torch.cuda, "OutOfMemoryError", None)
    if cls is not None and isinstance(e, cls):
        return True
    return isinstance(e, RuntimeError) and "out of memory" in str(e).lower()


class oom_guard(contextlib.ContextDecorator):
    """Context manager and decorator: a CUDA out-of-memory error inside becomes an ``oom`` event carrying
    PyTorch's message and a fresh sample; it is re-raised unless ``reraise=False``."""

    def __init__(self, reraise: bool = True, **facts: Any) -> None:
        self.reraise = reraise
        self.facts = facts

    def __enter__(self) -> "oom_guard":
        return self

    def __exit__(self, exc_type: Any, exc: Optional[BaseException], tb: Any) -> bool:
        if exc is None or not _is_oom(exc):
            return False
        device = None
        try:
            device = torch.cuda.current_device() if torch.cuda.is_initialized() else None
        except Exception:
            pass
        event("oom", device=device, source="exception", message=str(exc)[:2000], **self.facts)
        sample_now()
        return not self.reraise
