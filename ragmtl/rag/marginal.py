"""RAG-Sequence and RAG-Token likelihoods (Lewis et al., 2020, sec. 2.1): marginalising over documents.

The retriever is a bi-encoder (Karpukhin et al., 2020, DPR): a document's score is the inner product
``d(z)^T q(x)`` of its frozen vector with the query vector, and the top-k documents get
``p(z|x) = softmax_z d(z)^T q(x)`` over those k (:func:`doc_scores`, :func:`doc_log_probs`). The
scores are computed in torch from the stored document vectors, not taken from the index, so that
the generator's loss reaches the query encoder through them.

With ``log p(z|x)`` (log-softmax of ``doc_scores``) and the generator's next-token log-probabilities
``log p(y_t | x, z, y_<t)``:

* RAG-Sequence: one document for the whole answer,
  ``log p(y|x) = logsumexp_z [ log p(z|x) + sum_t log p(y_t | x, z, y_<t) ]``;
* RAG-Token: a document per token,
  ``log p(y|x) = sum_t logsumexp_z [ log p(z|x) + log p(y_t | x, z, y_<t) ]``.

Conventions (those of transformers' ``RagSequenceForGeneration.get_nll`` / ``RagTokenForGeneration``):
``seq_logits`` [B * n_docs, T, V] holds the generator's logits for the documents of query b in rows
``b * n_docs ... (b + 1) * n_docs - 1``; ``target`` [B, T] is aligned with them (``target[:, t]`` is the
token that ``seq_logits[:, t]`` predicts; turn decoder inputs into targets with :func:`shift_left`);
positions holding ``pad_token_id`` are left out of the sums. Label smoothing with ``epsilon`` mixes
in the sum of all V log-probabilities as transformers does:
``loss = (1 - epsilon) * nll + epsilon / V * smooth``.

Where we differ from transformers: its RAG-Sequence adds ``log p(z|x)`` to the *second* target
position before masking pads, so a target with fewer than two real tokens loses the document prior.
We add it once per document, always; the two agree whenever the second target position is not padding.
"""
from __future__ import annotations

import torch

__all__ = ["doc_scores", "doc_log_probs", "shift_left", "shift_right", "marginalize", "token_log_likelihoods",
           "rag_sequence_nll", "rag_token_nll"]


def doc_scores(query_emb: torch.Tensor, doc_emb: torch.Tensor) -> torch.Tensor:
    """Inner products ``<q(x), d(z)>`` of each query with its retrieved documents.

    ``query_emb`` [B, H], ``doc_emb`` [B, n_docs, H] -> [B, n_docs]. Raises ``ValueError`` when the
    shapes are not [B, H] and [B, n_docs, H] with the same B and H.
    """
    if query_emb.dim() != 2 or doc_emb.dim() != 3:
        raise ValueError(f"expected query_emb [B, H] and doc_emb [B, n_docs, H], got "
                         f"{tuple(query_emb.shape)} and {tuple(doc_emb.shape)}")
    if doc_emb.shape[0] != query_emb.shape[0] or doc_emb.shape[2] != query_emb.shape[1]:
        raise ValueError(f"query_emb {tuple(query_emb.shape)} and doc_emb {tuple(doc_emb.shape)} disagree: "
                         f"expected doc_emb [{query_emb.shape[0]}, n_docs, {query_emb.shape[1]}]")
    return torch.bmm(doc_emb.to(query_emb.dtype), query_emb.unsqueeze(-1)).squeeze(-1)


def doc_log_probs(query_emb: torch.Tensor, doc_emb: torch.Tensor) -> torch.Tensor:
    """``log p_eta(z | x)``: log-softmax over the retrieved documents of :func:`doc_scores`.

    ``query_emb`` [B, H], ``doc_emb`` [B, n_docs, H] -> [B, n_docs]; each row's exp sums to 1.
    """
    return torch.log_softmax(doc_scores(query_emb, doc_emb), dim=-1)


def shift_left(labels: torch.Tensor, pad_token_id: int) -> torch.Tensor:
    """Targets for logits computed with ``labels`` as decoder input: ``labels[:, 1:]`` then one pad.

    This is what transformers' RAG ``get_nll`` does (``labels`` double as ``decoder_input_ids``).
    ``labels`` [B, T] -> [B, T].
    """
    if labels.dim() != 2:
        raise ValueError(f"expected labels [B, T], got shape {tuple(labels.shape)}")
    return torch.cat([labels[:, 1:], labels.new_full((labels.shape[0], 1), pad_token_id)], dim=1)


def shift_right(target: torch.Tensor, start_token_id: int, pad_token_id: int | None = None) -> torch.Tensor:
    """Decoder inputs for teacher forcing: ``start_token_id`` then ``target[:, :-1]`` ([B, T] -> [B, T]).

    With ``pad_token_id``, ids of -100 (the ignore index) are replaced by it, as BART does.
    """
    if target.dim() != 2:
        raise ValueError(f"expected target [B, T], got shape {tuple(target.shape)}")
    out = torch.cat([target.new_full((target.shape[0], 1), start_token_id), target[:, :-1]], dim=1)
    if pad_token_id is not None:
        out = out.masked_fill(out == -100, pad_token_id)
    return out


def _f(x: torch.Tensor) -> torch.Tensor:
    """Compute in float32 at least (half-precision logits are upcast; float64 stays float64)."""
    return x if x.dtype in (torch.float32, torch.float64) else x.float()


def _check(seq_logits: torch.Tensor, doc_scores: torch.Tensor, target: torch.Tensor | None = None,
           n_docs: int | None = None) -> tuple[int, int]:
    """Validate shapes; return (batch size B, n_docs)."""
    if seq_logits.dim() != 3:
        raise ValueError(f"seq_logits must be [B * n_docs, T, V], got shape {tuple(seq_logits.shape)}")
    if doc_scores.dim() != 2:
        raise ValueError(f"doc_scores must be [B, n_docs], got shape {tuple(doc_scores.shape)}")
    batch, k = doc_scores.shape
    if n_docs is not None and n_docs != k:
        raise ValueError(f"n_docs={n_docs} but doc_scores has {k} documents per query (shape "
                         f"{tuple(doc_scores.shape)})")
    if seq_logits.shape[0] != batch * k:
        raise ValueError(f"seq_logits has {seq_logits.shape[0]} rows but doc_scores {tuple(doc_scores.shape)} "
                         f"asks for B * n_docs = {batch * k}")
    if target is not None:
        if target.dim() != 2:
            raise ValueError(f"target must be [B, T], got shape {tuple(target.shape)}")
        if target.shape[0] != batch:
            raise ValueError(f"target has batch size {target.shape[0]} but doc_scores has {batch}")
        if target.shape[1] != seq_logits.shape[1]:
            raise ValueError(f"target has {target.shape[1]} positions but seq_logits has {seq_logits.shape[1]}")
    return batch, k


def _target_mask(target: torch.Tensor, pad_token_id: int, vocab: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(mask of real tokens [B, T], target with pads replaced by 0 so it can index the vocabulary)."""
    mask = target.ne(pad_token_id)
    real = target[mask]
    if real.numel() and (int(real.min()) < 0 or int(real.max()) >= vocab):
        raise ValueError(f"target ids must lie in [0, {vocab}) (the vocabulary of seq_logits) or equal "
                         f"pad_token_id={pad_token_id}; found ids in [{int(real.min())}, {int(real.max())}]")
    return mask, target.masked_fill(~mask, 0)


def marginalize(seq_logits: torch.Tensor, doc_scores: torch.Tensor, n_docs: int | None = None) -> torch.Tensor:
    """RAG-Token next-token distribution ``log sum_z p(z|x) p(y_t | x, z, y_<t)`` at every position.

    ``seq_logits`` [B * n_docs, T, V], ``doc_scores`` [B, n_docs] -> log-probabilities [B, T, V].
    Raises ``ValueError`` when ``seq_logits`` does not have B * n_docs rows or ``n_docs`` disagrees
    with ``doc_scores``.
    """
    batch, k = _check(seq_logits, doc_scores, n_docs=n_docs)
    seq_logprobs = torch.log_softmax(_f(seq_logits), dim=-1).view(batch, k, *seq_logits.shape[1:])
    doc_logprobs = torch.log_softmax(_f(doc_scores), dim=1)[:, :, None, None]
    return torch.logsumexp(seq_logprobs + doc_logprobs, dim=1)


def token_log_likelihoods(seq_logits: torch.Tensor, target: torch.Tensor, pad_token_id: int) -> torch.Tensor:
    """``sum_t log p(y_t | x, z, y_<t)`` of each row: ``seq_logits`` [N, T, V], ``target`` [N, T] -> [N].

    Pads are left out. This is the per-document sequence score that RAG-Sequence decoding needs.
    """
    if seq_logits.dim() != 3 or target.shape != seq_logits.shape[:2]:
        raise ValueError(f"expected seq_logits [N, T, V] and target [N, T], got {tuple(seq_logits.shape)} "
                         f"and {tuple(target.shape)}")
    mask, safe = _target_mask(target, pad_token_id, seq_logits.shape[-1])
    logprobs = torch.log_softmax(_f(seq_logits), dim=-1)
    ll = logprobs.gather(-1, safe.unsqueeze(-1)).squeeze(-1)
    return ll.masked_fill(~mask, 0.0).sum(-1)


def _smoothed(nll: torch.Tensor, smooth: torch.Tensor, epsilon: float, vocab: int, reduce: bool) -> torch.Tensor:
    if not 0.0 <= epsilon < 1.0:
        raise ValueError(f"label smoothing epsilon must be in [0, 1), got {epsilon}")
    if reduce:
        nll, smooth = nll.sum(), smooth.sum()
    return (1.0 - epsilon) * nll + (epsilon / vocab) * smooth


def rag_sequence_nll(seq_logits: torch.Tensor, doc_scores: torch.Tensor, target: torch.Tensor,
                     pad_token_id: int, epsilon: float = 0.0, reduce: bool = True) -> torch.Tensor:
    """RAG-Sequence negative log-likelihood ``-logsumexp_z [log p(z|x) + sum_t log p(y_t|x,z,y_<t)]``.

    ``seq_logits`` [B * n_docs, T, V], ``doc_scores`` [B, n_docs] (unnormalised), ``target`` [B, T]
    aligned with the logits. Returns [B], or its sum with ``reduce`` (as transformers' ``reduce_loss``).
    Raises ``ValueError`` for rows != B * n_docs, a batch or length mismatch between ``target`` and the
    others, target ids outside the vocabulary, or ``epsilon`` outside [0, 1).
    """
    batch, k = _check(seq_logits, doc_scores, target)
    vocab = seq_logits.shape[-1]
    mask, safe = _target_mask(target, pad_token_id, vocab)
    seq_logprobs = torch.log_softmax(_f(seq_logits), dim=-1).view(batch, k, *seq_logits.shape[1:])
    doc_logprobs = torch.log_softmax(_f(doc_scores), dim=1)  # [B, n_docs]
    pads = ~mask[:, None, :]  # [B, 1, T]
    ll = seq_logprobs.gather(-1, safe[:, None, :, None].expand(batch, k, -1, 1)).squeeze(-1)  # [B, n_docs, T]
    ll = ll.masked_fill(pads, 0.0).sum(-1) + doc_logprobs  # log p(z|x) + log p(y|x,z)
    smooth = seq_logprobs.sum(-1).masked_fill(pads, 0.0).sum(-1) + vocab * doc_logprobs
    return _smoothed(-ll.logsumexp(1), -smooth.logsumexp(1), epsilon, vocab, reduce)


def rag_token_nll(seq_logits: torch.Tensor, doc_scores: torch.Tensor, target: torch.Tensor,
                  pad_token_id: int, epsilon: float = 0.0, reduce: bool = True) -> torch.Tensor:
    """RAG-Token negative log-likelihood ``-sum_t logsumexp_z [log p(z|x) + log p(y_t|x,z,y_<t)]``.

    Same arguments, shapes, options and errors as :func:`rag_sequence_nll`; returns [B] or its sum.
    """
    _check(seq_logits, doc_scores, target)
    vocab = seq_logits.shape[-1]
    mask, safe = _target_mask(target, pad_token_id, vocab)
    rag_logprobs = marginalize(seq_logits, doc_scores)  # [B, T, V]
    ll = rag_logprobs.gather(-1, safe.unsqueeze(-1)).squeeze(-1)
    smooth = rag_logprobs.sum(-1)
    ll, smooth = ll.masked_fill(~mask, 0.0).sum(1), smooth.masked_fill(~mask, 0.0).sum(1)
    return _smoothed(-ll, -smooth, epsilon, vocab, reduce)
