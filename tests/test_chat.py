"""One formatting path: the inference prompt is exactly the prefix of the training text."""

import pytest
from test_tasks import EXAMPLES, VARIANTS

from codepeft.chat import CHATML_TEMPLATE, format_example, inference_prompt
from codepeft.tasks import get_task

pytest_plugins = ("tokenizer_models",)  # model_tokenizer: the sample-trained tokenizer, then Qwen2.5's


@pytest.mark.parametrize(("task_name", "variant"), VARIANTS)
def test_inference_prompt_is_the_prefix_of_the_training_text(model_tokenizer, task_name, variant):
    task = get_task(task_name)
    example = EXAMPLES[task_name]
    formatted = format_example(model_tokenizer, task, example, variant)
    prompt = inference_prompt(model_tokenizer, task, example, variant)
    assert formatted.text.startswith(prompt) and formatted.prompt == prompt
    assert formatted.completion.startswith(task.messages(example, variant)[2]["content"])
    assert formatted.completion.endswith("<|im_end|>\n")  # the model learns to end its turn
    assert prompt.endswith("<|im_start|>assistant\n")
    # tokenised separately (as training does), the prompt's ids are the prefix of the whole text's ids
    prompt_ids = model_tokenizer(prompt, add_special_tokens=False)["input_ids"]
    assert model_tokenizer(formatted.text, add_special_tokens=False)["input_ids"][:len(prompt_ids)] == prompt_ids


def test_the_tokenizer_template_is_used_and_has_no_generation_markers(tiny_tokenizer):
    assert tiny_tokenizer.chat_template == CHATML_TEMPLATE
    assert "{% generation %}" not in CHATML_TEMPLATE


def test_fallback_template_for_tokenizers_without_one(tiny_model_dir, caplog):
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    tokenizer.chat_template = None
    formatted = format_example(tokenizer, get_task("translation"), EXAMPLES["translation"], "java_to_cs")
    assert formatted.prompt.startswith("<|im_start|>system\nYou are an expert code translator.")
    assert "built-in ChatML template" in caplog.text
