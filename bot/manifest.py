"""The Teams app package: manifest.json, its English localization and the two icons, zipped.

`manifest/manifest.template.json` holds the structure; this module fills its placeholders:

- ``{{app_id}}``, ``{{bot_id}}``, ``{{version}}``: the arguments;
- ``{{commands:personal}}``, ``{{commands:team}}``: the commands the features declare for
  Teams' command menu (`menu=True`; channel-only ones not in the personal scope);
- ``{{t:KEY}}``: the French catalog's text for KEY. The same key's English goes into `en.json`
  under the JSON path it was found at (``bots[0].commandLists[0].commands[0].title``), which is
  how Teams localization files address manifest strings.

So every user-facing string comes from the gettext catalogs, like the rest of the bot's text.
"""

from __future__ import annotations

import json
import logging
import os
import re
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

from cards.help import HelpEntry
from cards.i18n import Translate, translator

logger = logging.getLogger(__name__)

# The template and icons live at the repository root, beside the code (editable installs).
MANIFEST_DIR = Path(__file__).resolve().parents[1] / "manifest"
TEMPLATE = MANIFEST_DIR / "manifest.template.json"

ENGLISH = "en"

_GUID = re.compile(r"[0-9a-fA-F]{8}-(?:[0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}")
# Teams rejects anything but plain MAJOR.MINOR.PATCH (no pre-release or build suffix).
_SEMVER = re.compile(r"(?:0|[1-9]\d*)\.(?:0|[1-9]\d*)\.(?:0|[1-9]\d*)")
_PLACEHOLDER = re.compile(r"\{\{(.+)\}\}")

# Limits Teams enforces on upload; some are stricter than the JSON schema, which allows
# 128/4000 for commands while the Teams client truncates or rejects longer ones.
_LIMITS: tuple[tuple[re.Pattern[str], int], ...] = (
    (re.compile(r"name\.short"), 30),
    (re.compile(r"name\.full"), 100),
    (re.compile(r"description\.short"), 80),
    (re.compile(r"description\.full"), 4000),
    (re.compile(r"bots\[0\]\.commandLists\[\d+\]\.commands\[\d+\]\.title"), 32),
    (re.compile(r"bots\[0\]\.commandLists\[\d+\]\.commands\[\d+\]\.description"), 128),
    (re.compile(r"composeExtensions\[0\]\.commands\[\d+\](\.parameters\[\d+\])?\.title"), 32),
    (
        re.compile(r"composeExtensions\[0\]\.commands\[\d+\](\.parameters\[\d+\])?\.description"),
        128,
    ),
)
# Teams shows at most 10 commands per scope in the command menu.
MAX_COMMANDS = 10


def _package_version() -> str:
    try:
        return metadata.version("carrefour")
    except metadata.PackageNotFoundError:  # a bare source checkout, never `pip install`ed
        return "0.1.0"


DEFAULT_VERSION = _package_version()


@dataclass(frozen=True, slots=True)
class DeveloperInfo:
    """Overrides for the template's `developer` block; None keeps the template's value."""

    name: str | None = None
    website_url: str | None = None
    privacy_url: str | None = None
    terms_of_use_url: str | None = None

    def apply(self, block: dict[str, Any]) -> None:
        urls = {
            "websiteUrl": self.website_url,
            "privacyUrl": self.privacy_url,
            "termsOfUseUrl": self.terms_of_use_url,
        }
        for field, url in urls.items():
            if url is not None:
                if not url.startswith("https://"):
                    raise ValueError(f"developer {field} must be an https:// URL, got {url!r}")
                block[field] = url
        if self.name is not None:
            block["name"] = self.name


def _guid(value: str, what: str) -> str:
    value = value.strip()
    if not _GUID.fullmatch(value):
        raise ValueError(
            f"{what} must be a GUID like 00000000-0000-0000-0000-000000000000 (the Azure bot's "
            f"Microsoft App ID), got {value!r}"
        )
    return value


def _check_length(path: str, text: str, *, key: str, language: str) -> None:
    for pattern, limit in _LIMITS:
        if pattern.fullmatch(path) and len(text) > limit:
            raise ValueError(
                f"{key} ({language}) is {len(text)} characters but Teams allows {limit} for "
                f"{path}: shorten it in the catalog"
            )


def _commands(features: Sequence[HelpEntry]) -> list[dict[str, str]]:
    if len(features) > MAX_COMMANDS:
        raise ValueError(
            f"{len(features)} features but Teams shows at most {MAX_COMMANDS} commands"
        )
    return [
        {
            "title": f"{{{{t:command.{f.key}.title}}}}",
            "description": f"{{{{t:command.{f.key}.description}}}}",
        }
        for f in features
    ]


class _Filler:
    """Walks the template, replacing placeholders and collecting the English strings."""

    def __init__(
        self,
        values: dict[str, str],
        commands: Sequence[HelpEntry],
        french: Translate,
        english: Translate,
    ) -> None:
        self.values = values
        self.commands = commands
        self.french = french
        self.english = english
        self.localized: dict[str, str] = {}

    def fill(self, node: Any, path: str = "") -> Any:
        if isinstance(node, dict):
            return {k: self.fill(v, f"{path}.{k}" if path else k) for k, v in node.items()}
        if isinstance(node, list):
            return [self.fill(v, f"{path}[{i}]") for i, v in enumerate(node)]
        if isinstance(node, str) and (match := _PLACEHOLDER.fullmatch(node)):
            name = match.group(1)
            if name in ("commands:personal", "commands:team"):
                personal = name.endswith("personal")
                menu = tuple(
                    f for f in self.commands if f.menu and not (personal and f.channel_only)
                )
                return self.fill(_commands(menu), path)
            if name.startswith("t:"):
                return self._translate(name[2:], path)
            if name in self.values:
                return self.values[name]
            raise ValueError(f"unknown placeholder {node!r} at {path} in {TEMPLATE.name}")
        return node

    def _translate(self, key: str, path: str) -> str:
        french, english = self.french(key), self.english(key)
        _check_length(path, french, key=key, language="fr")
        _check_length(path, english, key=key, language=ENGLISH)
        self.localized[path] = english
        return french


def build_manifest(
    *,
    app_id: str,
    commands: Sequence[HelpEntry],
    version: str = DEFAULT_VERSION,
    bot_id: str | None = None,
    developer: DeveloperInfo | None = None,
) -> tuple[dict[str, Any], dict[str, str]]:
    """The manifest (French) and its English localization file's content.

    `bot_id` defaults to `app_id`: one Entra app registration usually serves as both the Teams
    app id and the bot's Microsoft App ID.
    """
    app_id = _guid(app_id, "app_id")
    bot_id = _guid(bot_id, "bot_id") if bot_id is not None else app_id
    if not _SEMVER.fullmatch(version):
        raise ValueError(f"version must be MAJOR.MINOR.PATCH for Teams, got {version!r}")

    template = json.loads(TEMPLATE.read_text(encoding="utf-8"))
    filler = _Filler(
        {"app_id": app_id, "bot_id": bot_id, "version": version},
        commands,
        french=translator(template["localizationInfo"]["defaultLanguageTag"]),
        english=translator(ENGLISH),
    )
    manifest: dict[str, Any] = filler.fill(template)

    if developer is not None:
        developer.apply(manifest["developer"])

    localization = {
        "$schema": manifest["$schema"].replace(
            "MicrosoftTeams.schema.json", "MicrosoftTeams.Localization.schema.json"
        ),
        **filler.localized,
    }
    return manifest, localization


def localization_file(manifest: dict[str, Any], language: str = ENGLISH) -> str:
    """The file name the manifest gives for `language`'s strings (``en.json``)."""
    for entry in manifest["localizationInfo"]["additionalLanguages"]:
        if entry["languageTag"] == language:
            return str(entry["file"])
    raise ValueError(f"{TEMPLATE.name} declares no {language!r} localization file")


def _json_bytes(document: dict[str, Any] | dict[str, str]) -> bytes:
    return (json.dumps(document, ensure_ascii=False, indent=2) + "\n").encode("utf-8")


def build_package(
    *,
    app_id: str,
    commands: Sequence[HelpEntry],
    out: Path,
    version: str = DEFAULT_VERSION,
    bot_id: str | None = None,
    developer: DeveloperInfo | None = None,
) -> Path:
    """Write the Teams app zip (manifest.json, en.json, color.png, outline.png) to `out`."""
    manifest, english = build_manifest(
        app_id=app_id, commands=commands, version=version, bot_id=bot_id, developer=developer
    )
    files: dict[str, bytes] = {
        "manifest.json": _json_bytes(manifest),
        localization_file(manifest): _json_bytes(english),
    }
    for icon in (manifest["icons"]["color"], manifest["icons"]["outline"]):
        path = MANIFEST_DIR / icon
        if not path.is_file():
            raise FileNotFoundError(f"{path} is missing: run `python manifest/make_icons.py`")
        files[icon] = path.read_bytes()

    out.parent.mkdir(parents=True, exist_ok=True)
    partial = out.with_name(out.name + ".partial")
    with zipfile.ZipFile(partial, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, data in files.items():
            # A fixed timestamp makes identical inputs give a byte-identical package.
            info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            archive.writestr(info, data)
    # Replace in one step so an interrupted build never leaves a truncated zip to upload.
    os.replace(partial, out)
    logger.info("Teams app package written to %s (version %s)", out, version)
    return out
