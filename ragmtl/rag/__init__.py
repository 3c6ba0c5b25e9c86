"""Retrieval-augmented generation (Lewis et al., 2020): the RAG-Sequence and RAG-Token likelihoods,
a RAG model over a frozen FAISS index, RAG decoding, a pointer-generator and a small experiment.

The maths are pure functions (:mod:`.marginal`) checked against transformers'
``RagSequenceForGeneration`` / ``RagTokenForGeneration``; :class:`RAGModel` wires them to a query
encoder, a retriever and a seq2seq generator. :mod:`.toy` (imported on use) runs the chapter's
CLINC150 experiment. Open-book QA: :mod:`.chunks` cuts paragraphs into passages, :mod:`.reader` is an
extractive span reader, :mod:`.qa` splits SQuAD by article and marginalises answers over retrieved
passages (REALM, Guu et al., 2020), :mod:`.closed_book` is the no-retrieval generator and
:mod:`.baselines` gives the reader a random chunk of the article or the question alone.
"""
from .baselines import random_article_chunks, read_one_passage
from .chunks import Chunk, chunk_paragraphs, locate_answer, sentence_spans
from .closed_book import ClosedBookConfig, closed_book_generate, train_closed_book
from .decoding import DecodingConfig, beam_search, rag_sequence_generate, rag_token_generate
from .marginal import (doc_log_probs, doc_scores, marginalize, rag_sequence_nll, rag_token_nll,
                       shift_left, shift_right, token_log_likelihoods)
from .model import MARGINALIZATIONS, RAGConfig, RAGModel, RAGOutput, join_context
from .pointer import (PointerEncoderOutput, PointerGenerator, PointerGeneratorConfig, PointerOutput,
                      copy_distribution, pointer_mixture)
from .qa import (OpenBookQA, QAItem, ReadPassages, build_open_book_qa, passage_log_prior, predict, predict_oracle,
                 read_passages)
from .reader import ReaderConfig, ReaderExample, SpanReader, encode_pairs, reader_logits, train_reader
from .tokenizer import WordTokenizer, word_split

__all__ = [
    "DecodingConfig", "beam_search", "rag_sequence_generate", "rag_token_generate", "doc_log_probs",
    "doc_scores", "marginalize", "rag_sequence_nll", "rag_token_nll", "shift_left", "shift_right",
    "token_log_likelihoods", "MARGINALIZATIONS", "RAGConfig", "RAGModel", "RAGOutput", "join_context",
    "PointerEncoderOutput", "PointerGenerator", "PointerGeneratorConfig", "PointerOutput",
    "copy_distribution", "pointer_mixture", "WordTokenizer", "word_split",
    "Chunk", "chunk_paragraphs", "locate_answer", "sentence_spans", "ClosedBookConfig", "closed_book_generate",
    "train_closed_book", "OpenBookQA", "QAItem", "ReadPassages", "build_open_book_qa", "passage_log_prior", "predict",
    "predict_oracle", "read_passages", "ReaderConfig", "ReaderExample", "SpanReader", "encode_pairs",
    "reader_logits", "train_reader", "random_article_chunks", "read_one_passage",
]
