"""Metrics: pass@k (``passk``), the text metrics of summaries (n-gram ``ngram``, embedding ``embedding``, a
predictions file scored by ``text``; WordNet for METEOR in ``wordnet``), CodeBLEU (``codebleu``), the LLM judge
of summaries (the ``judge`` package), and the measures the statistics and the report name (``measures``).

Each metric lives in its own module and is imported from there, so that importing one metric never
loads the heavy dependencies of another (this file deliberately imports nothing).
"""
