"""Slipway's model worker: loads one model with its runtime and serves predictions over a framed
socket protocol whose tensors are raw bytes (see protocol.py)."""
