"""Operations: request ids, structured logs, Prometheus metrics, health and readiness."""
