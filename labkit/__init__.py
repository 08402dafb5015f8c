"""labkit: interactive lab for stress-testing saliency maps on chest X-rays."""
import os

__version__ = "0.1.0"

# OpenMP threads that finish an op first sleep instead of spinning for their
# partners (libgomp reads this once, when torch loads it, so it only takes effect
# if labkit is imported before torch). On a CPU that other users share, spinning
# threads burn the cores their descheduled partners need: measured, SmoothGrad
# on 64 images with 2 threads took 15.4 s of CPU spinning vs 3.4 s passive
# (benchmarks/README.md, "Explainers"). An explicit setting is kept.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
