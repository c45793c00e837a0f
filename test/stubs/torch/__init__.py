"""A tiny stand-in for the `torch` package, for running headroom_torch.py in CI without a GPU or torch.

Only what the hook calls is here: `torch.cuda.*` (memory_stats, mem_get_info, device_count, ...), the OOM
observer hook in `torch._C`, and a minimal `Tensor` (device, dtype, numel, element_size, untyped_storage)
so that weights() and track_cache() can measure fake models and caches. Tests drive the fake allocator
through `torch.cuda._fake` (see cuda.py).
"""
from . import cuda, _C  # noqa: F401

__version__ = "0.0.0+headroom-stub"


class dtype:
    def __init__(self, name, itemsize):
        self.name, self.itemsize = name, itemsize

    def __str__(self):
        return "torch." + self.name

    __repr__ = __str__


float32 = dtype("float32", 4)
bfloat16 = dtype("bfloat16", 2)
float16 = dtype("float16", 2)
int8 = dtype("int8", 1)


class device:
    def __init__(self, spec):
        kind, _, index = str(spec).partition(":")
        self.type = kind
        self.index = int(index) if index else (0 if kind == "cuda" else None)

    def __str__(self):
        return self.type if self.index is None else f"{self.type}:{self.index}"


class _Storage:
    _next = 0x7F0000000000

    def __init__(self, nbytes):
        self._nbytes = nbytes
        _Storage._next += max(nbytes, 512)
        self._ptr = _Storage._next

    def data_ptr(self):
        return self._ptr

    def nbytes(self):
        return self._nbytes


class Tensor:
    """shape → numel; `view()` shares the storage, as a real tensor view does."""

    def __init__(self, numel, dtype=float32, device="cuda:0", storage=None):
        self._numel, self.dtype, self.device = int(numel), dtype, globals()["device"](device)
        self._storage = storage or _Storage(self._numel * dtype.itemsize)
        if self.device.type == "cuda" and storage is None:
            cuda._fake_alloc(self.device.index, self._storage.nbytes())

    def numel(self):
        return self._numel

    def element_size(self):
        return self.dtype.itemsize

    def untyped_storage(self):
        return self._storage

    def view(self):
        return Tensor(self._numel, self.dtype, str(self.device), storage=self._storage)
