"""Correctness metrics: pass@k (``passk``), text metrics, CodeBLEU.

Each metric lives in its own module and is imported from there, so that importing one metric never
loads the heavy dependencies of another (this file deliberately imports nothing).
"""
