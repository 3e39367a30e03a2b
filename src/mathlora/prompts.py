"""Every prompt string of the entry and the organisers, in one place.

``submission/run_llama3_test.py`` ships a byte-identical copy of the math prompt (it must run in the
contest environment without this package); a test holds the two together.
"""

# The entry's inference prompt (from its run_llama3_test.py).
MATH_PROMPT_PREFIX = "Please answer the following math problems:\n"
MATH_PROMPT_SUFFIX = "\n###answer:"

# The entry's training conversation: human = prefix + " " + problem, gpt = solution.
TRAIN_HUMAN_PREFIX = "请解答如下数学问题："

# FastChat vicuna v1.1, as the organisers' llama_preprocess.py renders each conversation.
VICUNA_SYSTEM = (
    "A chat between a curious user and an artificial intelligence assistant. "
    "The assistant gives helpful, detailed, and polite answers to the user's questions."
)
VICUNA_USER = "USER"
VICUNA_ASSISTANT = "ASSISTANT"
VICUNA_ROUND_END = "</s>"

# The organisers' SQuAD original-ability prompt.
SQUAD_PROMPT = (
    "Read the passage and answer the question below.\n\n"
    "### Instruction:\n{context}\n\n### Input:\n{question}\n\n### Response:"
)


def math_prompt(problem: str) -> str:
    """The prompt the entry's predict script wraps around each test problem."""
    return MATH_PROMPT_PREFIX + problem + MATH_PROMPT_SUFFIX


def train_human(problem: str) -> str:
    """The human turn of a training conversation."""
    return f"{TRAIN_HUMAN_PREFIX} {problem}"


def squad_prompt(context: str, question: str) -> str:
    return SQUAD_PROMPT.format(context=context, question=question)
