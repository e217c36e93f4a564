"""The `wink` command: animate photos, verify their credentials, enroll targets, list presets, benchmark.

Exit codes of `wink animate` with one input: 0 animated, 3 no target face, 2 usage error,
1 anything else (unreadable file, not an image), always with one sentence on stderr.
`wink verify`: 0 credentials intact, 1 none, damaged, or the bytes changed since they were signed.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_NO_FACE = 0, 1, 2, 3


_messages = sys.stderr


def _quiet_models() -> None:
    """The CLI's own messages go to a copy of the real stderr; MediaPipe's C++ log lines go nowhere
    (set WINK_DEBUG=1 to keep them)."""
    global _messages
    from pipeline.quiet import silence_native_logs

    _messages = silence_native_logs("WINK_DEBUG")


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # one sentence and exit 2, as argparse does, but without the usage dump
        self.exit(EXIT_USAGE, f"wink: {message} (see '{self.prog} --help').\n")


def _say(message: str) -> None:
    print(f"wink: {message}", file=_messages)


def _output_path(source: Path, args: argparse.Namespace) -> Path:
    from pipeline import formats

    suffix = formats.get(args.format).suffix
    if args.out_dir:
        return Path(args.out_dir) / f"{source.stem}.wink{suffix}"
    if args.output:
        return Path(args.output)
    return source.with_name(f"{source.stem}.wink{suffix}")


def cmd_animate(args: argparse.Namespace) -> int:
    from pipeline.api import Animator
    from pipeline.errors import ImageError, UsageError

    if len(args.inputs) > 1 and args.output:
        _say("-o names one output; with several inputs use --out-dir.")
        return EXIT_USAGE
    try:
        animator = Animator(args.target, args.preset, Path(args.confdir) if args.confdir else None)
    except UsageError as error:
        _say(str(error))
        return EXIT_USAGE
    if args.out_dir:
        Path(args.out_dir).mkdir(parents=True, exist_ok=True)
    batch = len(args.inputs) > 1
    worst = EXIT_OK
    for name in args.inputs:
        source = Path(name)
        start = time.perf_counter()
        record: dict = {"input": name, "animated": False, "output": None, "faces": 0}
        try:
            data = source.read_bytes()
            result = animator.animate(data, args.format)
        except IsADirectoryError:
            code, message = EXIT_FAILED, f"{name} is a folder, not an image."
        except OSError as error:
            code, message = EXIT_FAILED, f"cannot read {name}: {error.strerror or error}."
        except ImageError as error:
            code, message = EXIT_FAILED, f"{name}: {error}"
        except UsageError as error:
            code, message = EXIT_USAGE, str(error)
        else:
            record["faces"] = result.faces_animated
            if result.data is not None:
                out = _output_path(source, args)
                out.write_bytes(result.data)
                record.update(animated=True, output=str(out))
                code, message = EXIT_OK, f"{name}: animated {result.faces_animated} face(s) into {out}."
            else:
                code, message = EXIT_NO_FACE, f"{name}: no face of the target {animator.target.name!r} found."
        record["ms"] = round((time.perf_counter() - start) * 1000, 1)
        if batch:
            if code not in (EXIT_OK, EXIT_NO_FACE):
                record["error"] = message
            print(json.dumps(record), flush=True)
        elif code == EXIT_OK:
            print(message.split(": ", 1)[1] if ": " in message else message)
        else:
            _say(message)
        if code in (EXIT_FAILED, EXIT_USAGE):
            worst = code if worst in (EXIT_OK, EXIT_NO_FACE) else worst
        elif code == EXIT_NO_FACE and worst == EXIT_OK:
            worst = EXIT_NO_FACE
    return EXIT_OK if batch and worst == EXIT_NO_FACE else worst


def cmd_verify(args: argparse.Namespace) -> int:
    from pipeline.errors import ImageError
    from pipeline.provenance import inspect

    path = Path(args.file)
    try:
        verdict = inspect(path.read_bytes())
    except IsADirectoryError:
        _say(f"{path} is a folder, not an image.")
        return EXIT_FAILED
    except OSError as error:
        _say(f"cannot read {path}: {error.strerror or error}.")
        return EXIT_FAILED
    except ImageError as error:
        _say(f"{path}: {error}")
        return EXIT_FAILED
    if verdict is None:
        _say(f"{path} carries no Content Credentials, so nothing says whether it is synthetic.")
        return EXIT_FAILED
    trust = "trusted" if verdict.state == "Trusted" else "untrusted: a local key, on no public trust list"
    if verdict.intact:
        state = "valid: the bytes are the ones that were signed"
    else:
        state = f"TAMPERED or broken ({', '.join(verdict.problems)})"
    synthetic = "yes (IPTC compositeSynthetic)" if verdict.synthetic else "not declared"
    print(f"file:      {path}")
    print(f"synthetic: {synthetic}")
    print(f"preset:    {verdict.preset or '-'}")
    print(f"when:      {verdict.when or '-'}")
    print(f"made by:   {verdict.generator or '-'}")
    print(f"signer:    {verdict.signer} ({trust})")
    print(f"state:     {state}")
    return EXIT_OK if verdict.intact else EXIT_FAILED


def cmd_enroll(args: argparse.Namespace) -> int:
    from pipeline.errors import UsageError
    from pipeline.targets import enroll

    try:
        path = enroll(args.name, [Path(p) for p in args.photos])
    except UsageError as error:
        _say(str(error))
        return EXIT_USAGE
    count = len(json.loads(path.read_text())["sources"])
    print(f"enrolled {args.name!r} from {count} photo(s) into {path}")
    return EXIT_OK


def cmd_presets(args: argparse.Namespace) -> int:
    from pipeline.presets import list_presets

    infos = list_presets()
    if args.json:
        print(json.dumps([{"name": i.name, "description": i.description} for i in infos]))
        return EXIT_OK
    width = max((len(i.name) for i in infos), default=0)
    for info in infos:
        print(f"{info.name:<{width}}  {info.description}")
    return EXIT_OK


def cmd_bench(args: argparse.Namespace) -> int:
    """`wink bench` runs benchmarks/stage_bench.py, which is in a source checkout, not in the package."""
    import importlib

    try:
        bench = importlib.import_module("benchmarks.stage_bench")
    except ImportError:
        _say("bench runs from a source checkout of the project (benchmarks/stage_bench.py).")
        return EXIT_FAILED
    return bench.run(args)


def _video_weights(items: list[str]) -> list[tuple[Path, float]]:
    """`V1 [W1] V2 [W2] ...`: a number after a video is its weight (default 1)."""
    videos: list[tuple[Path, float]] = []
    for item in items:
        try:
            weight = float(item)
        except ValueError:
            videos.append((Path(item), 1.0))
            continue
        if not videos:
            raise ValueError(f"the weight {item} comes before any video")
        videos[-1] = (videos[-1][0], weight)
    return videos


def cmd_extract(args: argparse.Namespace) -> int:
    from pipeline.authoring.extract import extract
    from pipeline.errors import WinkError
    from pipeline.presets import save

    try:
        videos = _video_weights(args.videos)
    except ValueError as error:
        _say(f"{error}.")
        return EXIT_USAGE
    dst = Path(args.dst)
    dst = dst if dst.suffix == ".npz" else dst.with_name(dst.name + ".npz")
    try:
        preset = extract(videos, args.name or dst.stem, args.description or "", args.start, args.end, args.fps)
        save(preset, dst)
    except WinkError as error:
        _say(str(error))
        return EXIT_FAILED
    except OSError as error:
        _say(f"cannot write {dst}: {error.strerror or error}.")
        return EXIT_FAILED
    print(f"wrote {preset.name!r} ({preset.frames} frames, {preset.loop_ms} ms) to {dst}")
    return EXIT_OK


def cmd_preview(args: argparse.Namespace) -> int:
    from pipeline.authoring.preview import contact_sheet
    from pipeline.errors import UsageError, WinkError

    photo = Path(args.photo)
    out = Path(args.output) if args.output else photo.with_name(f"{photo.stem}.{Path(args.preset).stem}.sheet.png")
    try:
        data = photo.read_bytes()
    except IsADirectoryError:
        _say(f"{photo} is a folder, not an image.")
        return EXIT_FAILED
    except OSError as error:
        _say(f"cannot read {photo}: {error.strerror or error}.")
        return EXIT_FAILED
    try:
        sheet = contact_sheet(data, args.preset, args.target)
        out.write_bytes(sheet)
    except UsageError as error:
        _say(str(error))
        return EXIT_USAGE
    except WinkError as error:  # the photo is not an image, or shows no face to preview on
        _say(f"{photo}: {error}")
        return EXIT_FAILED
    except OSError as error:
        _say(f"cannot write {out}: {error.strerror or error}.")
        return EXIT_FAILED
    print(f"wrote the contact sheet of {args.preset!r} to {out}")
    return EXIT_OK


def _add_animate(commands: argparse._SubParsersAction) -> None:
    from pipeline.formats import NAMES

    animate = commands.add_parser("animate", help="animate photos")
    animate.add_argument("inputs", nargs="+", metavar="INPUT", help="image files")
    where = animate.add_mutually_exclusive_group()
    where.add_argument("-o", "--output", help="output file (one input only)")
    where.add_argument("--out-dir", help="folder for the outputs (several inputs)")
    animate.add_argument(
        "--target", default="zeman", help="enrolled name, photo, folder of photos, or 'any' (default: zeman)"
    )
    animate.add_argument("--preset", default="wink", help="preset name or .npz path (default: wink)")
    animate.add_argument("--format", choices=NAMES, default="webp", help="output format (default: webp)")
    animate.add_argument(
        "--confdir",
        help="folder of the key that signs the outputs, made on first use (default: $WINK_CONFDIR or certs/confdir)",
    )
    animate.set_defaults(run=cmd_animate)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="wink",
        description="Make the face of a chosen person in a photo wink and smile (every output is marked as synthetic).",
    )
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    _add_animate(commands)

    verify = commands.add_parser("verify", help="show and check a file's C2PA Content Credentials")
    verify.add_argument("file", metavar="FILE", help="an animation (or any WebP, PNG, GIF, AVIF)")
    verify.set_defaults(run=cmd_verify)

    enroll = commands.add_parser("enroll", help="store a target's face encodings (not the photos)")
    enroll.add_argument("name", help="target name, e.g. zeman")
    enroll.add_argument("photos", nargs="+", help="photos or folders of photos of that person")
    enroll.set_defaults(run=cmd_enroll)

    presets = commands.add_parser("presets", help="list the motion presets")
    presets.add_argument("--json", action="store_true", help="print JSON")
    presets.set_defaults(run=cmd_presets)

    # The options of benchmarks/stage_bench.py, which this command runs.
    bench = commands.add_parser("bench", help="warm per-stage timings on the fixture photos")
    bench.add_argument("--fixtures", default=None, help="fixtures folder (default: ../shared/fixtures)")
    bench.add_argument("--repeat", type=int, default=7, help="runs per image (median reported)")
    bench.add_argument("--json-only", action="store_true", help="print only the JSON")
    bench.set_defaults(run=cmd_bench)

    extract = commands.add_parser("extract", help="make a preset from the facial motion in videos")
    extract.add_argument("--dst", required=True, help="preset file to write (.npz added if missing)")
    extract.add_argument(
        "--videos",
        nargs="+",
        required=True,
        metavar="V [W]",
        help="videos, each optionally followed by its weight (default 1)",
    )
    extract.add_argument("--name", help="preset name (default: the file name)")
    extract.add_argument("--description", help="one-line description")
    extract.add_argument("--start", type=float, default=None, help="start of the motion in each video (s)")
    extract.add_argument("--end", type=float, default=None, help="end of the motion in each video (s)")
    extract.add_argument("--fps", type=float, default=20.0, help="frames per second of the preset (default 20)")
    extract.set_defaults(run=cmd_extract)

    preview = commands.add_parser("preview", help="contact sheet (PNG) of a preset's key frames on a photo")
    preview.add_argument("--preset", default="wink", help="preset name or .npz path (default: wink)")
    preview.add_argument("photo", metavar="PHOTO", help="photo with a face")
    preview.add_argument("-o", "--output", help="PNG to write (default: PHOTO.PRESET.sheet.png beside it)")
    preview.add_argument("--target", default="any", help="whose face to animate (default: any)")
    preview.set_defaults(run=cmd_preview)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    _quiet_models()
    try:
        return args.run(args)
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
