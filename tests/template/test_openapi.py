"""The OpenAPI document (docs/openapi.json, generated from the handlers' annotations and kept
in step with them by the `docs` crate's tests) checked by a real validator, and against the
routes the template deploys: every deployed route is documented, and nothing else is."""

import json
from pathlib import Path

import pytest
from openapi_spec_validator import validate
from openapi_spec_validator.validation.validators import OpenAPIV31SpecValidator
from samtranslator.yaml_helper import yaml_parse

ROOT = Path(__file__).resolve().parents[2]
DOCUMENT = ROOT / "docs" / "openapi.json"
# Routes of the docs function itself: FastAPI leaves them out of the document too.
UNDOCUMENTED = {("get", "/openapi.json"), ("get", "/docs"), ("get", "/docs/{proxy+}")}


@pytest.fixture(scope="module")
def document():
    return json.loads(DOCUMENT.read_text())


def deployed_routes():
    template = yaml_parse((ROOT / "template.yaml").read_text())
    for resource in template["Resources"].values():
        if resource["Type"] != "AWS::Serverless::Function":
            continue
        for event in resource["Properties"].get("Events", {}).values():
            if event["Type"] == "Api":
                yield event["Properties"]["Method"].lower(), event["Properties"]["Path"]


def test_the_document_is_valid_openapi_3_1(document):
    assert document["openapi"].startswith("3.1")
    validate(document, cls=OpenAPIV31SpecValidator)


def test_every_deployed_route_is_documented_and_nothing_else(document):
    documented = {(m, p) for p, ops in document["paths"].items() for m in ops}
    deployed = set(deployed_routes()) - UNDOCUMENTED
    assert documented == deployed


def test_protected_operations_name_the_oauth2_password_flow_at_login(document):
    scheme = document["components"]["securitySchemes"]["OAuth2PasswordBearer"]
    assert scheme["flows"]["password"]["tokenUrl"] == "/login"
    for path, ops in document["paths"].items():
        for method, op in ops.items():
            protected = path.startswith("/posts") or path == "/vote"
            assert (op.get("security") == [{"OAuth2PasswordBearer": []}]) == protected, (method, path)


def test_the_tags_are_the_courses(document):
    used = {t for ops in document["paths"].values() for op in ops.values() for t in op.get("tags", [])}
    assert used == {"Users", "Authentication", "Posts", "Vote"}
