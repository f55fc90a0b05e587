"""The Teams app package: official schemas, icons, zip layout and catalog-sourced text."""

from __future__ import annotations

import io
import json
import os
import zipfile
from importlib import metadata
from pathlib import Path
from typing import Any

import jsonschema  # type: ignore[import-untyped]
import pytest
from PIL import Image
from referencing import Registry

import bot.manifest
from bot.app import REGISTRY
from bot.manifest import DeveloperInfo, build_manifest, build_package
from cards.i18n import translator

FEATURES = REGISTRY.help_entries

APP_ID = "6f1a2b3c-4d5e-4f60-8a9b-0c1d2e3f4a5b"
ROOT = Path(__file__).resolve().parents[1]
SCHEMAS = ROOT / "node_modules" / "@microsoft" / "app-manifest" / "build" / "json-schemas" / "teams"
FILES = {"manifest.json", "en.json", "color.png", "outline.png"}


@pytest.fixture
def package(tmp_path: Path) -> zipfile.ZipFile:
    path = build_package(app_id=APP_ID, commands=FEATURES, out=tmp_path / "carrefour.zip")
    return zipfile.ZipFile(path)


def _json(archive: zipfile.ZipFile, name: str) -> dict[str, Any]:
    document: dict[str, Any] = json.loads(archive.read(name).decode("utf-8"))
    return document


def _image(archive: zipfile.ZipFile, name: str) -> Image.Image:
    return Image.open(io.BytesIO(archive.read(name)))


def _schema_dir(manifest_version: str) -> Path:
    directory = SCHEMAS / f"v{manifest_version}"
    if not directory.is_dir():
        reason = f"{directory} is missing: run `npm ci` to get the Teams manifest schemas"
        if os.environ.get("CI"):
            pytest.fail(reason)
        pytest.skip(reason)
    return directory


def _validate(document: dict[str, Any], schema_path: Path) -> None:
    schema = json.loads(schema_path.read_text(encoding="utf-8"))
    validator_class = jsonschema.validators.validator_for(schema)  # the draft it declares
    # Its patterns are ECMA-262 (`\\p{L}`), which Python's `re` rejects as a "regex" format.
    validator_class.check_schema(schema, format_checker=None)
    validator = validator_class(
        schema,
        # An empty registry cannot retrieve anything: a non-local $ref fails, never downloads.
        registry=Registry(),
        format_checker=validator_class.FORMAT_CHECKER,
    )
    errors = sorted(validator.iter_errors(document), key=lambda e: list(e.absolute_path))
    assert not errors, "\n".join(f"{list(e.absolute_path)}: {e.message}" for e in errors)


def test_manifest_matches_the_official_schema(package: zipfile.ZipFile) -> None:
    manifest = _json(package, "manifest.json")
    directory = _schema_dir(manifest["manifestVersion"])
    _validate(manifest, directory / "MicrosoftTeams.schema.json")
    # Draft-04 ignores the schema's `const`, so check the version pairing here.
    assert manifest["$schema"].endswith(
        f"/v{manifest['manifestVersion']}/MicrosoftTeams.schema.json"
    )


def test_localization_matches_the_official_schema(package: zipfile.ZipFile) -> None:
    manifest = _json(package, "manifest.json")
    directory = _schema_dir(manifest["manifestVersion"])
    _validate(_json(package, "en.json"), directory / "MicrosoftTeams.Localization.schema.json")


def test_chosen_manifest_version_is_stable_not_preview() -> None:
    manifest, _ = build_manifest(app_id=APP_ID, commands=FEATURES)
    major, minor = (int(part) for part in manifest["manifestVersion"].split("."))
    assert (major, minor) >= (1, 19)


def test_zip_holds_exactly_the_four_files_at_its_root(package: zipfile.ZipFile) -> None:
    assert set(package.namelist()) == FILES
    assert len(package.namelist()) == len(FILES)


def test_package_is_reproducible(tmp_path: Path) -> None:
    first = build_package(app_id=APP_ID, commands=FEATURES, out=tmp_path / "a.zip")
    second = build_package(app_id=APP_ID, commands=FEATURES, out=tmp_path / "nested" / "b.zip")
    assert first.read_bytes() == second.read_bytes()


def test_manifest_fields(package: zipfile.ZipFile) -> None:
    manifest = _json(package, "manifest.json")
    assert manifest["id"] == APP_ID
    assert manifest["version"] == metadata.version("carrefour")
    bot_entry = manifest["bots"][0]
    assert bot_entry["botId"] == APP_ID
    assert set(bot_entry["scopes"]) == {"personal", "team", "groupChat"}
    assert bot_entry["supportsFiles"] is False
    assert bot_entry["isNotificationOnly"] is False
    assert [sorted(c["scopes"]) for c in bot_entry["commandLists"]] == [
        ["personal"],
        ["groupChat", "team"],
    ]
    assert manifest["localizationInfo"] == {
        "defaultLanguageTag": "fr-CA",
        "additionalLanguages": [{"languageTag": "en", "file": "en.json"}],
    }
    assert manifest["icons"] == {"color": "color.png", "outline": "outline.png"}


def test_color_icon_is_192_square(package: zipfile.ZipFile) -> None:
    icon = _image(package, "color.png")
    assert icon.format == "PNG"
    assert icon.size == (192, 192)


def test_outline_icon_is_32_square_white_on_transparent(package: zipfile.ZipFile) -> None:
    icon = _image(package, "outline.png")
    assert icon.format == "PNG"
    assert icon.size == (32, 32)
    # Raw RGBA bytes, four per pixel (Pillow deprecates getdata()).
    raw = icon.convert("RGBA").tobytes()
    pixels = [tuple(raw[i : i + 4]) for i in range(0, len(raw), 4)]
    offending = [p for p in pixels if p[3] != 0 and p[:3] != (255, 255, 255)]
    assert not offending, f"{len(offending)} outline pixels are neither transparent nor white"
    assert any(p[3] == 255 for p in pixels), "the outline icon is empty"


@pytest.mark.parametrize(
    "app_id",
    [
        "",
        "not-a-guid",
        "6f1a2b3c4d5e4f608a9b0c1d2e3f4a5b",
        "{6f1a2b3c-4d5e-4f60-8a9b-0c1d2e3f4a5b}",
    ],
)
def test_invalid_app_id_is_refused(tmp_path: Path, app_id: str) -> None:
    with pytest.raises(ValueError, match="app_id must be a GUID"):
        build_package(app_id=app_id, commands=FEATURES, out=tmp_path / "x.zip")
    assert not (tmp_path / "x.zip").exists()


def test_invalid_bot_id_and_version_are_refused() -> None:
    with pytest.raises(ValueError, match="bot_id must be a GUID"):
        build_manifest(app_id=APP_ID, commands=FEATURES, bot_id="nope")
    with pytest.raises(ValueError, match=r"MAJOR\.MINOR\.PATCH"):
        build_manifest(app_id=APP_ID, commands=FEATURES, version="1.0.0.dev1")


def test_separate_bot_id_and_version() -> None:
    bot_id = "00000000-1111-2222-3333-444444444444"
    manifest, _ = build_manifest(app_id=APP_ID, commands=FEATURES, bot_id=bot_id, version="2.3.4")
    assert (manifest["id"], manifest["bots"][0]["botId"], manifest["version"]) == (
        APP_ID,
        bot_id,
        "2.3.4",
    )


def test_developer_urls_can_be_overridden() -> None:
    developer = DeveloperInfo(privacy_url="https://example.org/confidentialite")
    manifest, _ = build_manifest(app_id=APP_ID, commands=FEATURES, developer=developer)
    assert manifest["developer"]["privacyUrl"] == "https://example.org/confidentialite"
    assert manifest["developer"]["websiteUrl"].startswith("https://")
    with pytest.raises(ValueError, match="https://"):
        build_manifest(
            app_id=APP_ID,
            commands=FEATURES,
            developer=DeveloperInfo(terms_of_use_url="ftp://x.org"),
        )


def test_texts_come_from_the_catalogs(package: zipfile.ZipFile) -> None:
    manifest, english = _json(package, "manifest.json"), _json(package, "en.json")
    fr, en = translator("fr-CA"), translator("en")
    for part in ("short", "full"):
        assert manifest["name"][part] == fr(f"manifest.name.{part}")
        assert manifest["description"][part] == fr(f"manifest.description.{part}")
        assert english[f"name.{part}"] == en(f"manifest.name.{part}")
        assert english[f"description.{part}"] == en(f"manifest.description.{part}")


def test_commands_are_the_features_in_french_and_english(package: zipfile.ZipFile) -> None:
    manifest, english = _json(package, "manifest.json"), _json(package, "en.json")
    fr, en = translator("fr-CA"), translator("en")
    command_lists = manifest["bots"][0]["commandLists"]
    assert [c["scopes"] for c in command_lists] == [["personal"], ["team", "groupChat"]]
    team_menu = [f for f in FEATURES if f.menu]
    # A community is created from its channel: `configurer` is not offered in a personal chat.
    personal_menu = [f for f in team_menu if f.key != "setup"]
    assert len(team_menu) <= 10  # Teams' limit per command list
    for i, (command_list, menu) in enumerate(
        zip(command_lists, (personal_menu, team_menu), strict=True)
    ):
        assert command_list["commands"] == [
            {
                "title": fr(f"command.{f.key}.title"),
                "description": fr(f"command.{f.key}.description"),
            }
            for f in menu
        ]
        for j, f in enumerate(menu):
            prefix = f"bots[0].commandLists[{i}].commands[{j}]"
            assert english[f"{prefix}.title"] == en(f"command.{f.key}.title")
            assert english[f"{prefix}.description"] == en(f"command.{f.key}.description")
    assert fr("command.help.title") != en("command.help.title")  # really two languages


def test_too_long_catalog_text_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    real = translator

    def long_titles(locale: str | None) -> Any:
        t = real(locale)
        return lambda key: "x" * 33 if key.endswith(".title") else t(key)

    monkeypatch.setattr(bot.manifest, "translator", long_titles)
    with pytest.raises(ValueError, match=r"command\.help\.title \(fr\) is 33 characters"):
        build_manifest(app_id=APP_ID, commands=FEATURES)
