"""rpx_benchmark: benchmark robot-perception models on three-phase RGB-D scenes.

The public API is re-exported here lazily (PEP 562), so `import rpx_benchmark` stays cheap and imports
torch only when a name that needs it is first used.
"""
__version__ = "0.1.0"

import importlib

_EXPORTS = {
    # errors
    'RPXError': 'errors', 'ConfigError': 'errors', 'DatasetError': 'errors', 'ManifestError': 'errors',
    'DownloadError': 'errors', 'ModelError': 'errors', 'AdapterError': 'errors', 'MetricError': 'errors',
    # logging
    'get_logger': 'log', 'configure_logging': 'log',
    # vocabulary
    'TaskType': 'api', 'Phase': 'api', 'Difficulty': 'api', 'ESD_WEIGHTS': 'api', 'Intrinsics': 'api',
    'Sample': 'api', 'ModelInput': 'api', 'BenchmarkModel': 'api', 'validate_prediction': 'api',
    # registries and the task contract
    'Registry': 'plugins', 'register_model': 'models.registry', 'available_models': 'models.registry', 'resolve': 'models.registry',
    'MetricCalculator': 'metrics.registry', 'MetricSpec': 'metrics.registry', 'register_metric': 'metrics.registry',
    'get_metric_suite': 'metrics.registry', 'TaskSpec': 'tasks.registry', 'Field': 'tasks.registry', 'register_task': 'tasks.registry',
    'available_tasks': 'tasks.registry', 'get_task': 'tasks.registry',
    # data
    'RPXDataset': 'loader', 'download_split': 'hub', 'generate': 'synthetic.dataset',
    # running and reporting
    'bench': 'pipeline', 'BenchConfig': 'pipeline', 'BenchmarkRunner': 'runner', 'BenchmarkResult': 'runner',
    'DeploymentReadinessReport': 'deployment', 'count_flops': 'profiling', 'write_reports': 'reports', 'compare': 'reports',
    # bring your own model
    'make_numpy_model': 'adapters', 'make_torch_model': 'adapters', 'make_hf_model': 'adapters',
    # the built-in tasks' own types and shortcuts
    'DepthGroundTruth': 'tasks.monocular_depth', 'DepthPrediction': 'tasks.monocular_depth',
    'make_numpy_depth_model': 'tasks.monocular_depth', 'SegmentationGroundTruth': 'tasks.segmentation',
    'SegmentationPrediction': 'tasks.segmentation', 'make_numpy_mask_model': 'tasks.segmentation',
    # metrics on plain arrays
    'depth_metrics': 'metrics.depth', 'instance_segmentation_metrics': 'metrics.segmentation',
}

def __getattr__(name):
    mod = _EXPORTS.get(name)
    if mod is None: raise AttributeError(f"module 'rpx_benchmark' has no attribute {name!r}")
    value = getattr(importlib.import_module(f'rpx_benchmark.{mod}'), name)
    globals()[name] = value
    return value

def __dir__(): return sorted(list(globals()) + list(_EXPORTS))

__all__ = ['__version__', *_EXPORTS]
