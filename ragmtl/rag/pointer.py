"""A small copy-augmented generator: the pointer-generator of See et al. (2017).

At each decoder step t the model has a vocabulary distribution ``P_vocab`` and an attention
distribution ``a_t`` over the source tokens; a gate ``p_gen = sigmoid(w^T [s_t; c_t; x_t])`` mixes them:

    P(w) = p_gen * P_vocab(w) + (1 - p_gen) * sum_{i : source_i = w} a_t,i

so the decoder can copy a source token (an answer span in a retrieved document) without having
learned to generate it. A randomly initialised transformer needs far more steps on a CPU to learn
copying; this GRU model learns it in a few hundred. It plays the role of the seq2seq generator in
:class:`ragmtl.rag.RAGModel`: ``forward(input_ids, attention_mask, decoder_input_ids)`` returns an
object with ``.logits`` [N, T, V], here the log of the mixed distribution (so a log-softmax of it
gives it back unchanged). Copying uses the shared vocabulary (no per-document extended vocabulary),
so an out-of-vocabulary source word can only be copied as the unknown token.

Encoder: embeddings plus learned position embeddings (so the attention can point by position), a
bidirectional GRU. Decoder: a GRU over the previous tokens started from the mean encoder state, and
bilinear (Luong) attention from each decoder state onto the encoder states.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

__all__ = ["PointerGeneratorConfig", "PointerGenerator", "PointerEncoderOutput", "PointerOutput",
           "copy_distribution", "pointer_mixture"]


def copy_distribution(attention: torch.Tensor, source_ids: torch.Tensor, vocab_size: int) -> torch.Tensor:
    """Attention over source positions summed onto the vocabulary: ``sum_{i: source_i = w} a_t,i``.

    ``attention`` [N, T, S] (rows sum to 1 over real positions), ``source_ids`` [N, S] -> [N, T, V].
    Raises ``ValueError`` on mismatched shapes or source ids outside [0, vocab_size).
    """
    if attention.dim() != 3 or source_ids.shape != (attention.shape[0], attention.shape[2]):
        raise ValueError(f"expected attention [N, T, S] and source_ids [N, S], got {tuple(attention.shape)} "
                         f"and {tuple(source_ids.shape)}")
    if source_ids.numel() and (int(source_ids.min()) < 0 or int(source_ids.max()) >= vocab_size):
        raise ValueError(f"source ids must lie in [0, {vocab_size}), found [{int(source_ids.min())}, "
                         f"{int(source_ids.max())}]")
    index = source_ids[:, None, :].expand(-1, attention.shape[1], -1)
    out = attention.new_zeros(attention.shape[0], attention.shape[1], vocab_size)
    return out.scatter_add(2, index, attention)


def pointer_mixture(vocab_logits: torch.Tensor, attention: torch.Tensor, source_ids: torch.Tensor,
                    p_gen: torch.Tensor) -> torch.Tensor:
    """Final distribution ``p_gen * softmax(vocab_logits) + (1 - p_gen) * copy`` (See et al., 2017, eq. 9).

    ``vocab_logits`` [N, T, V], ``attention`` [N, T, S], ``source_ids`` [N, S], ``p_gen`` [N, T] in
    [0, 1] -> probabilities [N, T, V] that sum to 1 over V.
    """
    if p_gen.shape != vocab_logits.shape[:2]:
        raise ValueError(f"p_gen must be [N, T] = {tuple(vocab_logits.shape[:2])}, got {tuple(p_gen.shape)}")
    copy = copy_distribution(attention, source_ids, vocab_logits.shape[-1])
    gate = p_gen.unsqueeze(-1)
    return gate * torch.softmax(vocab_logits, dim=-1) + (1.0 - gate) * copy


@dataclass
class PointerGeneratorConfig:
    """Sizes of :class:`PointerGenerator`."""

    vocab_size: int  # shared by source and target
    pad_token_id: int = 0
    embed_dim: int = 64
    hidden_dim: int = 64  # decoder state; each encoder direction has hidden_dim // 2
    max_source_positions: int = 128  # learned source position embeddings
    copy: bool = True  # False: a plain attention seq2seq (p_gen = 1), for ablations

    def __post_init__(self) -> None:
        if self.vocab_size < 2 or not 0 <= self.pad_token_id < self.vocab_size:
            raise ValueError(f"need vocab_size >= 2 and 0 <= pad_token_id < vocab_size, got "
                             f"{self.vocab_size} and {self.pad_token_id}")
        if self.hidden_dim < 2 or self.hidden_dim % 2 or self.embed_dim < 1:
            raise ValueError(f"hidden_dim must be even and >= 2, embed_dim >= 1; got {self.hidden_dim}, "
                             f"{self.embed_dim}")


@dataclass
class PointerEncoderOutput:
    """What the encoder hands the decoder: states [N, S, H], the source ids and mask [N, S]."""

    last_hidden_state: torch.Tensor
    source_ids: torch.Tensor
    attention_mask: torch.Tensor


@dataclass
class PointerOutput:
    """``logits`` [N, T, V] = log P(w); ``p_gen`` [N, T]; ``attention`` [N, T, S]."""

    logits: torch.Tensor
    p_gen: torch.Tensor
    attention: torch.Tensor


class _Encoder(nn.Module):
    def __init__(self, config: PointerGeneratorConfig, embed: nn.Embedding) -> None:
        super().__init__()
        self.config = config
        self.embed = embed
        self.positions = nn.Embedding(config.max_source_positions, config.embed_dim)
        self.rnn = nn.GRU(config.embed_dim, config.hidden_dim // 2, batch_first=True, bidirectional=True)

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor | None = None,
                return_dict: bool = True) -> PointerEncoderOutput:
        if input_ids.shape[1] > self.config.max_source_positions:
            raise ValueError(f"source of {input_ids.shape[1]} tokens exceeds max_source_positions="
                             f"{self.config.max_source_positions}")
        if attention_mask is None:
            attention_mask = input_ids.ne(self.config.pad_token_id).long()
        pos = torch.arange(input_ids.shape[1], device=input_ids.device)
        states, _ = self.rnn(self.embed(input_ids) + self.positions(pos))
        return PointerEncoderOutput(states, input_ids, attention_mask)


class PointerGenerator(nn.Module):
    """Pointer-generator seq2seq (See et al., 2017) with the generator interface RAG needs.

    ``forward(input_ids [N, S], attention_mask [N, S], decoder_input_ids [N, T], encoder_outputs=None,
    logits_to_keep=0)`` -> :class:`PointerOutput` with ``logits`` [N, T, V] (log-probabilities; the last
    ``logits_to_keep`` positions only when it is positive). ``get_encoder()`` returns the encoder so a
    decoding loop can encode the sources once and pass ``encoder_outputs``.
    """

    def __init__(self, config: PointerGeneratorConfig) -> None:
        super().__init__()
        self.config = config
        h = config.hidden_dim
        self.embed = nn.Embedding(config.vocab_size, config.embed_dim, padding_idx=config.pad_token_id)
        self.encoder = _Encoder(config, self.embed)
        self.init_state = nn.Linear(h, h)
        self.decoder = nn.GRU(config.embed_dim, h, batch_first=True)
        self.attn = nn.Linear(h, h, bias=False)  # score(s_t, h_i) = s_t^T W h_i
        self.combine = nn.Linear(2 * h, h)
        self.out = nn.Linear(h, config.vocab_size)
        self.gate = nn.Linear(2 * h + config.embed_dim, 1)

    def get_encoder(self) -> nn.Module:
        return self.encoder

    def forward(self, input_ids: torch.Tensor | None = None, attention_mask: torch.Tensor | None = None,
                decoder_input_ids: torch.Tensor | None = None,
                encoder_outputs: PointerEncoderOutput | None = None, logits_to_keep: int = 0) -> PointerOutput:
        if decoder_input_ids is None:
            raise ValueError("PointerGenerator needs decoder_input_ids [N, T]")
        if encoder_outputs is None:
            if input_ids is None:
                raise ValueError("pass input_ids [N, S] or encoder_outputs")
            encoder_outputs = self.encoder(input_ids, attention_mask)
        enc, mask = encoder_outputs.last_hidden_state, encoder_outputs.attention_mask.bool()
        if decoder_input_ids.shape[0] != enc.shape[0]:
            raise ValueError(f"decoder_input_ids has {decoder_input_ids.shape[0]} rows, the source has {enc.shape[0]}")
        mean = (enc * mask.unsqueeze(-1)).sum(1) / mask.sum(1, keepdim=True).clamp(min=1)
        x = self.embed(decoder_input_ids)  # [N, T, E]
        states, _ = self.decoder(x, torch.tanh(self.init_state(mean)).unsqueeze(0))  # [N, T, H]
        if logits_to_keep > 0:  # decoding needs the last positions only: skip the [N, T, V] work for the rest
            states, x = states[:, -logits_to_keep:], x[:, -logits_to_keep:]
        scores = torch.bmm(self.attn(states), enc.transpose(1, 2))  # [N, T, S]
        attention = torch.softmax(scores.masked_fill(~mask[:, None, :], float("-inf")), dim=-1)
        context = torch.bmm(attention, enc)  # [N, T, H]
        features = torch.cat([states, context], dim=-1)
        vocab_logits = self.out(torch.tanh(self.combine(features)))
        if self.config.copy:
            p_gen = torch.sigmoid(self.gate(torch.cat([features, x], dim=-1))).squeeze(-1)
            probs = pointer_mixture(vocab_logits, attention, encoder_outputs.source_ids, p_gen)
            logits = torch.log(probs.clamp_min(1e-12))
        else:
            p_gen = torch.ones(states.shape[:2], dtype=states.dtype, device=states.device)
            logits = torch.log_softmax(vocab_logits, dim=-1)
        return PointerOutput(logits, p_gen, attention)
