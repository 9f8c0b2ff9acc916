"""static/vendor/: the pinned front-end libraries are exactly what manifest.json says, carry their
licenses, and make the browser fetch nothing from outside the app's own origin."""
from __future__ import annotations

import base64
import hashlib
import importlib.util
import json
import re
import shutil
import sys
from pathlib import Path, PurePosixPath

import pytest

ROOT = Path(__file__).resolve().parents[2]
VENDOR_DIR = ROOT / "static" / "vendor"
MANIFEST = json.loads((VENDOR_DIR / "manifest.json").read_text(encoding="utf-8"))
LIBRARIES = MANIFEST["libraries"]
RECORDS = [record for library in LIBRARIES for record in library["files"]]
OWN_FILES = {"README.md", "manifest.json", ".gitattributes"}
# Namespace URIs are identifiers the DOM compares, never addresses the browser requests.
XML_NAMESPACES = {
    "http://www.w3.org/1999/xhtml",
    "http://www.w3.org/1999/xlink",
    "http://www.w3.org/2000/svg",
    "http://www.w3.org/2000/xmlns/",
    "http://www.w3.org/XML/1998/namespace",
    "http://www.w3.org/1998/Math/MathML",
}


def vendored(suffixes: tuple[str, ...]) -> list[str]:
    return [record["path"] for record in RECORDS if record["path"].endswith(suffixes)]


def text_of(path: str) -> str:
    return (VENDOR_DIR / path).read_text(encoding="utf-8")


def resolves_to_vendored(referrer: str, reference: str) -> bool:
    """A relative reference from one vendored file lands on another vendored file."""
    target = PurePosixPath(referrer).parent
    for part in PurePosixPath(reference.split("?")[0].split("#")[0]).parts:
        target = target.parent if part == ".." else target if part == "." else target / part
    return target.as_posix() in {record["path"] for record in RECORDS}


def load_vendor_script():
    """scripts/ is not a package: load scripts/vendor.py by path (registered first: it defines dataclasses)."""
    spec = importlib.util.spec_from_file_location("vendor_script", ROOT / "scripts" / "vendor.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


# ---- the manifest against the files ----

@pytest.mark.parametrize("record", RECORDS, ids=[record["path"] for record in RECORDS])
def test_every_manifest_file_exists_with_its_size_and_sha256(record):
    data = (VENDOR_DIR / record["path"]).read_bytes()
    assert len(data) == record["bytes"]
    assert hashlib.sha256(data).hexdigest() == record["sha256"]


def test_every_file_under_static_vendor_is_in_the_manifest():
    listed = {record["path"] for record in RECORDS}
    on_disk = {p.relative_to(VENDOR_DIR).as_posix() for p in VENDOR_DIR.rglob("*") if p.is_file()}
    assert on_disk - listed - OWN_FILES == set()


def test_each_library_pins_an_exact_version_and_a_sha512_tarball_integrity():
    assert {library["npm"] for library in LIBRARIES} == {"d3", "@dagrejs/dagre", "katex"}
    for library in LIBRARIES:
        assert re.fullmatch(r"\d+\.\d+\.\d+", library["version"]), library["npm"]
        algorithm, _, digest = library["integrity"].partition("-")
        assert algorithm == "sha512" and len(base64.b64decode(digest, validate=True)) == 64, library["npm"]
        assert all(record["path"].startswith(library["directory"] + "/") for record in library["files"])
        assert library["entry"] in {record["path"] for record in library["files"]}


@pytest.mark.parametrize("library", LIBRARIES, ids=[library["npm"] for library in LIBRARIES])
def test_every_library_ships_the_license_file_from_its_tarball(library):
    license_record = next(r for r in library["files"] if r["path"] == f"{library['directory']}/LICENSE")
    assert license_record["from"] == "package/LICENSE"
    text = text_of(license_record["path"])
    assert "Copyright" in text and "Permission" in text


def test_the_wrapped_d3_bundle_embeds_upstreams_bytes_unchanged():
    [record] = [r for r in RECORDS if r.get("transform") == "umd-to-esm"]
    data = (VENDOR_DIR / record["path"]).read_bytes()
    marker = f"// ---- begin {record['from']} ----\n".encode()
    start = data.index(marker) + len(marker)
    assert hashlib.sha256(data[start:start + record["from_bytes"]]).hexdigest() == record["from_sha256"]


def test_the_d3_module_binds_its_exports_under_prefixed_names_so_the_global_window_stays_visible():
    text = text_of("d3/d3.mjs")
    footer = text[text.index("// ---- end "):]
    assert "  window: vendored$window,\n" in footer and "  vendored$window as window,\n" in footer
    assert not re.search(r"^(?:export\s+)?(?:const|let|var)\s+\{?\s*window\b", footer, re.M)


# ---- nothing fetched from outside the origin ----

@pytest.mark.parametrize("path", vendored((".css",)))
def test_css_references_only_relative_urls(path):
    css = text_of(path)
    assert "@import" not in css
    for url in re.findall(r"url\(\s*['\"]?([^'\")]+)", css):
        assert not re.match(r"(?:[a-z][a-z0-9+.-]*:|//)", url, re.I) or url.startswith("data:"), url


@pytest.mark.parametrize("path", vendored((".css",)))
def test_every_font_face_lists_a_vendored_woff2_first(path):
    """Only the woff2 fonts are vendored: browsers take the first format they support and never ask
    for the woff/ttf fallbacks listed after it, so each src list must start with a file we ship."""
    faces = re.findall(r"@font-face\s*\{([^}]*)\}", text_of(path))
    assert faces
    for face in faces:
        first = re.search(r"src:\s*url\(\s*['\"]?([^'\")]+)['\"]?\)\s*format\(['\"]?woff2", face)
        assert first, face
        assert resolves_to_vendored(path, first.group(1)), first.group(1)


@pytest.mark.parametrize("path", vendored((".woff2",)))
def test_vendored_fonts_are_woff2(path):
    assert (VENDOR_DIR / path).read_bytes()[:4] == b"wOF2"


@pytest.mark.parametrize("path", vendored((".js", ".mjs")))
def test_js_imports_only_relative_vendored_modules(path):
    js = text_of(path)
    static = re.findall(r"(?:^|[;}])\s*(?:import|export)\s*(?:[\w$*{}\s,]*?\bfrom\s*)?[\"']([^\"']+)[\"']", js, re.M)
    for specifier in static:
        assert specifier.startswith(("./", "../")) and resolves_to_vendored(path, specifier), specifier
    assert re.findall(r"\bimport\s*\((?!\s*[\"']\.\.?/)", js) == []


@pytest.mark.parametrize("path", vendored((".js", ".mjs")))
def test_js_string_literals_hold_no_absolute_url_but_xml_namespaces(path):
    literals = re.findall(r"[\"'`](https?://[^\"'`\s\\]*)", text_of(path))
    assert set(literals) - XML_NAMESPACES == set()


@pytest.mark.parametrize("path", vendored((".js", ".mjs", ".css")))
def test_source_map_comments_point_nowhere_outside(path):
    """A sourceMappingURL is read only by open developer tools, never by the page; we keep upstream's
    bytes (so they match the tarball) and ship no maps, but such a comment must stay relative."""
    for url in re.findall(r"[#@]\s*sourceMappingURL=(\S+)", text_of(path)):
        assert not re.match(r"(?:[a-z][a-z0-9+.-]*:|//)", url, re.I), url


# ---- the script and the README ----

def test_vendor_check_passes_and_catches_a_changed_byte(tmp_path, monkeypatch, capsys):
    vendor = load_vendor_script()
    assert vendor.check() == 0
    copy = tmp_path / "vendor"
    shutil.copytree(VENDOR_DIR, copy)
    monkeypatch.setattr(vendor, "VENDOR_DIR", copy)
    monkeypatch.setattr(vendor, "MANIFEST", copy / "manifest.json")
    target = copy / "dagre" / "dagre.esm.js"
    data = bytearray(target.read_bytes())
    data[100] ^= 1
    target.write_bytes(bytes(data))
    assert vendor.check() == 1
    assert "dagre/dagre.esm.js: sha256" in capsys.readouterr().err


def test_readme_sizes_table_is_the_manifests():
    vendor = load_vendor_script()
    assert vendor.sizes_table(MANIFEST) in text_of("README.md")
