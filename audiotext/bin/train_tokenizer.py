"""Train a sentencepiece model on the captions of a training CutSet.

``python -m audiotext.bin.train_tokenizer --cuts data/manifests/cuts_train.jsonl.gz --out data/tokenizer/sp --vocab-size 1000``
"""
from __future__ import annotations

import argparse
import logging
import sys

from audiotext.bin.common import setup_logging

log = logging.getLogger("audiotext.train_tokenizer")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cuts", required=True, help="training CutSet (captions in supervisions' custom['caption'])")
    parser.add_argument("--out", required=True, help="model prefix: writes PREFIX.model")
    parser.add_argument("--vocab-size", type=int, default=1000)
    parser.add_argument("--model-type", default="unigram", choices=["unigram", "bpe", "char", "word"])
    args = parser.parse_args(argv)
    setup_logging()

    from audiotext.data.dataset import clip_captions, load_cuts
    from audiotext.tokenizers.sentencepiece import train_sentencepiece

    try:
        cuts = load_cuts(args.cuts, "cuts")
    except FileNotFoundError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    captions = [c["caption"] for cut in cuts for c in clip_captions(cut)]
    path = train_sentencepiece(captions, args.out, args.vocab_size, args.model_type)
    log.info("trained %s on %d captions", path, len(captions))
    return 0


if __name__ == "__main__":
    sys.exit(main())
