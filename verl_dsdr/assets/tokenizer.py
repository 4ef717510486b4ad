"""A tiny byte-level BPE tokenizer with Qwen's special tokens and ChatML chat template.

Built on the machine with the `tokenizers` library (no hub download) and wrapped as a
`transformers.PreTrainedTokenizerFast`, so verl loads it with `AutoTokenizer.from_pretrained`
exactly as it loads a Qwen tokenizer. The vocabulary is a few hundred tokens: the 256 byte
symbols (so any text encodes and decodes exactly), Qwen's three special tokens, and merges
learnt from the task's own text (template words, `\\boxed`, `\\times`, ...), so the model's
embedding table stays tiny.
"""

from __future__ import annotations

from collections.abc import Iterable

from tokenizers import Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, trainers
from transformers import PreTrainedTokenizerBase, PreTrainedTokenizerFast

PAD_TOKEN = "<|endoftext|>"
IM_START_TOKEN = "<|im_start|>"
EOS_TOKEN = "<|im_end|>"
SPECIAL_TOKENS: tuple[str, ...] = (PAD_TOKEN, IM_START_TOKEN, EOS_TOKEN)

# Qwen2's own pre-tokenization (split pattern, NFC normalisation, byte-level symbols). It must be
# exactly Qwen2's: for a checkpoint whose config says `model_type: qwen2`, transformers 5's
# `AutoTokenizer` builds `Qwen2Tokenizer`, which keeps the saved vocabulary and merges but
# re-creates this pipeline, so any other choice would tokenize differently after loading.
# It spells numbers digit by digit and keeps a leading space on words.
PRETOKENIZE_PATTERN = (
    r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"
)

# Qwen2.5's ChatML layout without its default system message (which would not fit the task's
# 64-token prompt budget): each turn is `<|im_start|>ROLE\nCONTENT<|im_end|>\n`, and
# `add_generation_prompt` opens an assistant turn. Content may be a string or a list of
# `{"type": "text", "text": ...}` parts (verl probes templates with both forms).
CHAT_TEMPLATE = (
    "{%- for message in messages -%}"
    "{{- '<|im_start|>' + message['role'] + '\\n' -}}"
    "{%- if message['content'] is string -%}"
    "{{- message['content'] -}}"
    "{%- else -%}"
    "{%- for part in message['content'] -%}"
    "{%- if part['type'] == 'text' -%}{{- part['text'] -}}{%- endif -%}"
    "{%- endfor -%}"
    "{%- endif -%}"
    "{{- '<|im_end|>\\n' -}}"
    "{%- endfor -%}"
    "{%- if add_generation_prompt -%}"
    "{{- '<|im_start|>assistant\\n' -}}"
    "{%- endif -%}"
)


def train_bpe(corpus: Iterable[str], vocab_size: int) -> Tokenizer:
    """Learn byte-level BPE merges on `corpus` until the vocabulary has `vocab_size` entries.

    The special tokens get ids 0, 1, 2 and all 256 byte symbols are always in the vocabulary,
    so the result encodes any text and `decode(encode(x)) == x`.
    """
    min_size = len(SPECIAL_TOKENS) + 256
    if vocab_size < min_size:
        raise ValueError(
            f"vocab_size={vocab_size} is too small: it must be at least {min_size} (special tokens + 256 bytes)"
        )
    tokenizer = Tokenizer(models.BPE())
    tokenizer.normalizer = normalizers.NFC()
    tokenizer.pre_tokenizer = pre_tokenizers.Sequence(
        [
            pre_tokenizers.Split(Regex(PRETOKENIZE_PATTERN), behavior="isolated"),
            pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
        ]
    )
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        min_frequency=2,
        special_tokens=list(SPECIAL_TOKENS),
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tokenizer.train_from_iterator(list(corpus), trainer=trainer)
    return tokenizer


def wrap_tokenizer(tokenizer: Tokenizer, model_max_length: int = 512) -> PreTrainedTokenizerFast:
    """Wrap a `tokenizers.Tokenizer` as a transformers tokenizer with Qwen's special tokens.

    `clean_up_tokenization_spaces=False` keeps decoding exact (the cleanup would delete the
    space in "11 ." and similar), which the verifier relies on.
    """
    return PreTrainedTokenizerFast(
        tokenizer_object=tokenizer,
        pad_token=PAD_TOKEN,
        eos_token=EOS_TOKEN,
        additional_special_tokens=[IM_START_TOKEN],
        chat_template=CHAT_TEMPLATE,
        clean_up_tokenization_spaces=False,
        model_max_length=model_max_length,
    )


def build_tokenizer(corpus: Iterable[str], vocab_size: int, model_max_length: int = 512) -> PreTrainedTokenizerFast:
    """Train the byte-level BPE on `corpus` and wrap it (see `train_bpe`, `wrap_tokenizer`)."""
    return wrap_tokenizer(train_bpe(corpus, vocab_size), model_max_length=model_max_length)


def token_id(tokenizer: PreTrainedTokenizerBase, token: str) -> int:
    """The id of one special token (``PAD_TOKEN``, ``EOS_TOKEN``); a clear error when the tokenizer lacks it."""
    found = tokenizer.convert_tokens_to_ids(token)
    if not isinstance(found, int) or tokenizer.convert_ids_to_tokens(found) != token:
        raise ValueError(f"the tokenizer has no token {token!r} (got id {found!r}); build it with build_tokenizer")
    return found
