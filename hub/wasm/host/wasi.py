"""The WASI calls proxy-wasm filters import, under both `wasi_snapshot_preview1` and
`wasi_unstable` (the AssemblyScript SDK's proc_exit). Behaviour follows proxy-wasm-cpp-host:
stdout/stderr become log entries (info/error), there is no file system, no arguments, an
empty environment, real clocks and randomness, and proc_exit ends the run."""

from __future__ import annotations

import os
import struct
import time

from hub.wasm.host.abi import unsigned as _u
from hub.wasm.host.limits import ProcExit
from hub.wasm.host.memory import Guest
from hub.wasm.host.state import HostState

SUCCESS, BADF, FAULT, INVAL, NOENT, NOSYS, NOTSUP = 0, 8, 21, 28, 44, 52, 58
RANDOM_MAX = 64 * 1024  # cpp-host's PROXY_WASM_HOST_WASI_RANDOM_GET_MAX_SIZE_BYTES
WASI_MODULES = ("wasi_snapshot_preview1", "wasi_unstable")


class Wasi:
    def __init__(self, state: HostState) -> None:
        self.state = state

    def fd_write(self, g: Guest, fd: int, iovs: int, count: int, written_ptr: int) -> int:
        if fd not in (1, 2):
            return BADF
        chunks = []
        for i in range(_u(count)):
            base, size = struct.unpack("<II", g.read(_u(iovs) + 8 * i, 8))
            chunks.append(g.read(base, size))
        data = b"".join(chunks)
        text = data.decode("utf-8", "replace").removesuffix("\n")
        if text:
            self.state.log(2 if fd == 1 else 4, text, source="stdout" if fd == 1 else "stderr")
        g.u32(_u(written_ptr), len(data))
        return SUCCESS

    def fd_read(self, g: Guest, fd: int, iovs: int, count: int, read_ptr: int) -> int:
        return NOSYS

    def fd_seek(self, g: Guest, fd: int, offset: int, whence: int, new_ptr: int) -> int:
        return BADF

    def fd_close(self, g: Guest, fd: int) -> int:
        return SUCCESS

    def fd_fdstat_get(self, g: Guest, fd: int, stat_ptr: int) -> int:
        if fd not in (1, 2):
            return BADF
        # 24 bytes: filetype/flags zero, fs_rights_base = FD_WRITE (64), inheriting zero.
        g.write(_u(stat_ptr), struct.pack("<QQQ", 0, 64, 0))
        return SUCCESS

    def fd_fdstat_set_flags(self, g: Guest, fd: int, flags: int) -> int:
        return NOSYS

    def fd_prestat_get(self, g: Guest, fd: int, ptr: int) -> int:
        return BADF  # no preopened directories: libc stops looking

    def fd_prestat_dir_name(self, g: Guest, fd: int, ptr: int, size: int) -> int:
        return NOSYS

    def fd_filestat_get(self, g: Guest, fd: int, ptr: int) -> int:
        return BADF

    def path_open(
        self,
        g: Guest,
        fd: int,
        dirflags: int,
        path: int,
        path_len: int,
        oflags: int,
        base: int,
        inheriting: int,
        fdflags: int,
        fd_ptr: int,
    ) -> int:
        return NOENT

    def environ_sizes_get(self, g: Guest, count_ptr: int, size_ptr: int) -> int:
        g.u32(_u(count_ptr), 0)  # never the hub's own environment
        g.u32(_u(size_ptr), 0)
        return SUCCESS

    def environ_get(self, g: Guest, array_ptr: int, buf_ptr: int) -> int:
        return SUCCESS

    def args_sizes_get(self, g: Guest, argc_ptr: int, size_ptr: int) -> int:
        g.u32(_u(argc_ptr), 0)
        g.u32(_u(size_ptr), 0)
        return SUCCESS

    def args_get(self, g: Guest, argv_ptr: int, buf_ptr: int) -> int:
        return SUCCESS

    def clock_time_get(self, g: Guest, clock: int, precision: int, out_ptr: int) -> int:
        if clock == 0:
            now = time.time_ns()
        elif clock == 1:
            now = time.monotonic_ns()
        else:
            return NOTSUP
        g.u64(_u(out_ptr), now)
        return SUCCESS

    def clock_res_get(self, g: Guest, clock: int, out_ptr: int) -> int:
        if clock not in (0, 1):
            return NOTSUP
        g.u64(_u(out_ptr), 1)
        return SUCCESS

    def random_get(self, g: Guest, ptr: int, size: int) -> int:
        if _u(size) > RANDOM_MAX:
            return INVAL
        g.write(_u(ptr), os.urandom(_u(size)))
        return SUCCESS

    def sched_yield(self, g: Guest) -> int:
        return SUCCESS

    def poll_oneoff(self, g: Guest, subs: int, events: int, count: int, out_ptr: int) -> int:
        return NOSYS  # sleeping would only burn the CPU budget

    def proc_exit(self, g: Guest, code: int) -> None:
        raise ProcExit(_u(code))


# (params, results): "i" = i32, "I" = i64 (WASI snapshot preview1 witx).
WASI_FUNCTIONS: dict[str, tuple[str, str]] = {
    "fd_write": ("iiii", "i"),
    "fd_read": ("iiii", "i"),
    "fd_seek": ("iIii", "i"),
    "fd_close": ("i", "i"),
    "fd_fdstat_get": ("ii", "i"),
    "fd_fdstat_set_flags": ("ii", "i"),
    "fd_prestat_get": ("ii", "i"),
    "fd_prestat_dir_name": ("iii", "i"),
    "fd_filestat_get": ("ii", "i"),
    "path_open": ("iiiiiIIii", "i"),
    "environ_sizes_get": ("ii", "i"),
    "environ_get": ("ii", "i"),
    "args_sizes_get": ("ii", "i"),
    "args_get": ("ii", "i"),
    "clock_time_get": ("iIi", "i"),
    "clock_res_get": ("ii", "i"),
    "random_get": ("ii", "i"),
    "sched_yield": ("", "i"),
    "poll_oneoff": ("iiii", "i"),
    "proc_exit": ("i", ""),
}
