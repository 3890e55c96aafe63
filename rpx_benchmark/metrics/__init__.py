"""Metric suites. Modules here are imported by the metric registry on first use (see `rpx_benchmark.plugins`).

`depth_metrics` and `instance_segmentation_metrics` work on plain arrays and are available from here.
"""
import importlib

_EXPORTS = {'depth_metrics': 'depth', 'instance_segmentation_metrics': 'segmentation'}

def __getattr__(name):
    if name not in _EXPORTS: raise AttributeError(f"module 'rpx_benchmark.metrics' has no attribute {name!r}")
    return getattr(importlib.import_module(f'rpx_benchmark.metrics.{_EXPORTS[name]}'), name)
