"""Keras-compatible preprocessing: the legacy text ``Tokenizer`` and ``pad_sequences``."""
from . import sequence, text
from .sequence import pad_sequences
from .text import Tokenizer, hashing_trick, one_hot, text_to_word_sequence, tokenizer_from_json

__all__ = [
    "Tokenizer",
    "hashing_trick",
    "one_hot",
    "pad_sequences",
    "sequence",
    "text",
    "text_to_word_sequence",
    "tokenizer_from_json",
]
