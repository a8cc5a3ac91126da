"""The offline tiny model: a real Qwen2 with ChatML tokens that round-trips through save/from_pretrained."""

import torch

from codepeft.chat import CHATML_TEMPLATE


def test_model_and_tokenizer_round_trip(tiny_model_dir, tmp_path):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    model = AutoModelForCausalLM.from_pretrained(tiny_model_dir)
    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    assert model.config.model_type == "qwen2" and 1e6 < model.num_parameters() < 1e7
    model.save_pretrained(tmp_path / "copy")
    tokenizer.save_pretrained(tmp_path / "copy")
    again = AutoModelForCausalLM.from_pretrained(tmp_path / "copy")
    tokenizer_again = AutoTokenizer.from_pretrained(tmp_path / "copy")

    text = "<|im_start|>user\ndef add(a, b):\n    return a + b  # ünïcode<|im_end|>\n"
    ids = tokenizer(text, add_special_tokens=False)["input_ids"]
    assert tokenizer_again(text, add_special_tokens=False)["input_ids"] == ids
    assert tokenizer.decode(ids) == text  # byte-level: any text survives
    for special in ("<|im_start|>", "<|im_end|>", "<|endoftext|>"):
        assert len(tokenizer(special, add_special_tokens=False)["input_ids"]) == 1
    assert tokenizer.eos_token == "<|im_end|>" and tokenizer.pad_token == "<|endoftext|>"
    assert tokenizer_again.chat_template == CHATML_TEMPLATE
    with torch.no_grad():
        batch = torch.tensor([ids])
        assert torch.equal(model(batch).logits, again(batch).logits)
    end_of_turn = tokenizer.convert_tokens_to_ids("<|im_end|>")
    assert end_of_turn in again.generation_config.eos_token_id
