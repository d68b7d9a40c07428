"""`make prompts`: the prompt sets prompts/<lang>/*.wav generated from the catalogue (SPEC S5).

Rules of this file:
- Speech comes from espeak-ng (voices `fr` and `en-us`), is resampled by sox to 8 kHz mono
  16-bit without dither, has its leading and trailing silence trimmed and is brought to one
  level; the beep and the pause are computed. The same catalogue gives the same bytes.
- prompts/manifest.json records, per file, a hash of everything that made it (tool versions
  excluded) and a hash of the file. A run regenerates only files whose recipe changed (or
  everything with --force) and deletes WAVs that are no longer in the catalogue.
- This is a build tool: it runs external programs. The switch only reads the WAVs.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import subprocess
import sys
import tempfile
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import numpy as np
from numpy.typing import NDArray

from media import analysis, catalog
from media.catalog import Lang, Silence, Speech, Tone
from media.convert import RATE, write_wav

GENERATOR_VERSION: Final = 2
"""Bump when the processing below changes, so every file is regenerated."""


@dataclass(frozen=True)
class Voice:
    name: str
    words_per_minute: int


VOICES: Final[dict[Lang, Voice]] = {
    "fr": Voice("fr", 160),
    "en": Voice("en-us", 165),
}
LEVEL_DBFS: Final = -20.0
PEAK_LIMIT_DBFS: Final = -1.0
EDGE_PAD_MS: Final = 20
MAX_PAUSE_MS: Final = 200
QUIET_DBFS: Final = -60.0
TONE_RAMP_MS: Final = 10
# Synthetic speech has clean silence: a sound is anything 9 dB over the quietest frame, even a
# prompt too short to have quiet frames of its own (a recording's 10th-percentile floor).
EDGES: Final = analysis.VadSettings(floor_percentile=0.0)
MANIFEST: Final = "manifest.json"
SOX_RAW_OUTPUT: Final = ("-t", "raw", "-e", "signed-integer", "-b", "16", "-c", "1", "-r", "8000")


def recipe(prompt_id: str, lang: Lang) -> str:
    """Everything that determines a prompt's file, as one string."""
    prompt = catalog.get(prompt_id)
    head = f"v{GENERATOR_VERSION}|{RATE}"
    if isinstance(prompt, Silence):
        return f"{head}|silence|{prompt.ms}"
    if isinstance(prompt, Tone):
        return f"{head}|tone|{prompt.hz}|{prompt.ms}|{prompt.dbfs}|{TONE_RAMP_MS}"
    voice = VOICES[lang]
    return (
        f"{head}|speech|{voice.name}|{voice.words_per_minute}|{LEVEL_DBFS}|{PEAK_LIMIT_DBFS}"
        f"|{EDGE_PAD_MS}|{catalog.spoken_text(prompt_id, lang)}"
    )


def _sha256(data: bytes | str) -> str:
    return hashlib.sha256(data.encode() if isinstance(data, str) else data).hexdigest()


def tone(hz: float, ms: int, dbfs: float, ramp_ms: int = TONE_RAMP_MS) -> NDArray[np.int16]:
    """A sine at an RMS of `dbfs`, with raised-cosine ramps so it starts and stops cleanly."""
    n = RATE * ms // 1000
    t = np.arange(n) / RATE
    x = 10.0 ** (dbfs / 20.0) * np.sqrt(2.0) * np.sin(2.0 * np.pi * hz * t)
    ramp = RATE * ramp_ms // 1000
    if ramp:
        shape = 0.5 - 0.5 * np.cos(np.pi * np.arange(ramp) / ramp)
        x[:ramp] *= shape
        x[n - ramp :] *= shape[::-1]
    return analysis.to_int16(x)


def speak(text: str, voice: Voice) -> NDArray[np.int16]:
    """espeak-ng then sox (no dither): 8 kHz mono int16, trimmed and levelled."""
    with tempfile.TemporaryDirectory(prefix="relais-prompt-") as tmp:
        wav = Path(tmp) / "speech.wav"
        subprocess.run(
            ["espeak-ng", "-v", voice.name, "-s", str(voice.words_per_minute), "-w", str(wav)],
            input=text.encode(),
            check=True,
            capture_output=True,
            timeout=60,
        )
        raw = subprocess.run(
            # -D: no dither, so the same speech always gives the same bytes.
            ["sox", "-D", str(wav), *SOX_RAW_OUTPUT, "-"],
            check=True,
            capture_output=True,
            timeout=60,
        ).stdout
    samples = np.frombuffer(raw, dtype="<i2").astype(np.int16)
    samples = shorten_pauses(analysis.trim(samples, EDGES, pad_ms=EDGE_PAD_MS, burst_ms=0))
    if len(samples) == 0:
        raise RuntimeError(f"espeak-ng produced no sound for {text!r}")
    return analysis.normalise(samples, LEVEL_DBFS, peak_limit_dbfs=PEAK_LIMIT_DBFS)


def shorten_pauses(
    samples: NDArray[np.int16], max_ms: int = MAX_PAUSE_MS, quiet_dbfs: float = QUIET_DBFS
) -> NDArray[np.int16]:
    """Cut the middle out of every stretch of near-silence longer than `max_ms`.

    espeak-ng pauses up to half a second at punctuation; on the phone a shorter pause reads
    the same and the prompt sets stay small.
    """
    frame = analysis.FRAME
    keep = max_ms * RATE // 1000 // frame
    quiet = analysis.frame_dbfs(samples) < quiet_dbfs
    pieces = []
    at = 0
    for start, end in analysis.runs(quiet):
        if end - start > keep:
            cut_from = (start + keep // 2) * frame
            cut_to = (end - (keep - keep // 2)) * frame
            pieces.append(samples[at:cut_from])
            at = cut_to
    pieces.append(samples[at:])
    return np.concatenate(pieces)


def render(prompt_id: str, lang: Lang) -> bytes:
    """The WAV file of one prompt in one language."""
    prompt = catalog.get(prompt_id)
    if isinstance(prompt, Silence):
        return write_wav(np.zeros(RATE * prompt.ms // 1000, dtype=np.int16))
    if isinstance(prompt, Tone):
        return write_wav(tone(prompt.hz, prompt.ms, prompt.dbfs))
    assert isinstance(prompt, Speech)
    return write_wav(speak(catalog.spoken_text(prompt_id, lang), VOICES[lang]))


def _load_manifest(root: Path) -> dict[str, dict[str, str]]:
    path = root / MANIFEST
    if not path.exists():
        return {}
    data = json.loads(path.read_text())
    prompts = data.get("prompts", {})
    return {str(k): {str(a): str(b) for a, b in v.items()} for k, v in prompts.items()}


def _write_manifest(root: Path, entries: dict[str, dict[str, str]]) -> None:
    text = json.dumps(
        {"generator": GENERATOR_VERSION, "prompts": dict(sorted(entries.items()))},
        indent=1,
        sort_keys=True,
        ensure_ascii=False,
    )
    (root / MANIFEST).write_text(text + "\n")


def manifest_key(prompt_id: str, lang: Lang) -> str:
    return f"{lang}/{prompt_id}"


def _current(root: Path, manifest: dict[str, dict[str, str]], prompt_id: str, lang: Lang) -> bool:
    """The file exists, is the one the manifest names, and was made from today's recipe."""
    entry = manifest.get(manifest_key(prompt_id, lang))
    path = catalog.prompt_path(prompt_id, lang, root)
    return (
        entry is not None
        and entry.get("recipe") == _sha256(recipe(prompt_id, lang))
        and path.exists()
        and entry.get("wav") == _sha256(path.read_bytes())
    )


def stale(root: Path) -> list[str]:
    """Manifest keys whose recipe or file no longer matches (empty when up to date)."""
    manifest = _load_manifest(root)
    return [
        manifest_key(prompt_id, lang)
        for lang in catalog.LANGUAGES
        for prompt_id in catalog.PROMPTS
        if not _current(root, manifest, prompt_id, lang)
    ]


def orphans(root: Path) -> list[Path]:
    """WAV files under root that no catalogue id names."""
    found = []
    for lang in catalog.LANGUAGES:
        for path in sorted((root / lang).glob("*.wav")):
            if path.stem not in catalog.PROMPTS:
                found.append(path)
    return found


def generate(
    root: Path,
    *,
    force: bool = False,
    only: Iterable[str] | None = None,
    jobs: int = 2,
) -> list[str]:
    """Bring root/<lang>/*.wav and the manifest up to date; return the keys regenerated."""
    wanted = set(only) if only is not None else set(catalog.PROMPTS)
    unknown = wanted - set(catalog.PROMPTS)
    if unknown:
        raise ValueError(f"unknown prompt ids: {', '.join(sorted(unknown))}")
    manifest = _load_manifest(root)
    todo: list[tuple[str, Lang]] = []
    for lang in catalog.LANGUAGES:
        (root / lang).mkdir(parents=True, exist_ok=True)
        for prompt_id in sorted(wanted):
            if force or not _current(root, manifest, prompt_id, lang):
                todo.append((prompt_id, lang))

    def work(item: tuple[str, Lang]) -> tuple[str, Lang, bytes]:
        return item[0], item[1], render(*item)

    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        for prompt_id, lang, data in pool.map(work, todo):
            catalog.prompt_path(prompt_id, lang, root).write_bytes(data)
            manifest[manifest_key(prompt_id, lang)] = {
                "recipe": _sha256(recipe(prompt_id, lang)),
                "wav": _sha256(data),
            }
    for path in orphans(root):
        path.unlink()
    known = {manifest_key(p, lang) for lang in catalog.LANGUAGES for p in catalog.PROMPTS}
    _write_manifest(root, {k: v for k, v in manifest.items() if k in known})
    return [manifest_key(p, lang) for p, lang in todo]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m media.generate", description=__doc__)
    parser.add_argument("--out", type=Path, default=catalog.PROMPTS_DIR, help="prompt root")
    parser.add_argument("--force", action="store_true", help="regenerate every file")
    parser.add_argument("--check", action="store_true", help="only report stale files")
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("ids", nargs="*", help="prompt ids (default: all)")
    args = parser.parse_args(argv)
    if args.check:
        problems = stale(args.out) + [str(p) for p in orphans(args.out)]
        for problem in problems:
            print(f"stale: {problem}", file=sys.stderr)
        return 1 if problems else 0
    done = generate(args.out, force=args.force, only=args.ids or None, jobs=args.jobs)
    print(f"prompts: {len(done)} file(s) generated under {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
