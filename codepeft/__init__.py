"""codepeft: single- and multi-task QLoRA / full fine-tuning of code LLMs and their evaluation.

The library behind the scripts in generation/, summarization/, translation/, multitask/,
non_functional_analysis/, statistical_tests/ and dataset/. Heavy libraries (torch, transformers,
peft) are imported only by the modules that need them.
"""

__version__ = "0.1.0"
