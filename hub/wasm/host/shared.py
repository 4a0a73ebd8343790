"""env.proxy_* for metrics, shared data and shared queues (part of `ProxyEnv`). The
playground runs one VM, so "shared" means shared with itself; the limits bound the bytes."""

from __future__ import annotations

from collections import deque

from hub.wasm.host.abi import MetricType, Status
from hub.wasm.host.abi import unsigned as _u
from hub.wasm.host.memory import Guest
from hub.wasm.host.state import HostState, Metric


class SharedCalls:
    state: HostState

    # -- metrics -------------------------------------------------------------------------------

    def proxy_define_metric(self, g: Guest, kind: int, name: int, size: int, id_ptr: int) -> int:
        if not 0 <= kind <= max(MetricType):
            return Status.BAD_ARGUMENT
        text = g.text(_u(name), _u(size))
        found = next((i for i, m in self.state.metrics.items() if m.name == text), None)
        if found is None:
            if len(self.state.metrics) >= self.state.limits.max_metrics:
                return Status.INTERNAL_FAILURE
            found = len(self.state.metrics) + 1
            self.state.metrics[found] = Metric(text, MetricType(kind))
        g.u32(_u(id_ptr), found)
        return Status.OK

    def proxy_increment_metric(self, g: Guest, metric_id: int, delta: int) -> int:
        metric = self.state.metrics.get(_u(metric_id))
        if metric is None:
            return Status.NOT_FOUND
        if metric.type == MetricType.COUNTER and delta < 0:
            return Status.BAD_ARGUMENT
        metric.value += delta
        return Status.OK

    def proxy_record_metric(self, g: Guest, metric_id: int, value: int) -> int:
        metric = self.state.metrics.get(_u(metric_id))
        if metric is None:
            return Status.NOT_FOUND
        metric.value = value & 0xFFFFFFFFFFFFFFFF
        return Status.OK

    def proxy_get_metric(self, g: Guest, metric_id: int, ptr: int) -> int:
        metric = self.state.metrics.get(_u(metric_id))
        if metric is None:
            return Status.NOT_FOUND
        g.u64(_u(ptr), metric.value)
        return Status.OK

    # -- shared data and queues ------------------------------------------------------------

    def proxy_get_shared_data(
        self, g: Guest, key: int, ksize: int, ptr_ptr: int, size_ptr: int, cas_ptr: int
    ) -> int:
        found = self.state.shared_data.get(g.text(_u(key), _u(ksize)))
        if found is None:
            return Status.NOT_FOUND
        g.give(found[0], _u(ptr_ptr), _u(size_ptr))
        g.u32(_u(cas_ptr), found[1])
        return Status.OK

    def proxy_set_shared_data(
        self, g: Guest, key: int, ksize: int, value: int, vsize: int, cas: int
    ) -> int:
        name, data = g.text(_u(key), _u(ksize)), g.read(_u(value), _u(vsize))
        current = self.state.shared_data.get(name)
        if _u(cas) and current is not None and current[1] != _u(cas):
            return Status.CAS_MISMATCH
        held = self.state.shared_bytes() - (len(current[0]) if current else 0)
        if held + len(data) > self.state.limits.max_shared_bytes:
            return Status.INTERNAL_FAILURE
        version = (current[1] + 1) if current else 1
        self.state.shared_data[name] = (data, version)
        self.state.record("set_shared_data", key=name, size=len(data))
        return Status.OK

    def proxy_register_shared_queue(self, g: Guest, name: int, size: int, token_ptr: int) -> int:
        text = g.text(_u(name), _u(size))
        token = self.state.queue_names.get(text)
        if token is None:
            token = len(self.state.queue_names) + 1
            self.state.queue_names[text] = token
            self.state.queues[token] = deque()
        g.u32(_u(token_ptr), token)
        return Status.OK

    def proxy_resolve_shared_queue(
        self, g: Guest, vm: int, vsize: int, name: int, size: int, token_ptr: int
    ) -> int:
        g.read(_u(vm), _u(vsize))
        token = self.state.queue_names.get(g.text(_u(name), _u(size)))
        if token is None:
            return Status.NOT_FOUND
        g.u32(_u(token_ptr), token)
        return Status.OK

    def proxy_enqueue_shared_queue(self, g: Guest, token: int, ptr: int, size: int) -> int:
        data = g.read(_u(ptr), _u(size))
        queue = self.state.queues.get(_u(token))
        if queue is None:
            return Status.NOT_FOUND
        if self.state.shared_bytes() + len(data) > self.state.limits.max_shared_bytes:
            return Status.INTERNAL_FAILURE
        queue.append(data)
        return Status.OK

    def proxy_dequeue_shared_queue(self, g: Guest, token: int, ptr_ptr: int, size_ptr: int) -> int:
        queue = self.state.queues.get(_u(token))
        if queue is None:
            return Status.NOT_FOUND
        if not queue:
            return Status.EMPTY
        g.give(queue.popleft(), _u(ptr_ptr), _u(size_ptr))
        return Status.OK
