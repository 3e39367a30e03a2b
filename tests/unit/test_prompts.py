"""The math prompt variants, pinned byte for byte against the entry's own script and report."""

import pytest

from mathlora import prompts


def test_entry_prompt_is_the_scripts_bytes():
    # run_llama3_test.py, line 157 of the entry's screenshot: the typo "promblem", a space after the
    # newline and a colon after "###answer".
    built = prompts.math_prompt("计算 1 + 2 等于多少？")
    assert built.encode("utf-8") == (
        b"Please answer the following math promblem:\n \xe8\xae\xa1\xe7\xae\x97 1 + 2 "
        b"\xe7\xad\x89\xe4\xba\x8e\xe5\xa4\x9a\xe5\xb0\x91\xef\xbc\x9f\n###answer:")
    assert prompts.DEFAULT_MATH_PROMPT == "entry"


def test_report_prose_variant_is_selectable():
    assert prompts.math_prompt("x", "report") == "Please answer the following math problems:\nx\n###answer"


def test_finetune_variant_is_the_training_conversation_up_to_the_answer():
    from mathlora.data.qa import render

    problem = "计算 1 + 2 等于多少？"
    rendered = render(prompts.train_human(problem), "1 + 2 = 3")
    assert rendered.startswith(prompts.math_prompt(problem, "finetune"))
    assert rendered[len(prompts.math_prompt(problem, "finetune")):] == " 1 + 2 = 3</s>"


def test_unknown_variant_names_the_choices():
    with pytest.raises(ValueError, match="entry, report, finetune"):
        prompts.math_prompt("x", "prose")
