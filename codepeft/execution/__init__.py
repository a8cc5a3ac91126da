"""Execute generated code against tests in a sandbox: Python and Java runners, benchmarks, CoderEval's Docker harness.

Entry points: :func:`codepeft.execution.executor.execute_predictions` (what ``generation/execute_local.py``
calls), :class:`codepeft.execution.sandbox.Sandbox`, and
:func:`codepeft.execution.codereval_docker.run_codereval_docker`. This file imports nothing, so that
importing one part does not load the others.
"""
