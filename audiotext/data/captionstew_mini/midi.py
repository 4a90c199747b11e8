"""A minimal Standard MIDI File writer (format 0, one track), enough for fluidsynth.

Time is given in seconds: the file uses 1000 ticks per quarter note at 60 BPM, so one tick
is one millisecond and clips with different tempos can share one timeline.
"""
from __future__ import annotations

import struct
from dataclasses import dataclass, field
from typing import List, Tuple

TICKS_PER_SECOND = 1000


def _varlen(value: int) -> bytes:
    """MIDI variable-length quantity: 7 bits per byte, high bit set on all but the last."""
    out = [value & 0x7F]
    value >>= 7
    while value:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    return bytes(reversed(out))


@dataclass
class MidiTrack:
    # (tick, order, bytes); order keeps note-offs before note-ons at the same tick.
    events: List[Tuple[int, int, bytes]] = field(default_factory=list)

    def _add(self, seconds: float, order: int, data: bytes) -> None:
        self.events.append((int(round(seconds * TICKS_PER_SECOND)), order, data))

    def program(self, seconds: float, channel: int, program: int) -> None:
        self._add(seconds, 0, bytes([0xC0 | channel, program & 0x7F]))

    def control(self, seconds: float, channel: int, controller: int, value: int) -> None:
        self._add(seconds, 0, bytes([0xB0 | channel, controller & 0x7F, value & 0x7F]))

    def note(self, start: float, duration: float, channel: int, pitch: int, velocity: int) -> None:
        pitch = max(0, min(127, int(pitch)))
        velocity = max(1, min(127, int(velocity)))
        self._add(start, 2, bytes([0x90 | channel, pitch, velocity]))
        self._add(start + max(duration, 0.01), 1, bytes([0x80 | channel, pitch, 0]))

    def to_bytes(self) -> bytes:
        # 1,000,000 us per quarter with 1000 ticks per quarter -> 1 ms per tick.
        body = bytearray(b"\x00\xff\x51\x03" + (1_000_000).to_bytes(3, "big"))
        last = 0
        for tick, _, data in sorted(self.events, key=lambda e: (e[0], e[1])):
            body += _varlen(tick - last) + data
            last = tick
        body += b"\x00\xff\x2f\x00"  # end of track
        header = b"MThd" + struct.pack(">IHHH", 6, 0, 1, TICKS_PER_SECOND)
        return header + b"MTrk" + struct.pack(">I", len(body)) + bytes(body)

    def write(self, path) -> None:
        with open(path, "wb") as f:
            f.write(self.to_bytes())
