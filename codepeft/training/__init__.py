"""Training: full fine-tuning and QLoRA, single-task and multi-task (see ``run.run_training``)."""
