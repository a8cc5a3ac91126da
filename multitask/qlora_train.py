"""QLoRA (4-bit NF4 base + LoRA) of Qwen2.5-Coder-Instruct on several tasks at once (multi-task). Run with --help for the flags."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from codepeft.cli import main_entry
from codepeft.training.arguments import parse_config
from codepeft.training.run import run_training

if __name__ == "__main__":
    main_entry(lambda: run_training(parse_config("multitask", "qlora")))
