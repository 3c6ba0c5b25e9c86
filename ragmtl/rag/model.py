"""RAG as one module (Lewis et al., 2020): trainable query encoder, frozen index, seq2seq generator.

The forward pass follows the paper's training setup:

1. ``q = query_encoder(query_inputs)`` [B, H] (trainable);
2. top-``n_docs`` search in a FAISS index of the frozen document vectors (the index is not updated,
   as in the paper, where re-indexing the document encoder was too costly);
3. ``doc_scores = <q, d(z)>`` recomputed in torch from the stored vectors, so the loss reaches the
   query encoder through ``log p(z|x)`` (the document vectors are a buffer and get no gradient);
4. each document joined with the question as transformers' ``RagRetriever`` does
   (``prefix + title + " / " + text + " // " + question``), tokenised for the generator;
5. the RAG-Sequence or RAG-Token negative log-likelihood (:mod:`ragmtl.rag.marginal`).
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Sequence

import numpy as np
import torch
from torch import nn

from .decoding import DecodingConfig, rag_sequence_generate, rag_token_generate
from .marginal import doc_scores as inner_products
from .marginal import rag_sequence_nll, rag_token_nll, shift_right

__all__ = ["RAGConfig", "RAGOutput", "RAGModel", "join_context", "MARGINALIZATIONS"]

MARGINALIZATIONS = ("sequence", "token")


def join_context(doc_text: str, question: str, title: str | None = None, title_sep: str = " / ",
                 doc_sep: str = " // ", prefix: str = "") -> str:
    """The generator's input for one document, as transformers' ``RagRetriever.postprocess_docs``:
    ``prefix + title + title_sep + text + doc_sep + question`` with double spaces collapsed once and
    surrounding quotes taken off the title; without a title, ``prefix + text + doc_sep + question``."""
    head = doc_text if title is None else title.removeprefix('"').removesuffix('"') + title_sep + doc_text
    return (prefix + head + doc_sep + question).replace("  ", " ")


@dataclass
class RAGConfig:
    """Settings of :class:`RAGModel`."""

    n_docs: int = 5  # k: documents retrieved per query
    marginalization: str = "sequence"  # "sequence" (RAG-Sequence) or "token" (RAG-Token)
    label_smoothing: float = 0.0  # epsilon, as transformers' RagConfig.label_smoothing
    max_source_length: int = 128  # generator input tokens (document + question)
    title_sep: str = " / "
    doc_sep: str = " // "
    prefix: str = ""
    decoder_start_token_id: int | None = None  # None: the generator config's

    def __post_init__(self) -> None:
        if self.marginalization not in MARGINALIZATIONS:
            raise ValueError(f"marginalization must be one of {list(MARGINALIZATIONS)}, got {self.marginalization!r}")
        if self.n_docs < 1:
            raise ValueError(f"n_docs must be >= 1, got {self.n_docs}")
        if not 0.0 <= self.label_smoothing < 1.0:
            raise ValueError(f"label_smoothing must be in [0, 1), got {self.label_smoothing}")


@dataclass
class RAGOutput:
    """``loss`` (mean of ``nll`` over the batch), ``nll`` [B], ``doc_scores`` [B, k], ``doc_ids`` [B, k],
    ``seq_logits`` [B * k, T, V]."""

    loss: torch.Tensor
    nll: torch.Tensor
    doc_scores: torch.Tensor
    doc_ids: torch.Tensor
    seq_logits: torch.Tensor


class RAGModel(nn.Module):
    """Retrieval-augmented generator: ``forward(query_inputs, questions, labels) -> RAGOutput``.

    ``query_encoder`` maps ``query_inputs`` (a tensor, or a mapping passed as keyword arguments) to [B, H];
    ``doc_embeddings`` [N, H] are the frozen document vectors (``doc_texts``/``doc_titles`` their text);
    ``generator`` is a seq2seq model (BART, :class:`ragmtl.rag.PointerGenerator`) and ``tokenizer`` its
    tokenizer (transformers-style call; ``pad_token_id`` and ``eos_token_id``). ``retriever`` is anything
    with ``search(vectors [B, H], k) -> (scores, ids)``; by default an exact FAISS
    :class:`ragmtl.retrieval.DenseRetriever` over ``doc_embeddings``. Raises ``ValueError`` when the
    document texts, titles and vectors disagree in number or when the query dimension differs.
    """

    def __init__(self, query_encoder: nn.Module, doc_embeddings, doc_texts: Sequence[str], generator: nn.Module,
                 tokenizer, config: RAGConfig | None = None, doc_titles: Sequence[str] | None = None,
                 retriever=None) -> None:
        super().__init__()
        self.config = config or RAGConfig()
        if torch.is_tensor(doc_embeddings):
            vectors = doc_embeddings.detach().float().cpu()
        else:
            vectors = torch.as_tensor(np.asarray(doc_embeddings, dtype=np.float32))
        if vectors.dim() != 2 or vectors.shape[0] != len(doc_texts):
            raise ValueError(f"doc_embeddings must be [N, H] with N = len(doc_texts) = {len(doc_texts)}, "
                             f"got {tuple(vectors.shape)}")
        if doc_titles is not None and len(doc_titles) != len(doc_texts):
            raise ValueError(f"{len(doc_titles)} titles for {len(doc_texts)} documents")
        if self.config.n_docs > len(doc_texts):
            raise ValueError(f"n_docs={self.config.n_docs} exceeds the {len(doc_texts)} documents")
        self.query_encoder, self.generator, self.tokenizer = query_encoder, generator, tokenizer
        self.register_buffer("doc_embeddings", vectors, persistent=False)  # frozen: a buffer, no gradient
        self.doc_texts, self.doc_titles = list(doc_texts), None if doc_titles is None else list(doc_titles)
        if retriever is None:
            from ragmtl.retrieval import DenseRetriever

            retriever = DenseRetriever().index_vectors(vectors.numpy())
        self.retriever = retriever

    @property
    def decoder_start_token_id(self) -> int:
        if self.config.decoder_start_token_id is not None:
            return self.config.decoder_start_token_id
        start = getattr(getattr(self.generator, "config", None), "decoder_start_token_id", None)
        if start is None:
            raise ValueError("set RAGConfig.decoder_start_token_id: the generator's config has none")
        return int(start)

    def encode_queries(self, query_inputs) -> torch.Tensor:
        if isinstance(query_inputs, Mapping):
            q = self.query_encoder(**query_inputs)
        else:
            q = self.query_encoder(query_inputs)
        if q.dim() != 2 or q.shape[1] != self.doc_embeddings.shape[1]:
            raise ValueError(f"the query encoder returned {tuple(q.shape)}; expected [B, "
                             f"{self.doc_embeddings.shape[1]}] to match the document vectors")
        return q

    def retrieve(self, query_inputs, n_docs: int | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """Top documents: (doc_ids [B, k] from the index, doc_scores [B, k] recomputed in torch, with grad)."""
        k = n_docs or self.config.n_docs
        q = self.encode_queries(query_inputs)
        _, ids = self.retriever.search(q.detach().float().cpu().numpy(), k)
        doc_ids = torch.as_tensor(ids, dtype=torch.long, device=self.doc_embeddings.device)
        return doc_ids, inner_products(q, self.doc_embeddings[doc_ids])

    def contexts(self, questions: Sequence[str], doc_ids: torch.Tensor) -> dict[str, torch.Tensor]:
        """Tokenised generator inputs [B * k, S] for each question joined with each of its documents."""
        if len(questions) != doc_ids.shape[0]:
            raise ValueError(f"{len(questions)} questions for {doc_ids.shape[0]} rows of doc_ids")
        c = self.config
        texts = [join_context(self.doc_texts[z], q, None if self.doc_titles is None else self.doc_titles[z],
                              c.title_sep, c.doc_sep, c.prefix)
                 for q, row in zip(questions, doc_ids.tolist()) for z in row]
        enc = self.tokenizer(texts, padding=True, truncation=True, max_length=c.max_source_length,
                             return_tensors="pt")
        device = self.doc_embeddings.device
        return {"input_ids": enc["input_ids"].to(device), "attention_mask": enc["attention_mask"].to(device)}

    def forward(self, query_inputs, questions: Sequence[str], labels: torch.Tensor) -> RAGOutput:
        """Loss for target ids ``labels`` [B, T] (ending with EOS; padded with the pad id or -100)."""
        doc_ids, scores = self.retrieve(query_inputs)
        k, pad = doc_ids.shape[1], self.tokenizer.pad_token_id
        if labels.dim() != 2 or labels.shape[0] != doc_ids.shape[0]:
            raise ValueError(f"labels must be [B, T] with B = {doc_ids.shape[0]} queries, got {tuple(labels.shape)}")
        labels = labels.masked_fill(labels == -100, pad).to(scores.device)
        ctx = self.contexts(questions, doc_ids)
        decoder_input_ids = shift_right(labels, self.decoder_start_token_id).repeat_interleave(k, dim=0)
        logits = self.generator(input_ids=ctx["input_ids"], attention_mask=ctx["attention_mask"],
                                decoder_input_ids=decoder_input_ids).logits
        nll_fn = rag_sequence_nll if self.config.marginalization == "sequence" else rag_token_nll
        nll = nll_fn(logits, scores, labels, pad, epsilon=self.config.label_smoothing, reduce=False)
        return RAGOutput(nll.mean(), nll, scores, doc_ids, logits)

    @torch.no_grad()
    def generate(self, query_inputs, questions: Sequence[str], mode: str = "token", max_length: int = 20,
                 num_beams: int = 1, thorough: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
        """Decode answers with ``mode`` "token" (RAG-Token) or "sequence" (RAG-Sequence, fast unless
        ``thorough``): (sequences [B, L], scores [B]); see :mod:`ragmtl.rag.decoding`."""
        if mode not in MARGINALIZATIONS:
            raise ValueError(f"mode must be one of {list(MARGINALIZATIONS)}, got {mode!r}")
        doc_ids, scores = self.retrieve(query_inputs)
        ctx = self.contexts(questions, doc_ids)
        config = DecodingConfig(self.decoder_start_token_id, self.tokenizer.eos_token_id, self.tokenizer.pad_token_id,
                                max_length=max_length, num_beams=num_beams)
        if mode == "token":
            return rag_token_generate(self.generator, ctx["input_ids"], ctx["attention_mask"], scores, config)
        return rag_sequence_generate(self.generator, ctx["input_ids"], ctx["attention_mask"], scores, config,
                                     thorough=thorough)
