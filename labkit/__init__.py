"""labkit: interactive lab for stress-testing saliency maps on chest X-rays."""
import os

__version__ = "0.1.0"

# OpenMP threads that finish an op first sleep instead of spinning for their
# partners (libgomp reads this once, when torch loads it, so it only takes effect
# if labkit is imported before torch). On a CPU that other users share, spinning
# threads burn the cores their descheduled partners need: measured, SmoothGrad
# on 64 images with 2 threads took 15.4 s of CPU spinning vs 3.4 s passive
# (benchmarks/README.md, "Explainers"). An explicit setting is kept. Alone on a
# quiet machine, a short spin is faster (GOMP_SPINCOUNT=10000: training epochs
# about 7 %, batched SmoothGrad 23 %), but 1.8× slower for SmoothGrad when other
# processes load the cores, so passive stays the default ("Training", ibid.).
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
