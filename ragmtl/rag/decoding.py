"""Decoding for RAG (Lewis et al., 2020, sec. 2.5): RAG-Token beam/greedy, RAG-Sequence fast/thorough.

* RAG-Token is an ordinary autoregressive model whose next-token distribution is the mixture
  ``p(y_t | x, y_<t) = sum_z p(z|x) p(y_t | x, z, y_<t)`` (:func:`ragmtl.rag.marginal.marginalize`),
  so greedy or beam search runs on that mixture.
* RAG-Sequence does not factor over tokens. "Thorough decoding" beam-searches each document
  separately, pools the hypotheses Y, and scores every y in Y with ``sum_z p(z|x) p(y|x,z)`` (one more
  forward pass per document). "Fast decoding" skips that pass: ``p(y|x,z)`` is taken as 0 for every
  document whose beam did not produce y, so y's score sums over the documents that produced it.

``generator`` is any seq2seq model called as ``generator(input_ids=..., attention_mask=...,
decoder_input_ids=..., encoder_outputs=...)`` returning ``.logits`` [N, T, V] and with
``get_encoder()`` (transformers' BART, :class:`ragmtl.rag.PointerGenerator`). Contexts are
[B * n_docs, S], rows grouped by query as in :mod:`ragmtl.rag.marginal`. Decoding never emits the
pad token. Outputs are (sequences [B, L] of generated ids, EOS included, pad after, without the start
token; scores [B] = the log-probability used to rank them).
"""
from __future__ import annotations

import inspect
from dataclasses import dataclass

import torch

from .marginal import marginalize, rag_sequence_nll

__all__ = ["DecodingConfig", "beam_search", "rag_token_generate", "rag_sequence_generate"]


@dataclass(frozen=True)
class DecodingConfig:
    """Token ids and lengths shared by every decoding function."""

    decoder_start_token_id: int
    eos_token_id: int
    pad_token_id: int
    max_length: int = 20  # generated tokens, EOS included
    num_beams: int = 1  # 1: greedy

    def __post_init__(self) -> None:
        if self.max_length < 1 or self.num_beams < 1:
            raise ValueError(f"max_length and num_beams must be >= 1, got {self.max_length} and {self.num_beams}")
        if self.eos_token_id == self.pad_token_id:
            raise ValueError("eos_token_id and pad_token_id must differ: pads after EOS would be ambiguous")


def _pad_rows(rows: list[list[int]], pad: int) -> torch.Tensor:
    out = torch.full((len(rows), max(1, max(len(r) for r in rows))), pad, dtype=torch.long)
    for i, r in enumerate(rows):
        out[i, : len(r)] = torch.tensor(r, dtype=torch.long)
    return out


def beam_search(step_log_probs, batch_size: int, config: DecodingConfig,
                num_return: int = 1) -> list[list[tuple[list[int], float]]]:
    """Beam search over any next-token model; returns, per item, up to ``num_return`` (tokens, score), best first.

    ``step_log_probs(prefixes [batch_size * num_beams, L]) -> [batch_size * num_beams, V]`` gives log-probs
    for rows ordered (item, beam); prefixes start with the decoder start token. Scores are summed
    log-probabilities (no length penalty). As in transformers, an EOS candidate is kept only when it
    ranks among the best ``num_beams`` expansions of its item. Search stops for an item once its best
    finished score is at least its best open score (scores only fall as tokens are added), and at
    ``max_length`` open beams are finished as they are. With ``num_beams`` no smaller than the number of
    expansions at every step the search is exhaustive; with one beam it is greedy decoding.
    """
    k = config.num_beams
    if k == 1 and num_return == 1:
        return _greedy(step_log_probs, batch_size, config)
    prefixes = torch.full((batch_size * k, 1), config.decoder_start_token_id, dtype=torch.long)
    scores = torch.full((batch_size, k), float("-inf"))
    scores[:, 0] = 0.0
    finished: list[list[tuple[list[int], float]]] = [[] for _ in range(batch_size)]
    done = [False] * batch_size
    for step in range(config.max_length):
        logp = step_log_probs(prefixes).float().cpu()
        logp[:, config.pad_token_id] = float("-inf")
        vocab = logp.shape[-1]
        cand = (scores.unsqueeze(-1) + logp.view(batch_size, k, vocab)).view(batch_size, -1)
        top_scores, top_ids = cand.topk(min(2 * k, cand.shape[1]), dim=1)
        last = step == config.max_length - 1
        new_prefix, new_scores = [], torch.full((batch_size, k), float("-inf"))
        for b in range(batch_size):
            alive: list[tuple[int, int]] = []  # (source row, token)
            if not done[b]:
                for rank, (s, flat) in enumerate(zip(top_scores[b].tolist(), top_ids[b].tolist())):
                    if s == float("-inf") or len(alive) == k:
                        break
                    beam, token = divmod(flat, vocab)
                    row = b * k + beam
                    if token == config.eos_token_id or last:
                        if rank < k:  # an ending enters only among the item's best k expansions
                            finished[b].append((prefixes[row, 1:].tolist() + [token], s))
                    else:
                        new_scores[b, len(alive)] = s
                        alive.append((row, token))
                best_done = max((s for _, s in finished[b]), default=float("-inf"))
                if not alive or best_done >= new_scores[b, 0]:
                    done[b], alive = True, []
                    new_scores[b] = float("-inf")
            alive += [(b * k, config.pad_token_id)] * (k - len(alive))  # dead rows keep the shapes
            new_prefix += [torch.cat([prefixes[r], torch.tensor([t])]) for r, t in alive]
        if all(done):
            break
        prefixes, scores = torch.stack(new_prefix), new_scores
    return [sorted(f, key=lambda x: -x[1])[:num_return] for f in finished]


def _greedy(step_log_probs, batch_size: int, config: DecodingConfig) -> list[list[tuple[list[int], float]]]:
    """Greedy decoding, all items at once: what :func:`beam_search` does with one beam, without the loops."""
    prefixes = torch.full((batch_size, 1), config.decoder_start_token_id, dtype=torch.long)
    scores, done = torch.zeros(batch_size), torch.zeros(batch_size, dtype=torch.bool)
    for _ in range(config.max_length):
        logp = step_log_probs(prefixes).float().cpu()
        logp[:, config.pad_token_id] = float("-inf")
        best, token = logp.max(-1)
        scores += best.masked_fill(done, 0.0)
        token = token.masked_fill(done, config.pad_token_id)
        prefixes = torch.cat([prefixes, token.unsqueeze(1)], 1)
        done |= token.eq(config.eos_token_id)
        if done.all():
            break
    rows = [[t for t in row if t != config.pad_token_id] for row in prefixes[:, 1:].tolist()]
    return [[(r, float(s))] for r, s in zip(rows, scores)]


def _encode(generator, context_input_ids: torch.Tensor, context_attention_mask: torch.Tensor):
    return generator.get_encoder()(input_ids=context_input_ids, attention_mask=context_attention_mask,
                                   return_dict=True)


def _last_log_probs(generator, encoder_outputs, attention_mask, prefixes: torch.Tensor) -> torch.Tensor:
    """Generator log-probs of the next token [R, V] for prefixes [R, L] over encoder outputs of R rows."""
    extra = {"logits_to_keep": 1} if "logits_to_keep" in inspect.signature(generator.forward).parameters else {}
    logits = generator(attention_mask=attention_mask, encoder_outputs=encoder_outputs,
                       decoder_input_ids=prefixes.to(attention_mask.device), **extra).logits
    return torch.log_softmax(logits[:, -1].float(), dim=-1)


def _select_rows(encoder_outputs, rows: torch.Tensor):
    """The same encoder output type, restricted to (and repeating) rows ``rows``."""
    import dataclasses
    from collections.abc import Mapping

    if isinstance(encoder_outputs, Mapping):  # a transformers ModelOutput: the decoder needs the states only
        return type(encoder_outputs)(last_hidden_state=encoder_outputs["last_hidden_state"][rows])
    return dataclasses.replace(encoder_outputs, **{f.name: getattr(encoder_outputs, f.name)[rows]
                                                   for f in dataclasses.fields(encoder_outputs)})


def _check_contexts(context_input_ids, doc_scores) -> tuple[int, int]:
    if doc_scores.dim() != 2 or context_input_ids.dim() != 2:
        raise ValueError(f"expected context_input_ids [B * n_docs, S] and doc_scores [B, n_docs], got "
                         f"{tuple(context_input_ids.shape)} and {tuple(doc_scores.shape)}")
    batch, n_docs = doc_scores.shape
    if context_input_ids.shape[0] != batch * n_docs:
        raise ValueError(f"context_input_ids has {context_input_ids.shape[0]} rows but doc_scores "
                         f"{tuple(doc_scores.shape)} asks for B * n_docs = {batch * n_docs}")
    return batch, n_docs


@torch.no_grad()
def rag_token_generate(generator, context_input_ids: torch.Tensor, context_attention_mask: torch.Tensor,
                       doc_scores: torch.Tensor, config: DecodingConfig) -> tuple[torch.Tensor, torch.Tensor]:
    """RAG-Token greedy (``num_beams=1``) or beam decoding on the document mixture.

    Returns (sequences [B, L], log p(y|x) [B]). Raises ``ValueError`` when the contexts do not have
    B * n_docs rows.
    """
    batch, n_docs = _check_contexts(context_input_ids, doc_scores)
    k = config.num_beams
    # prefix row (b, beam) is decoded against context rows (b, z) for every z
    rows = torch.arange(batch * n_docs).view(batch, 1, n_docs).expand(batch, k, n_docs).reshape(-1)
    enc = _select_rows(_encode(generator, context_input_ids, context_attention_mask), rows)
    mask = context_attention_mask[rows]
    beam_doc_scores = doc_scores.repeat_interleave(k, dim=0)  # [B * k, n_docs]

    def step(prefixes: torch.Tensor) -> torch.Tensor:
        logp = _last_log_probs(generator, enc, mask, prefixes.repeat_interleave(n_docs, 0))
        return marginalize(logp.unsqueeze(1), beam_doc_scores.to(logp)).squeeze(1)

    best = [hyps[0] for hyps in beam_search(step, batch, config)]
    return _pad_rows([t for t, _ in best], config.pad_token_id), torch.tensor([s for _, s in best])


@torch.no_grad()
def rag_sequence_generate(generator, context_input_ids: torch.Tensor, context_attention_mask: torch.Tensor,
                          doc_scores: torch.Tensor, config: DecodingConfig,
                          thorough: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
    """RAG-Sequence decoding: beams per document, pooled, rescored by ``sum_z p(z|x) p(y|x,z)``.

    ``thorough=False`` is fast decoding (only the documents that produced y count); ``thorough=True``
    scores every hypothesis under every document. Returns (sequences [B, L], log p(y|x) [B], the
    fast approximation when not thorough). Raises ``ValueError`` on contexts that are not B * n_docs rows.
    """
    batch, n_docs = _check_contexts(context_input_ids, doc_scores)
    k = config.num_beams
    rows = torch.arange(batch * n_docs).repeat_interleave(k)  # prefix row (b, z, beam) -> context (b, z)
    enc = _select_rows(_encode(generator, context_input_ids, context_attention_mask), rows)
    mask = context_attention_mask[rows]
    per_doc = beam_search(lambda p: _last_log_probs(generator, enc, mask, p), batch * n_docs, config, num_return=k)
    doc_logprobs = torch.log_softmax(doc_scores.float(), dim=1).cpu()
    best_rows, best_scores = [], []
    for b in range(batch):
        pooled: dict[tuple[int, ...], list[float]] = {}
        for z in range(n_docs):
            for tokens, score in per_doc[b * n_docs + z]:
                pooled.setdefault(tuple(tokens), []).append(float(doc_logprobs[b, z]) + score)
        hyps = list(pooled)
        if thorough:
            scores = _thorough_scores(generator, context_input_ids[b * n_docs:(b + 1) * n_docs],
                                      context_attention_mask[b * n_docs:(b + 1) * n_docs], doc_scores[b], hyps, config)
        else:
            scores = torch.tensor([torch.logsumexp(torch.tensor(pooled[h]), 0).item() for h in hyps])
        i = int(scores.argmax())
        best_rows.append(list(hyps[i]))
        best_scores.append(float(scores[i]))
    return _pad_rows(best_rows, config.pad_token_id), torch.tensor(best_scores)


def _thorough_scores(generator, ctx_ids, ctx_mask, doc_scores_b, hyps, config: DecodingConfig) -> torch.Tensor:
    """log sum_z p(z|x) p(y|x,z) for each hypothesis y (one query's n_docs contexts)."""
    n_docs, n = ctx_ids.shape[0], len(hyps)
    target = _pad_rows([list(h) for h in hyps], config.pad_token_id)  # [n, T]
    start = target.new_full((n, 1), config.decoder_start_token_id)
    decoder_input = torch.cat([start, target[:, :-1]], 1).repeat_interleave(n_docs, 0)
    logits = generator(input_ids=ctx_ids.repeat(n, 1), attention_mask=ctx_mask.repeat(n, 1),
                       decoder_input_ids=decoder_input.to(ctx_ids.device)).logits
    nll = rag_sequence_nll(logits, doc_scores_b.unsqueeze(0).expand(n, -1), target.to(logits.device),
                           config.pad_token_id, reduce=False)
    return -nll.cpu()
