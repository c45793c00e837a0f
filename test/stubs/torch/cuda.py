"""Stub of torch.cuda with a fake caching allocator: `_fake_alloc`, `_fake_free`, `_fake_empty_cache` and
`_fake_oom` change the numbers that memory_stats() and mem_get_info() answer, as the real ones would."""
from . import _C

_fake = {"initialized": False, "count": 2, "current": 0, "total": 150109880320, "other_used": 1 << 30, "devices": {}}


class OutOfMemoryError(RuntimeError):
    pass


class _Props:
    def __init__(self, index):
        self.uuid = f"5e0e1a0e-3202-b007-367d-a961e7e1624{index}"
        self.name = "Fake H200"
        self.total_memory = _fake["total"]


def _dev(index):
    return _fake["devices"].setdefault(index, {"allocated": 0, "reserved": 0, "peak": 0, "inactive_split": 0,
                                               "retries": 0, "ooms": 0, "device_alloc": 0})


def _init():
    if not _fake["initialized"]:
        _fake["initialized"] = True
        _dev(_fake["current"])["reserved"] += 2 << 20  # the first segment torch makes


def _fake_alloc(index, nbytes):
    _init()
    d = _dev(index)
    d["allocated"] += nbytes
    d["peak"] = max(d["peak"], d["allocated"])
    if d["reserved"] < d["allocated"]:
        d["reserved"] = d["allocated"] + (2 << 20)
        d["device_alloc"] += 1


def _fake_free(index, nbytes, fragment=0):
    """Free bytes; `fragment` of them stay as inactive split blocks inside reserved segments."""
    d = _dev(index)
    d["allocated"] -= nbytes
    d["inactive_split"] += fragment


def _fake_empty_cache(index):
    d = _dev(index)
    d["reserved"] = d["allocated"] + d["inactive_split"]


def _fake_oom(index, nbytes):
    d = _dev(index)
    free = _fake["total"] - d["reserved"] - _fake["other_used"]
    d["retries"] += 1
    d["ooms"] += 1
    for fn in _C._oom_observers:
        fn(index, nbytes, d["reserved"], free)
    gib = 1 << 30
    raise OutOfMemoryError(
        f"CUDA out of memory. Tried to allocate {nbytes / gib:.2f} GiB. GPU {index} has a total capacity of "
        f"{_fake['total'] / gib:.2f} GiB of which {free / gib:.2f} GiB is free. Of the allocated memory "
        f"{d['allocated'] / gib:.2f} GiB is allocated by PyTorch, and {(d['reserved'] - d['allocated']) / gib:.2f} GiB "
        "is reserved by PyTorch but unallocated.")


def is_available():
    return True


def is_initialized():
    return _fake["initialized"]


def device_count():
    return _fake["count"]


def current_device():
    _init()
    return _fake["current"]


def get_device_properties(index):
    return _Props(index)


def memory_stats(device=None):
    if not _fake["initialized"]:
        return {}
    d = _dev(current_device() if device is None else device)
    return {
        "allocated_bytes.all.current": d["allocated"], "allocated_bytes.all.peak": d["peak"],
        "reserved_bytes.all.current": d["reserved"], "active_bytes.all.current": d["allocated"],
        "inactive_split_bytes.all.current": d["inactive_split"], "num_alloc_retries": d["retries"],
        "num_ooms": d["ooms"], "num_device_alloc": d["device_alloc"],
    }


def mem_get_info(device=None):
    d = _dev(current_device() if device is None else device)
    return (_fake["total"] - d["reserved"] - _fake["other_used"], _fake["total"])
