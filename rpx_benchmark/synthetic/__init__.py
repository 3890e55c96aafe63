"""The synthetic three-phase RGB-D dataset: layout, ray casting, the sensor, and the dataset writer.

One chapter per module: `nbs/10_synth_layout`, `11_synth_raycast`, `12_synth_sensor`, `13_synth_dataset`.
The names most users need are re-exported here lazily.
"""
import importlib

_EXPORTS = {'generate': 'dataset', 'GENERATOR_VERSION': 'dataset', 'write_checksums': 'dataset', 'SynthContext': 'dataset',
            'ensure_task_splits': 'dataset', 'SIZES': 'layout', 'ARM_ID': 'layout', 'DEPTH_RANGE': 'layout',
            'intrinsics_for': 'layout', 'render': 'sensor'}

def __getattr__(name):
    if name not in _EXPORTS: raise AttributeError(f"module 'rpx_benchmark.synthetic' has no attribute {name!r}")
    return getattr(importlib.import_module(f'rpx_benchmark.synthetic.{_EXPORTS[name]}'), name)

__all__ = list(_EXPORTS)
