import json

from fastapi import FastAPI

from tests.conftest import ROOT


def test_committed_schema_matches_the_app(app: FastAPI) -> None:
    committed = json.loads((ROOT / "openapi" / "openapi.json").read_text())
    assert committed == json.loads(json.dumps(app.openapi())), "run `make openapi` and commit the result"


def test_operation_ids_are_readable(app: FastAPI) -> None:
    ids = [op["operationId"] for ops in app.openapi()["paths"].values() for op in ops.values()]
    assert "episodes-create" in ids
    assert len(ids) == len(set(ids))
    assert all(op_id.replace("-", "").isalpha() for op_id in ids)
