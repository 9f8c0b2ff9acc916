"""Vendored front-end libraries: verify them, or refresh them from the npm registry.

    python scripts/vendor.py check                   every file's sha256 against static/vendor/manifest.json
    python scripts/vendor.py refresh                 re-download the pinned versions, rewrite files and manifest
    python scripts/vendor.py refresh katex@0.19.2    the same, moving one library to another version

Dev-only. `check` needs nothing but Python. `refresh` needs node and npm (it runs `npm view` and
`npm pack`); users of Backprop Explorer never do. Standard library only.
"""
from __future__ import annotations

import argparse
import base64
import fnmatch
import hashlib
import io
import json
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
VENDOR_DIR = ROOT / "static" / "vendor"
MANIFEST = VENDOR_DIR / "manifest.json"
README = VENDOR_DIR / "README.md"
# Files in static/vendor/ that belong to no library.
OWN_FILES = frozenset({"README.md", "manifest.json", ".gitattributes"})
SIZES_BEGIN = "<!-- sizes:begin (written by scripts/vendor.py refresh) -->"
SIZES_END = "<!-- sizes:end -->"


# ---- what is taken from each tarball ----

@dataclass(frozen=True)
class Pick:
    source: str  # path inside the tarball, or a glob over it
    target: str  # path under the library's directory; a target ending in "/" keeps the file name
    transform: str = "copy"  # "copy" (byte-identical) or "umd-to-esm"


@dataclass(frozen=True)
class Library:
    npm: str
    directory: str
    entry: str  # the file page code imports (or links, for CSS-only use)
    picks: tuple[Pick, ...]


LIBRARIES = (
    # d3 ships dist/d3.mjs, but it only re-exports 30 bare specifiers ("d3-array", ...); its one
    # self-contained file is the UMD dist/d3.min.js, wrapped here into a module (see README.md).
    Library("d3", "d3", "d3/d3.mjs", (
        Pick("package/dist/d3.min.js", "d3.mjs", "umd-to-esm"),
        Pick("package/LICENSE", "LICENSE"),
    )),
    Library("@dagrejs/dagre", "dagre", "dagre/dagre.esm.js", (
        Pick("package/dist/dagre.esm.js", "dagre.esm.js"),
        Pick("package/dist/dagre.esm.js.LEGAL.txt", "dagre.esm.js.LEGAL.txt"),
        Pick("package/LICENSE", "LICENSE"),
    )),
    Library("katex", "katex", "katex/katex.mjs", (
        Pick("package/dist/katex.mjs", "katex.mjs"),
        Pick("package/dist/katex.min.css", "katex.min.css"),
        Pick("package/dist/fonts/*.woff2", "fonts/"),
        Pick("package/LICENSE", "LICENSE"),
    )),
)


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def load_manifest() -> dict:
    return json.loads(MANIFEST.read_text(encoding="utf-8"))


# ---- check ----

UMD_BEGIN = "// ---- begin {source} ----\n"


def embedded_source(data: bytes, record: dict) -> bytes | None:
    """The upstream bytes inside a umd-to-esm wrapper, found by its begin marker and recorded length."""
    marker = UMD_BEGIN.format(source=record["from"]).encode()
    start = data.find(marker)
    if start < 0:
        return None
    start += len(marker)
    return data[start:start + record["from_bytes"]]


def check() -> int:
    manifest = load_manifest()
    problems: list[str] = []
    checked = 0
    for library in manifest["libraries"]:
        for record in library["files"]:
            path = VENDOR_DIR / record["path"]
            if not path.is_file():
                problems.append(f"{record['path']}: missing")
                continue
            data = path.read_bytes()
            checked += 1
            if sha256_hex(data) != record["sha256"]:
                problems.append(f"{record['path']}: sha256 {sha256_hex(data)} != manifest {record['sha256']}")
            if record.get("transform") == "umd-to-esm":
                inner = embedded_source(data, record)
                if inner is None or sha256_hex(inner) != record["from_sha256"]:
                    problems.append(f"{record['path']}: the wrapped {record['from']} is not upstream's bytes")
    listed = {record["path"] for library in manifest["libraries"] for record in library["files"]}
    for path in sorted(VENDOR_DIR.rglob("*")):
        relative = path.relative_to(VENDOR_DIR).as_posix()
        if path.is_file() and relative not in listed and relative not in OWN_FILES:
            problems.append(f"{relative}: not in the manifest")
    for problem in problems:
        print("FAIL", problem, file=sys.stderr)
    print(f"{checked} vendored files checked, {len(problems)} problem(s)")
    return 1 if problems else 0


# ---- refresh ----

def npm(*args: str, cwd: Path | None = None) -> str:
    executable = shutil.which("npm")
    if executable is None:
        sys.exit("refresh needs node and npm (dev-only; users never do): npm was not found on PATH")
    result = subprocess.run([executable, *args], cwd=cwd, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        sys.exit(f"npm {' '.join(args)} failed:\n{result.stderr.strip()}")
    return result.stdout


def fetch_tarball(name: str, version: str, workdir: Path) -> tuple[bytes, str]:
    """The package tarball and its registry integrity, verified three ways (registry, npm pack, our sha512)."""
    registry_integrity = json.loads(npm("view", f"{name}@{version}", "dist.integrity", "--json"))
    packed = json.loads(npm("pack", f"{name}@{version}", "--json", "--pack-destination", str(workdir)))[0]
    tarball = (workdir / packed["filename"]).read_bytes()
    ours = "sha512-" + base64.b64encode(hashlib.sha512(tarball).digest()).decode()
    if not (registry_integrity == packed["integrity"] == ours):
        sys.exit(f"{name}@{version}: integrity mismatch: registry {registry_integrity}, "
                 f"npm pack {packed['integrity']}, tarball {ours}")
    return tarball, registry_integrity


def umd_export_names(umd: bytes, workdir: Path) -> list[str]:
    """Run the UMD bundle through node's CommonJS loader and list what it exports."""
    node = shutil.which("node")
    if node is None:
        sys.exit("refresh needs node and npm (dev-only; users never do): node was not found on PATH")
    bundle = workdir / "umd-bundle.cjs"
    bundle.write_bytes(umd)
    script = "console.log(JSON.stringify(Object.keys(require(process.argv[1]))))"
    result = subprocess.run([node, "-e", script, str(bundle)], capture_output=True, text=True, check=False)
    if result.returncode != 0:
        sys.exit(f"node could not load the UMD bundle:\n{result.stderr.strip()}")
    names = sorted(json.loads(result.stdout))
    bad = [name for name in names if not re.fullmatch(r"[A-Za-z_$][\w$]*", name)]
    if not names or bad:
        sys.exit(f"the UMD bundle's exports cannot all be ES module export names: {bad or 'none found'}")
    return names


LOCAL_PREFIX = "vendored$"


def umd_to_esm(umd: bytes, npm_name: str, version: str, source: str, workdir: Path) -> bytes:
    """Wrap a UMD bundle into an ES module that creates no global.

    The bundle runs at the module's top level beside a module-local `module` and `exports`, so its
    CommonJS branch is taken and it fills `module.exports`; the global branch (globalThis.NAME = ...)
    is never reached. Upstream's bytes are embedded unchanged.
    NOTE: d3 exports names that are also browser globals (`window`, `Node`, `blur`) and its code reads
    the global `window`; a module-scope `const window` would shadow it (and throw in its TDZ), so every
    export is bound under a prefixed local name and renamed only in the export list.
    """
    names = umd_export_names(umd, workdir)
    header = (
        f"// {npm_name} {version} ({source.removeprefix('package/')}) as an ES module: made by scripts/vendor.py, "
        "do not edit.\n"
        "// The UMD bundle below sees this module's own `module` and `exports`, takes its CommonJS branch and\n"
        "// fills module.exports; it never writes a global. Its bytes are upstream's, unchanged.\n"
        "const module = { exports: {} };\n"
        "const exports = module.exports;\n"
        + UMD_BEGIN.format(source=source)
    ).encode()
    footer = (
        ("" if umd.endswith(b"\n") else "\n")
        + f"// ---- end {source} ----\n"
        + "const {\n" + "".join(f"  {name}: {LOCAL_PREFIX}{name},\n" for name in names) + "} = module.exports;\n"
        + "export {\n" + "".join(f"  {LOCAL_PREFIX}{name} as {name},\n" for name in names) + "};\n"
    ).encode()
    return header + umd + footer


def pick_files(library: Library, version: str, tarball: bytes, workdir: Path) -> dict[str, tuple[bytes, dict]]:
    """Target path (under static/vendor/) -> (bytes, manifest record) for one library."""
    out: dict[str, tuple[bytes, dict]] = {}
    with tarfile.open(fileobj=io.BytesIO(tarball), mode="r:gz") as archive:
        members = {m.name: m for m in archive.getmembers() if m.isfile()}
        for pick in library.picks:
            sources = sorted(n for n in members if fnmatch.fnmatchcase(n, pick.source))
            if not sources:
                sys.exit(f"{library.npm}@{version}: no file matches {pick.source}")
            for source in sources:
                upstream = archive.extractfile(members[source]).read()
                name = pick.target + source.rsplit("/", 1)[-1] if pick.target.endswith("/") else pick.target
                target = f"{library.directory}/{name}"
                if pick.transform == "umd-to-esm":
                    data = umd_to_esm(upstream, library.npm, version, source, workdir)
                else:
                    data = upstream
                record = {"path": target, "bytes": len(data), "sha256": sha256_hex(data), "from": source}
                if pick.transform == "umd-to-esm":
                    record.update(transform="umd-to-esm", from_bytes=len(upstream), from_sha256=sha256_hex(upstream))
                out[target] = (data, record)
    return out


def package_license(tarball: bytes) -> str:
    with tarfile.open(fileobj=io.BytesIO(tarball), mode="r:gz") as archive:
        package = json.load(archive.extractfile("package/package.json"))
    return str(package.get("license", "unknown"))


def sizes_table(manifest: dict) -> str:
    lines = ["| library | version | files | bytes (uncompressed) |", "| --- | --- | ---: | ---: |"]
    total = 0
    for library in manifest["libraries"]:
        size = sum(record["bytes"] for record in library["files"])
        total += size
        lines.append(f"| {library['npm']} | {library['version']} | {len(library['files'])} | {size:,} |")
    lines.append(f"| **all vendored** | | | **{total:,}** |")
    lines.append("")
    lines.append("| file | bytes |")
    lines.append("| --- | ---: |")
    for library in manifest["libraries"]:
        for record in library["files"]:
            lines.append(f"| `{record['path']}` | {record['bytes']:,} |")
    return "\n".join(lines)


def write_sizes_into_readme(manifest: dict) -> None:
    text = README.read_text(encoding="utf-8")
    begin, end = text.find(SIZES_BEGIN), text.find(SIZES_END)
    if begin < 0 or end < begin:
        print(f"note: {README.relative_to(ROOT)} has no sizes markers; its table was not rewritten")
        return
    text = text[:begin + len(SIZES_BEGIN)] + "\n" + sizes_table(manifest) + "\n" + text[end:]
    README.write_text(text, encoding="utf-8")


def refresh(overrides: list[str]) -> int:
    pinned = {lib["npm"]: lib["version"] for lib in load_manifest()["libraries"]} if MANIFEST.is_file() else {}
    for override in overrides:
        name, _, version = override.rpartition("@")
        if not name or not version or name not in {lib.npm for lib in LIBRARIES}:
            sys.exit(f"not NAME@VERSION of a vendored library: {override}")
        pinned[name] = version
    missing = [lib.npm for lib in LIBRARIES if lib.npm not in pinned]
    if missing:
        sys.exit(f"no pinned version for {', '.join(missing)}: name one, e.g. refresh {missing[0]}@X.Y.Z")

    records: list[dict] = []
    files: dict[str, bytes] = {}
    with tempfile.TemporaryDirectory(prefix="vendor-") as temp:
        workdir = Path(temp)
        for library in LIBRARIES:
            version = pinned[library.npm]
            tarball, integrity = fetch_tarball(library.npm, version, workdir)
            picked = pick_files(library, version, tarball, workdir)
            records.append({
                "npm": library.npm,
                "version": version,
                "integrity": integrity,
                "license": package_license(tarball),
                "directory": library.directory,
                "entry": library.entry,
                "files": [record for _, record in picked.values()],
            })
            files.update({target: data for target, (data, _) in picked.items()})
            print(f"{library.npm}@{version}: {len(picked)} files")

    for library in LIBRARIES:
        directory = VENDOR_DIR / library.directory
        if directory.exists():
            shutil.rmtree(directory)
    for target, data in files.items():
        path = VENDOR_DIR / target
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    manifest = {
        "about": "Vendored front-end libraries, pinned. Written by `python scripts/vendor.py refresh`; "
                 "verified by `python scripts/vendor.py check` and tests/vendor. Paths are relative to static/vendor/.",
        "libraries": records,
    }
    MANIFEST.write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    write_sizes_into_readme(manifest)
    return check()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("check", help="verify every vendored file against the manifest (no node needed)")
    refresh_parser = commands.add_parser("refresh", help="re-download the pinned versions with npm pack")
    refresh_parser.add_argument("overrides", nargs="*", metavar="NAME@VERSION", help="move a library to this version")
    args = parser.parse_args(argv)
    if args.command == "check":
        return check()
    return refresh(args.overrides)


if __name__ == "__main__":
    sys.exit(main())
