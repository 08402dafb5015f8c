"""labkit: interactive lab for stress-testing saliency maps on chest X-rays."""
__version__ = "0.1.0"
