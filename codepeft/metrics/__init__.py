"""Correctness metrics: pass@k (``passk``), text metrics, CodeBLEU, the LLM judge of summaries (``judge``).

Each metric lives in its own module and is imported from there, so that importing one metric never
loads the heavy dependencies of another (this file deliberately imports nothing).
"""
