"""Run under ``torchrun --nproc_per_node 2``: each rank iterates epochs 0 and 1 of a run whose sources
are a Shar directory and a manifest, and rank 0 writes what every rank was given as JSON.

    shar_rank_check.py <shar dir> <manifest> <index dir> <out.json>
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

import torch
import torch.distributed as dist

from audiotext.data.dataset import AudioCaptionDataset, DataConfig, SpecAugmentConfig
from audiotext.data.sources import SourceConfig, make_stream, open_sources
from audiotext.tokenizers.byte import ByteTokenizer


def main() -> None:
    shar, manifest, index_dir, out = sys.argv[1:5]
    dist.init_process_group("gloo")
    rank, world = dist.get_rank(), dist.get_world_size()
    configs = [SourceConfig("sh", shar=shar), SourceConfig("man", cuts=manifest, weight=2.0)]
    if rank == 0:
        open_sources(configs, Path(index_dir))  # rank 0 indexes, the others read its index
    dist.barrier()
    sources = open_sources(configs, Path(index_dir))
    conf = DataConfig(max_duration=5.0, num_buckets=2, num_workers=0, specaug=SpecAugmentConfig(enabled=False))
    stream = make_stream(sources, AudioCaptionDataset(ByteTokenizer(), conf, seed=7, rank=rank), conf, seed=7,
                         train=True, world_size=world, rank=rank)
    mine = {}
    for epoch in (0, 1):
        stream.set_epoch(epoch)
        batches = [b.cut_ids + [cut_id for cut_id, _ in b.skipped] for b in stream]
        mine[epoch] = {"batches": batches, "dropped": stream.dropped_cuts(epoch)}
    gathered = [None] * world
    dist.all_gather_object(gathered, mine)
    if rank == 0:
        Path(out).write_text(json.dumps({str(e): [g[e] for g in gathered] for e in (0, 1)}))
    dist.barrier()
    dist.destroy_process_group()


if __name__ == "__main__":
    torch.set_num_threads(1)
    main()
