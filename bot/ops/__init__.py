"""Operations: Prometheus metrics, health endpoints (see bot.ops.metrics, bot.ops.health).

Self-contained: the composition root (bot.app) creates a :class:`~bot.ops.metrics.Metrics`, hands it to
the senders and intake, and starts a :class:`~bot.ops.metrics.MetricsServer` on its own address.
"""

from bot.ops.health import Health
from bot.ops.metrics import Metrics, MetricsServer

__all__ = ["Health", "Metrics", "MetricsServer"]
