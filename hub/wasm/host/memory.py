"""The guest's linear memory as a host function sees it: bounds-checked reads and writes, and
allocation in the guest (proxy_on_memory_allocate, or the deprecated malloc the AssemblyScript
SDK exports — spec v0.2.1 "Memory management") for values the host hands back."""

from __future__ import annotations

import struct
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import wasmtime


class Fault(Exception):
    """A pointer or length outside the guest's memory: INVALID_MEMORY_ACCESS / WASI EFAULT."""


class Guest:
    def __init__(self, caller: wasmtime.Caller) -> None:
        import wasmtime

        self.caller = caller
        memory = caller.get("memory")
        if not isinstance(memory, wasmtime.Memory):
            raise Fault("the module exports no memory named 'memory'")
        self.memory = memory

    def _check(self, ptr: int, size: int) -> None:
        if ptr < 0 or size < 0 or ptr + size > self.memory.data_len(self.caller):
            raise Fault(f"{size} bytes at {ptr} are outside the guest's memory")

    def read(self, ptr: int, size: int) -> bytes:
        self._check(ptr, size)
        if size == 0:
            return b""
        return bytes(self.memory.read(self.caller, ptr, ptr + size))

    def text(self, ptr: int, size: int) -> str:
        return self.read(ptr, size).decode("utf-8", "replace")

    def write(self, ptr: int, data: bytes) -> None:
        self._check(ptr, len(data))
        if data:
            self.memory.write(self.caller, data, ptr)

    def u32(self, ptr: int, value: int) -> None:
        self.write(ptr, struct.pack("<I", value & 0xFFFFFFFF))

    def u64(self, ptr: int, value: int) -> None:
        self.write(ptr, struct.pack("<Q", value & 0xFFFFFFFFFFFFFFFF))

    def read_u32(self, ptr: int) -> int:
        value: int = struct.unpack("<I", self.read(ptr, 4))[0]
        return value

    def alloc(self, size: int) -> int:
        import wasmtime

        allocator = self.caller.get("proxy_on_memory_allocate") or self.caller.get("malloc")
        if not isinstance(allocator, wasmtime.Func):
            raise Fault("the module exports neither proxy_on_memory_allocate nor malloc")
        ptr = allocator(self.caller, size)
        if not isinstance(ptr, int) or ptr == 0:
            raise Fault(f"the module's allocator could not give {size} bytes")
        return ptr

    def give(self, data: bytes, ptr_ptr: int, size_ptr: int) -> None:
        """Copy data into freshly allocated guest memory; write its address and size."""
        ptr = 0
        if data:
            ptr = self.alloc(len(data))
            self.write(ptr, data)
        self.u32(ptr_ptr, ptr)
        self.u32(size_ptr, len(data))
