"""Batched greedy and beam-search decoding with a captioning decoder.

Both re-run the decoder over the whole prefix at each step (no key/value cache):
captions are short (tens of tokens), so this costs little and keeps one code path
with training.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import List

import torch


@dataclass
class DecodeConfig:
    beam_size: int = 1  # 1 = greedy
    max_length: int = 40  # tokens generated, eos included
    length_penalty: float = 1.0  # hypothesis score = sum log p / length ** length_penalty


def _step_logprobs(decoder, prefix, memory, memory_lens, bos_id: int):
    lens = torch.full((prefix.shape[0],), prefix.shape[1], dtype=torch.long, device=prefix.device)
    logits = decoder(prefix, lens, memory, memory_lens, causal=True)[:, -1].float()
    # padding and bos are never generated
    logits[:, [decoder.pad_id, bos_id]] = float("-inf")
    return torch.log_softmax(logits, -1)


@torch.no_grad()
def greedy_decode(decoder, memory, memory_lens, bos_id: int, eos_id: int, max_length: int) -> List[List[int]]:
    """Most likely next token at every step; returns token ids without bos/eos."""
    batch = memory.shape[0]
    prefix = torch.full((batch, 1), bos_id, dtype=torch.long, device=memory.device)
    done = torch.zeros(batch, dtype=torch.bool, device=memory.device)
    max_length = min(max_length, decoder.conf.max_length)
    for _ in range(max_length):
        nxt = _step_logprobs(decoder, prefix, memory, memory_lens, bos_id).argmax(-1)
        nxt = torch.where(done, torch.full_like(nxt, eos_id), nxt)
        prefix = torch.cat([prefix, nxt[:, None]], 1)
        done |= nxt == eos_id
        if bool(done.all()):
            break
    out = []
    for row in prefix[:, 1:].tolist():
        out.append(row[: row.index(eos_id)] if eos_id in row else row)
    return out


@torch.no_grad()
def beam_decode(decoder, memory, memory_lens, bos_id: int, eos_id: int, conf: DecodeConfig) -> List[List[int]]:
    """Beam search over all clips at once (clips x beams rows).

    A hypothesis that emits eos is set aside with its length-penalised score; a clip
    is finished once it holds ``beam_size`` of them (or at max_length, when its live
    beams join the finished ones). With beam_size 1 this is exactly greedy decoding.
    """
    batch, k = memory.shape[0], conf.beam_size
    device = memory.device
    max_length = min(conf.max_length, decoder.conf.max_length)
    memory = memory.repeat_interleave(k, 0)
    memory_lens = memory_lens.repeat_interleave(k, 0)
    prefix = torch.full((batch * k, 1), bos_id, dtype=torch.long, device=device)
    # only the first beam of each clip is live at the start (the others are copies)
    scores = torch.full((batch, k), float("-inf"), device=device)
    scores[:, 0] = 0.0
    finished: List[List[tuple]] = [[] for _ in range(batch)]
    active = [True] * batch

    def penalised(score: float, length: int) -> float:
        return score / (length ** conf.length_penalty)

    for step in range(1, max_length + 1):
        logp = _step_logprobs(decoder, prefix, memory, memory_lens, bos_id)  # (B*k, V)
        vocab = logp.shape[-1]
        cand = (scores[:, :, None] + logp.view(batch, k, vocab)).view(batch, k * vocab)
        top_scores, top_idx = cand.topk(2 * k, dim=-1)  # enough to refill k beams after eos picks
        new_rows = torch.zeros(batch, k, dtype=torch.long, device=device)
        new_tokens = torch.full((batch, k), eos_id, dtype=torch.long, device=device)
        new_scores = torch.full((batch, k), float("-inf"), device=device)
        for b in range(batch):
            if not active[b]:
                continue
            filled = 0
            for score, idx in zip(top_scores[b].tolist(), top_idx[b].tolist()):
                if score == float("-inf"):
                    break
                beam, token = divmod(idx, vocab)
                row = b * k + beam
                if token == eos_id:
                    # the eos token counts in the length, as it was predicted too
                    finished[b].append((penalised(score, step), prefix[row, 1:].tolist()))
                    if len(finished[b]) >= k:
                        break
                    continue
                new_rows[b, filled] = row
                new_tokens[b, filled] = token
                new_scores[b, filled] = score
                filled += 1
                if filled == k:
                    break
            if len(finished[b]) >= k:
                active[b] = False
        if not any(active):
            break
        rows = new_rows.view(-1)
        prefix = torch.cat([prefix[rows], new_tokens.view(-1, 1)], 1)
        scores = new_scores
    for b in range(batch):
        if active[b]:  # ran out of length: live beams compete as they are
            for j in range(k):
                if scores[b, j] > float("-inf"):
                    finished[b].append((penalised(float(scores[b, j]), max_length),
                                        prefix[b * k + j, 1:].tolist()))
    return [max(hyps, key=lambda h: h[0])[1] if hyps else [] for hyps in finished]


def decode(decoder, frames, frame_lens, bos_id: int, eos_id: int, conf: DecodeConfig) -> List[List[int]]:
    """Audio encoder frames -> caption token ids per clip."""
    if conf.beam_size < 1:
        raise ValueError(f"beam_size must be >= 1, got {conf.beam_size}")
    memory = decoder.prepare_memory(frames)
    if conf.beam_size == 1:
        return greedy_decode(decoder, memory, frame_lens, bos_id, eos_id, conf.max_length)
    return beam_decode(decoder, memory, frame_lens, bos_id, eos_id, conf)
