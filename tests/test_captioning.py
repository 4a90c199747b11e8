"""Captioning objective: causal mask, parallel (CapPa) mode, decoding, likelihood zero-shot."""
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from audiotext.data.batch import Batch

from audiotext.data.dataset import tokenize
from audiotext.decoding import DecodeConfig, beam_decode, greedy_decode
from audiotext.eval.zeroshot import accuracy, class_prompts, likelihood_scorer, predict_by_similarity
from audiotext.objectives import OBJECTIVES, ObjectiveContext
from audiotext.objectives.captioning import IGNORE, decoder_io, parallel_inputs
from audiotext.tokenizers import TOKENIZERS

DEC = {"d_model": 32, "num_layers": 2, "num_heads": 4, "d_ff": 64, "dropout": 0.0, "max_length": 48}


def make_objective(name="captioning", vocab=40, **conf):
    torch.manual_seed(0)
    ctx = ObjectiveContext(audio_dim=24, vocab_size=vocab, pad_id=0, bos_id=2, eos_id=3,
                           text_encoder_conf={"d_model": 32, "num_layers": 1, "num_heads": 4, "d_ff": 64})
    if name == "captioning":
        conf = {"decoder": DEC, **conf}
    return OBJECTIVES.build(name, conf, ctx)


def toy_batch(batch=6, vocab=40, seed=1):
    gen = torch.Generator().manual_seed(seed)
    frames = torch.randn(batch, 9, 24, generator=gen)
    frame_lens = torch.randint(3, 10, (batch,), generator=gen)
    token_lens = torch.randint(3, 8, (batch,), generator=gen)
    tokens = torch.zeros(batch, int(token_lens.max()), dtype=torch.long)
    for i, n in enumerate(token_lens.tolist()):
        tokens[i, 0] = 2
        tokens[i, 1:n - 1] = torch.randint(4, vocab, (n - 2,), generator=gen)
        tokens[i, n - 1] = 3
    return frames, frame_lens, tokens, token_lens


def test_decoder_io_shifts_and_masks_padding():
    tokens = torch.tensor([[2, 7, 8, 3], [2, 9, 3, 0]])
    inputs, lens, targets = decoder_io(tokens, torch.tensor([4, 3]), pad_id=0)
    assert inputs.tolist() == [[2, 7, 8], [2, 9, 0]]
    assert lens.tolist() == [3, 2]
    assert targets.tolist() == [[7, 8, 3], [9, 3, IGNORE]]


def test_causal_mask_future_tokens_do_not_change_earlier_logits():
    obj = make_objective().eval()
    frames, frame_lens, tokens, token_lens = toy_batch()
    inputs, lens, _ = decoder_io(tokens, token_lens, 0)
    memory = obj.decoder.prepare_memory(frames)
    base = obj.decoder(inputs, lens, memory, frame_lens, causal=True)
    changed = inputs.clone()
    changed[:, 2:] = torch.where(changed[:, 2:] > 0, 5, 0)  # alter everything from position 2 on
    out = obj.decoder(changed, lens, memory, frame_lens, causal=True)
    assert torch.allclose(base[:, :2], out[:, :2], atol=1e-6)
    assert not torch.allclose(base[:, 2:], out[:, 2:], atol=1e-3)
    # without the causal mask, the same change reaches the first positions too
    nc_base = obj.decoder(inputs, lens, memory, frame_lens, causal=False)
    nc_out = obj.decoder(changed, lens, memory, frame_lens, causal=False)
    assert not torch.allclose(nc_base[:, :2], nc_out[:, :2], atol=1e-4)


def test_parallel_inputs_are_mask_tokens_at_real_positions():
    inputs = torch.tensor([[2, 7, 8], [2, 9, 0]])
    out = parallel_inputs(inputs, torch.tensor([3, 2]), mask_id=40, pad_id=0)
    assert out.tolist() == [[40, 40, 40], [40, 40, 0]]


def _record_decoder_calls(obj):
    calls = []

    def hook(module, args, kwargs):
        calls.append({"inputs": args[0].clone(), "causal": kwargs["causal"], "rows": args[0].shape[0]})

    obj.decoder.register_forward_pre_hook(hook, with_kwargs=True)
    return calls


@pytest.mark.parametrize("fraction,expected_parallel", [(0.75, 6), (0.0, 0), (1.0, 8)])
def test_parallel_fraction_splits_batch_and_feeds_mask_tokens(fraction, expected_parallel):
    obj = make_objective(parallel_fraction=fraction).train()
    calls = _record_decoder_calls(obj)
    frames, frame_lens, tokens, token_lens = toy_batch(batch=8)
    loss, report = obj(frames, frame_lens, Batch(cut_ids=[""] * len(tokens), tokens=tokens, token_lens=token_lens))
    assert torch.isfinite(loss)
    parallel = [c for c in calls if not c["causal"]]
    ar = [c for c in calls if c["causal"]]
    assert sum(c["rows"] for c in parallel) == expected_parallel
    assert sum(c["rows"] for c in ar) == 8 - expected_parallel
    for call in parallel:  # nothing of the caption leaks into parallel inputs
        assert set(call["inputs"].unique().tolist()) <= {obj.decoder.mask_id, 0}
    for call in ar:  # teacher forcing: ar rows start with bos
        assert (call["inputs"][:, 0] == 2).all()


def test_loss_is_mean_over_all_target_tokens_with_label_smoothing():
    obj = make_objective(parallel_fraction=0.0, label_smoothing=0.0).eval()
    frames, frame_lens, tokens, token_lens = toy_batch()
    loss, _ = obj(frames, frame_lens, Batch(cut_ids=[""] * len(tokens), tokens=tokens, token_lens=token_lens))
    inputs, lens, targets = decoder_io(tokens, token_lens, 0)
    logits = obj.decoder(inputs, lens, obj.decoder.prepare_memory(frames), frame_lens, causal=True)
    ref = torch.nn.functional.cross_entropy(logits.flatten(0, 1), targets.flatten(), ignore_index=IGNORE)
    assert torch.allclose(loss, ref, atol=1e-5)
    # the summed log-likelihood of a caption is minus its summed token losses
    ll = obj.sequence_log_likelihood(frames, frame_lens, tokens, token_lens, length_normalize=False)
    assert torch.allclose(-ll.sum() / (targets != IGNORE).sum(), ref, atol=1e-5)
    smoothed = make_objective(parallel_fraction=0.0, label_smoothing=0.1).eval()
    loss_s, _ = smoothed(frames, frame_lens, Batch(cut_ids=[""] * len(tokens), tokens=tokens, token_lens=token_lens))
    logp = torch.log_softmax(logits, -1)[targets != IGNORE]  # same weights: both built from seed 0
    expected = 0.9 * ref + 0.1 * (-logp.mean(-1)).mean()
    assert torch.allclose(loss_s, expected, atol=1e-5)


def test_beam_one_equals_greedy_and_wider_beam_scores_no_worse():
    obj = make_objective(vocab=12).eval()
    frames, frame_lens, _, _ = toy_batch(batch=5, vocab=12)
    memory = obj.decoder.prepare_memory(frames)
    greedy = greedy_decode(obj.decoder, memory, frame_lens, 2, 3, max_length=10)
    beam1 = beam_decode(obj.decoder, memory, frame_lens, 2, 3, DecodeConfig(beam_size=1, max_length=10))
    assert beam1 == greedy
    assert obj.generate(frames, frame_lens, DecodeConfig(beam_size=1, max_length=10)) == greedy
    assert all(2 not in seq and 0 not in seq for seq in greedy)  # never bos or padding

    def logprob(seqs):
        rows = [[2, *s, 3] for s in seqs]
        n = max(len(r) for r in rows)
        tokens = torch.tensor([r + [0] * (n - len(r)) for r in rows])
        return obj.sequence_log_likelihood(frames, frame_lens, tokens, torch.tensor([len(r) for r in rows]),
                                           length_normalize=False)

    wide = beam_decode(obj.decoder, memory, frame_lens, 2, 3, DecodeConfig(beam_size=4, max_length=10,
                                                                           length_penalty=0.0))
    finished = [len(s) < 10 for s in greedy]
    # with no length penalty, beam search finds a caption at least as likely as greedy's
    gl, wl = logprob(greedy), logprob(wide)
    both = torch.tensor(finished) & torch.tensor([len(s) < 10 for s in wide])
    assert both.any()
    assert (wl[both] >= gl[both] - 1e-4).all()


def test_decode_rejects_bad_beam():
    obj = make_objective().eval()
    frames, frame_lens, _, _ = toy_batch(batch=2)
    with pytest.raises(ValueError, match="beam_size"):
        obj.generate(frames, frame_lens, DecodeConfig(beam_size=0))


def test_zero_shot_by_similarity_on_known_vectors():
    prompts = np.eye(3)
    audio = np.array([[0.9, 0.1, 0.0], [0.0, 0.2, 0.98], [0.1, 0.99, 0.0]])
    pred = predict_by_similarity(audio, prompts)
    assert pred.tolist() == [0, 2, 1]
    assert accuracy(pred, ["dog", "cat", "cat"], ["dog", "bird", "cat"]) == pytest.approx(2 / 3)
    assert class_prompts(["dog_bark"]) == ["This is a sound of dog bark."]
    with pytest.raises(ValueError, match="placeholder"):
        class_prompts(["x"], template="no slot")


def test_zero_shot_by_likelihood_after_learning_a_toy_task():
    """Two kinds of 'audio' (frames near +1 or -1); captions name the kind. After a
    short training the decoder's likelihood of each class prompt picks the right kind."""
    tokenizer = TOKENIZERS.build("byte", {})
    torch.manual_seed(0)
    ctx = ObjectiveContext(audio_dim=8, vocab_size=tokenizer.vocab_size, pad_id=0, bos_id=2, eos_id=3)
    obj = OBJECTIVES.build("captioning", {"decoder": {**DEC, "max_length": 40}, "parallel_fraction": 0.5}, ctx)
    names = ["dog", "cat"]
    prompts = class_prompts(names)
    gen = torch.Generator().manual_seed(0)

    def clips(kinds):
        sign = torch.tensor([1.0 if k == 0 else -1.0 for k in kinds])[:, None, None]
        return sign + 0.3 * torch.randn(len(kinds), 5, 8, generator=gen), torch.full((len(kinds),), 5)

    opt = torch.optim.Adam(obj.parameters(), lr=3e-3)
    for _ in range(150):
        kinds = torch.randint(0, 2, (16,), generator=gen).tolist()
        frames, lens = clips(kinds)
        tokens, token_lens = tokenize(tokenizer, [prompts[k] for k in kinds], 40)
        batch = Batch(cut_ids=[str(i) for i in range(len(kinds))], tokens=tokens, token_lens=token_lens)
        loss, _ = obj.train()(frames, lens, batch)
        opt.zero_grad()
        loss.backward()
        opt.step()
    obj.eval()
    task = SimpleNamespace(tokenizer=tokenizer, objective=obj, normalize_caption=lambda text: text)
    kinds = [0, 1] * 10
    frames, lens = clips(kinds)
    scores = np.stack(likelihood_scorer(task, prompts)(frames, lens))
    assert scores.shape == (20, 2)
    assert accuracy(scores.argmax(-1), [names[k] for k in kinds], names) == 1.0


def test_joint_objective_sums_weighted_losses_and_exposes_both_heads():
    obj = make_objective("joint", captioning={"decoder": DEC, "parallel_fraction": 0.0},
                         contrastive={"embed_dim": 16}, contrastive_weight=0.5, captioning_weight=2.0).eval()
    frames, frame_lens, tokens, token_lens = toy_batch()
    batch = Batch(cut_ids=[""] * len(tokens), tokens=tokens, token_lens=token_lens, captions=["x"] * len(tokens))
    loss, report = obj(frames, frame_lens, batch)
    expected = 0.5 * report["contrastive/loss"] + 2.0 * report["captioning/loss"]
    assert torch.allclose(loss.detach(), expected, atol=1e-5)
    assert obj.embed_audio(frames, frame_lens).shape == (len(tokens), 16)
    assert len(obj.generate(frames, frame_lens, DecodeConfig(max_length=4))) == len(tokens)
    with pytest.raises(Exception, match="objective_conf.captioning"):
        make_objective("joint", captioning={"decoder": DEC, "no_such_key": 1})


def _checkpoint(root, objective, objective_conf):
    from audiotext.bin.train import checkpoint_config
    from audiotext.experiment import build_task, resolve
    from audiotext.tokenizers.sentencepiece import train_sentencepiece
    from audiotext.train.checkpoint import save_checkpoint
    from fixtures import KINDS

    sp = train_sentencepiece([f"{c} {i}" for c in KINDS.values() for i in range(5)], str(root / "sp"), vocab_size=40)
    exp = resolve({
        "tokenizer": "sentencepiece", "tokenizer_conf": {"model": str(sp)},
        "encoder_conf": {"d_model": 32, "num_layers": 1, "num_heads": 2, "d_ff": 64, "subsampling_channels": 8},
        "objective": objective, "objective_conf": objective_conf,
    })
    torch.manual_seed(0)
    task = build_task(exp)
    return save_checkpoint(root / "exp" / "checkpoints" / "best", task, {"step": 0},
                           checkpoint_config(exp, root / "exp")), task


def test_caption_cli_captions_files_and_skips_bad_ones(tmp_path, capsys):
    import json

    import soundfile as sf

    from audiotext import caption
    from audiotext.data.audio_files import read_audio

    ckpt, task = _checkpoint(tmp_path, "captioning", {"decoder": DEC})
    rng = np.random.default_rng(0)
    for i, seconds in enumerate((0.05, 1.5, 3.0)):
        sf.write(tmp_path / f"a{i}.wav", rng.uniform(-0.3, 0.3, int(seconds * 16000)).astype(np.float32), 16000)
    (tmp_path / "bad.wav").write_bytes(b"RIFF not audio")
    files = [str(tmp_path / f"a{i}.wav") for i in range(3)] + [str(tmp_path / "bad.wav")]
    out = tmp_path / "captions.jsonl"
    assert caption.main(["--model", str(ckpt), "--beam", "2", "--out", str(out), *files]) == 0
    lines = [json.loads(x) for x in out.read_text().splitlines()]
    assert [x["path"] for x in lines] == files[:3]
    printed = capsys.readouterr().out.strip().splitlines()
    assert printed == [f"{x['path']}\t{x['caption']}" for x in lines]
    # the same numbers as captioning the waveforms in process
    waves = [read_audio(tmp_path / f"a{i}.wav", 16000)[0] for i in range(3)]
    assert caption.caption_waveforms(task.eval(), waves, DecodeConfig(beam_size=2)) == [x["caption"] for x in lines]
    assert caption.main(["--model", str(ckpt), str(tmp_path / "bad.wav")]) == 1


def test_caption_cli_refuses_a_model_without_decoder(tmp_path, capsys):
    from audiotext import caption

    ckpt, _ = _checkpoint(tmp_path, "contrastive", {"embed_dim": 16})
    assert caption.main(["--model", str(ckpt), str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f"error: captioning with {ckpt} needs an objective with 'generation'; "
                   "ContrastiveObjective declares retrieval"]
