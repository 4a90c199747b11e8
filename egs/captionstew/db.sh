#!/usr/bin/env bash
# Where the CaptionStew source corpora are, as downloaded. Sourced by local/data.sh.
# Per source NAME (the preparer's registry name, upper-cased; docs/corpora/<name>.md for each):
#   NAME          the corpus root: its metadata files in the official layout (and its audio, unless...)
#   NAME_AUDIO    optional: folder(s) searched recursively for the audio, ':'-separated
#   NAME_SUBSETS  optional: comma-separated subsets, or "all" (WavCaps, AudioSetCaps, LP-MusicCaps, ...)
#   NAME_CONF     optional: preparer options KEY=VALUE, comma-separated (e.g. AUDIOSETCAPS_CONF=captions=original)
# A source whose root is empty is skipped with a message. Every variable can also be set in the
# environment, which wins over the defaults here. The order below is the merge priority: where
# sources share a clip (origin_id), the first one's recording is kept and all captions are merged.
# shellcheck disable=SC2034  # read by local/data.sh

# the eight sources of the ACL version of CaptionStew
AUDIOCAPS="${AUDIOCAPS:-}"
AUDIOCAPS_AUDIO="${AUDIOCAPS_AUDIO:-}"
CLOTHO="${CLOTHO:-}"
CLOTHO_AUDIO="${CLOTHO_AUDIO:-}"
MUSICCAPS="${MUSICCAPS:-}"
MUSICCAPS_AUDIO="${MUSICCAPS_AUDIO:-}"
WAVCAPS="${WAVCAPS:-}"
WAVCAPS_AUDIO="${WAVCAPS_AUDIO:-}"
WAVCAPS_SUBSETS="${WAVCAPS_SUBSETS:-bbc,soundbible}"  # the paper's choice
AUDIOSETCAPS="${AUDIOSETCAPS:-}"
AUDIOSETCAPS_AUDIO="${AUDIOSETCAPS_AUDIO:-}"
AUDIOSETCAPS_SUBSETS="${AUDIOSETCAPS_SUBSETS:-}"
AUDIOSETCAPS_CONF="${AUDIOSETCAPS_CONF:-}"
FUSIONAUDIO="${FUSIONAUDIO:-}"
FUSIONAUDIO_AUDIO="${FUSIONAUDIO_AUDIO:-}"
JAMENDOMAXCAPS="${JAMENDOMAXCAPS:-}"
JAMENDOMAXCAPS_AUDIO="${JAMENDOMAXCAPS_AUDIO:-}"
PARASPEECHCAPS="${PARASPEECHCAPS:-}"
PARASPEECHCAPS_AUDIO="${PARASPEECHCAPS_AUDIO:-}"
PARASPEECHCAPS_SUBSETS="${PARASPEECHCAPS_SUBSETS:-}"

# more sources
LP_MUSICCAPS="${LP_MUSICCAPS:-}"
LP_MUSICCAPS_AUDIO="${LP_MUSICCAPS_AUDIO:-}"  # the MusicCaps and MagnaTagATune audio, ':'-separated
LP_MUSICCAPS_SUBSETS="${LP_MUSICCAPS_SUBSETS:-}"
AUTO_ACD="${AUTO_ACD:-}"
AUTO_ACD_AUDIO="${AUTO_ACD_AUDIO:-}"
SPEECHCRAFT="${SPEECHCRAFT:-}"
SPEECHCRAFT_AUDIO="${SPEECHCRAFT_AUDIO:-}"
SPEECHCRAFT_SUBSETS="${SPEECHCRAFT_SUBSETS:-}"
# AudioSet, for the supervised initialisation (local/train_tagger.sh; not part of the caption stew):
# Google's balanced_train_segments.csv, unbalanced_train_segments.csv, eval_segments.csv and
# class_labels_indices.csv in AUDIOSET, the clips in AUDIOSET_AUDIO; empty: CaptionStew-mini's copy
AUDIOSET="${AUDIOSET:-}"
AUDIOSET_AUDIO="${AUDIOSET_AUDIO:-}"
AUDIOSET_SUBSETS="${AUDIOSET_SUBSETS:-}"  # empty: balanced_train,eval (the preparer's default; "all" adds
                                          # unbalanced_train, ~2M clips); CaptionStew-mini's copy: all
# manifests made by the published CaptionStew data-prep scripts (a folder of <source>.jsonl.gz)
CAPTIONSTEW_MANIFEST="${CAPTIONSTEW_MANIFEST:-}"
CAPTIONSTEW_MANIFEST_AUDIO="${CAPTIONSTEW_MANIFEST_AUDIO:-}"

# CaptionStew-mini, the embedded default: stage 0 builds it offline (real recordings from Debian
# packages plus synthesis, in the official layouts of AudioCaps, Clotho, MusicCaps, WavCaps,
# AudioSetCaps and ParaSpeechCaps) into <data_dir>/captionstew_mini, and each of those six sources
# whose root above is empty is read from it. Set a root to swap that source for the real corpus;
# set CAPTIONSTEW_MINI=false to use the roots above only.
CAPTIONSTEW_MINI="${CAPTIONSTEW_MINI:-true}"
CAPTIONSTEW_MINI_SOURCES="audiocaps clotho musiccaps wavcaps audiosetcaps paraspeechcaps"

# the preparation order (= merge priority); names are registry names
CAPTIONSTEW_SOURCES="${CAPTIONSTEW_SOURCES:-audiocaps clotho musiccaps wavcaps audiosetcaps fusionaudio jamendomaxcaps paraspeechcaps lp_musiccaps auto_acd speechcraft captionstew_manifest}"
