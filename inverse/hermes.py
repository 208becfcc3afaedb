"""A client of Pyth's Hermes price service, the real one or the local one
(`inverse/price_service.py`): the same calls, the URL is configuration."""

from __future__ import annotations

import os
from dataclasses import dataclass

import requests


class NotYetPublished(Exception):
    """No update at or after the time asked for exists yet."""


@dataclass(frozen=True)
class Updates:
    """What Hermes returned: the update data to pass to the chain as it is, and each
    feed's parsed fields (price, conf, expo, publish_time, metadata)."""

    data: list[bytes]
    parsed: list[dict]


class Hermes:
    def __init__(self, url: str, timeout: float = 10):
        self.url = url.rstrip("/")
        self.timeout = timeout
        self.session = requests.Session()

    def latest(self, ids: list[str]) -> Updates:
        """The latest update of each feed."""
        return self._get("latest", ids)

    def at(self, publish_time: int, ids: list[str]) -> Updates:
        """The first update of each feed published at or after `publish_time`;
        `NotYetPublished` if there is none yet."""
        return self._get(str(publish_time), ids)

    def _get(self, which: str, ids: list[str]) -> Updates:
        response = self.session.get(
            f"{self.url}/v2/updates/price/{which}",
            params={"ids[]": [i.removeprefix("0x") for i in ids], "encoding": "hex"},
            timeout=self.timeout,
        )
        if (
            response.status_code == 404
            and which != "latest"
            and not _message(response).startswith("Price ids not found")
        ):
            raise NotYetPublished(_message(response))
        if response.status_code != 200:
            raise RuntimeError(f"the price service at {self.url} answered {response.status_code}: {_message(response)}")
        body = response.json()
        if body["binary"]["encoding"] != "hex":
            raise RuntimeError(f"the price service sent {body['binary']['encoding']}, not hex")
        return Updates([bytes.fromhex(d.removeprefix("0x")) for d in body["binary"]["data"]], body["parsed"])


def _message(response) -> str:
    try:
        return response.json().get("message", response.text)
    except ValueError:
        return response.text


def hermes_url(manifest: dict | None = None) -> str:
    """Where a pull market's updates come from: INVERSE_HERMES_URL, else the
    deployment manifest's `hermes`."""
    if url := os.environ.get("INVERSE_HERMES_URL"):
        return url
    if manifest and manifest.get("hermes"):
        return manifest["hermes"]
    raise RuntimeError(
        "a pull market needs a price service: set INVERSE_HERMES_URL (https://hermes.pyth.network for Pyth's)"
    )
