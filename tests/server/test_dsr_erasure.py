"""An mParticle Firehose erasure (``dsr_processing_request``) through ``mapwire serve``:
queued for the connections reading DSR requests, answered with the protocol's
``dsr_processing_response``, and delivered to Customer.io as a suppress."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jsonschema
from contract_specs import VENDOR_DIR
from server_helpers import RunningServer, bearer, cio_destination, write_config

Serve = Callable[[Path], RunningServer]
FIREHOSE = VENDOR_DIR / "mparticle" / "firehose"


def _schema(name: str) -> jsonschema.Draft3Validator:
    return jsonschema.Draft3Validator(
        json.loads((FIREHOSE / "schema" / f"{name}_schema.json").read_text())
    )


def test_an_erasure_is_answered_and_suppresses_the_person_in_customerio(
    vendor_secrets: None, customerio_server: Any, serve: Serve, tmp_path: Path
) -> None:
    flows = [
        {
            "name": "erasures",
            "flow": "mparticle-dsr-to-customerio",
            "destination": cio_destination(customerio_server),
        }
    ]
    server = serve(write_config(tmp_path, flows))
    registration = json.loads((FIREHOSE / "ModuleRegistrationRequest.json").read_text())
    with server.client() as client:
        registered = client.post(
            "/mparticle/firehose",
            content=json.dumps(registration),
            headers={"Content-Type": "application/json"},  # registration needs no token
        ).json()
    assert list(_schema("ModuleRegistrationResponse").iter_errors(registered)) == []
    # the registration says erasures are handled, or mParticle would send none
    assert registered["dsr_processing_registration"] == {
        "account_settings": [],
        "supported_dsr_types": ["erasure"],
    }
    dsr = json.loads((FIREHOSE / "DsrProcessingRequest.json").read_text())
    dsr["account"] = {"account_id": 1}  # the sample leaves out a field its schema requires
    assert list(_schema("DsrProcessingRequest").iter_errors(dsr)) == []
    dsr["subject_identities"]["controller_customer_id"] = {"encoding": "raw", "value": "c1"}
    with server.client() as client:
        answer = client.post("/mparticle/firehose", content=json.dumps(dsr), headers=bearer())
    assert answer.status_code == 200
    reply = answer.json()
    assert reply["type"] == "dsr_processing_response" and reply["id"] == dsr["id"]
    assert list(_schema("DsrProcessingResponse").iter_errors(reply)) == []
    server.wait_delivered()
    assert customerio_server.rejected == []
    (accepted,) = customerio_server.accepted
    assert accepted.route == "POST /api/v2/batch"
    assert accepted.item == {"type": "person", "action": "suppress", "identifiers": {"id": "c1"}}
