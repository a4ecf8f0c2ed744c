"""Data sets for examples and tests: IMDB (Keras-compatible), text and time-series corpora.

Files are found through an explicit ``path``, ``$RNNKIT_DATA``, or the cache
(``$RNNKIT_CACHE``, default ``~/.rnnkit/datasets``), and downloaded (checksum
verified) into the cache when possible.
"""
from . import corpora, imdb
from .corpora import CharCorpus, load_airline_passengers, load_char_corpus, make_windows

__all__ = ["CharCorpus", "corpora", "imdb", "load_airline_passengers", "load_char_corpus", "make_windows"]
