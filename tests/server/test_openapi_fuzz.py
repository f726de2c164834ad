"""schemathesis against /openapi.json, with the token: every route, with data that fits its
schema and data that does not, never gets a 5xx, and every answer conforms to the document
(status, content type, headers, body schema).

The server runs --read-only: the actions are real (stop, remove, prune), and the engine is
shared, so the fuzzer must not reach it. A read-only server refuses every action with 403
problem+json before looking at its parameters, which the document says too."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hostile_harness import problems_in, server_is_healthy, server_with_output
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from schemathesis.config import SchemathesisConfig
from server_harness import ServerProcess

pytestmark = pytest.mark.integration

EXAMPLES = 300  # per generation mode, spread over every operation
#: What counts as refusing data that breaks the schema: schemathesis's list, and 413.
REJECTIONS = [
    "400",
    "401",
    "403",
    "404",
    "405",
    "406",
    "409",
    "413",
    "415",
    "422",
    "428",
    "429",
    "5xx",
]
#: Requests sent and statuses answered, by operation (printed at the end of the module).
ANSWERS: Counter[str] = Counter()


@pytest.fixture(scope="module")
def read_only(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[ServerProcess, Path]]:
    with server_with_output(tmp_path_factory.mktemp("openapi"), "--read-only") as pair:
        yield pair
    print(f"\nschemathesis: {sum(ANSWERS.values())} requests;", dict(sorted(ANSWERS.items())))


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
def test_every_route_answers_as_documented(
    read_only: tuple[ServerProcess, Path], mode: GenerationMode
) -> None:
    server, _ = read_only
    config = SchemathesisConfig.from_dict(
        # A body over 64 KiB is refused 413 before any route (BodyLimit): a rejection too.
        {"checks": {"negative_data_rejection": {"expected-statuses": REJECTIONS}}}
    )
    schema = schemathesis.openapi.from_url(
        server.url + "/openapi.json", headers=server.headers, config=config
    )

    @given(case=schema.as_strategy(mode))
    @settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))
    def call(case: Any) -> None:
        response = case.call_and_validate(headers=server.headers)
        ANSWERS[f"{case.method} {case.path} {response.status_code}"] += 1
        if case.method in ("POST", "PUT", "PATCH", "DELETE"):
            # Refused as read-only, or no such route (an {id} with a "/" in it), or its body
            # too large to be read at all.
            assert response.status_code in (403, 404, 413), "an action reached past --read-only"
            if response.status_code == 404:
                assert response.json()["detail"] == "Not Found"  # not Docker's "No such …"

    call()


def test_the_server_survived_the_fuzzing(read_only: tuple[ServerProcess, Path]) -> None:
    server, output = read_only
    assert server_is_healthy(server)
    assert problems_in(output) == []
