"""metrics package: modules here are imported by the registry on first use (see `rpx_benchmark.plugins`)."""
