"""Property-based fuzzing of the whole API (schemathesis) over the committed OpenAPI document.

Every operation gets a few generated requests (bodies from its schema, any
microversion its header allows) against the embedded deployment, as an
administrator and as a plain user. Whatever comes in: no 5xx but a deliberate 501, and every
error is JSON in Cinder's format ``{"<name>": {"code": N, "message": "..."}}``.
Bounded (few examples per operation) so the module stays well under 2 minutes.
"""

import json
import os

import pytest

from tests.fixtures import deployment as depfix
from tests.fixtures.deployment import MEMBER_HEADERS

schemathesis = pytest.importorskip('schemathesis')
from hypothesis import HealthCheck  # noqa: E402  (comes with schemathesis)
from hypothesis import Phase  # noqa: E402
from hypothesis import settings  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SCHEMA = schemathesis.openapi.from_path(os.path.join(ROOT, 'etc', 'blockstore',
                                                     'openapi.json'))
# The coverage phase (boundary values of every schema, independent of max_examples)
# costs minutes over ~100 operations; the fuzzing phase stays bounded by MAX_EXAMPLES.
SCHEMA.config.phases.coverage.enabled = False
MAX_EXAMPLES = int(os.environ.get('BLOCKSTORE_FUZZ_EXAMPLES', '12'))


@pytest.fixture(scope='module')
def embedded(tmp_path_factory):
    dep = depfix.Deployment(tmp_path_factory.mktemp('fuzz'))
    dep.write_config()
    dep.start('all')
    try:
        dep.wait_for_api()
        yield dep
    finally:
        dep.stop_all()


def check_response(response):
    status = response.status_code
    # 501 is the deliberate answer for features with no service behind them yet
    # (backups, groups, image upload); any other 5xx is a server error.
    assert status < 500 or status == 501, (status, response.text[:500])
    if status >= 400:
        content_type = response.headers.get('content-type') or ['']
        assert content_type[0].startswith('application/json'), response.headers
        body = json.loads(response.content)
        assert isinstance(body, dict) and len(body) == 1, body
        (name, fault), = body.items()
        assert status != 501 or name == 'notImplemented', body
        assert set(fault) == {'code', 'message'}, body
        assert fault['code'] == status and isinstance(fault['message'], str), body


@SCHEMA.parametrize()
@settings(max_examples=MAX_EXAMPLES, deadline=None, derandomize=True, database=None,
          phases=[Phase.explicit, Phase.generate],
          suppress_health_check=list(HealthCheck))
def test_no_server_errors(case, embedded):
    for token in ('admin:admin', 'fuzzer:fuzz-project'):
        # A project member (X-Roles) beside the administrator ('admin' by name).
        headers = dict(MEMBER_HEADERS, **{'X-Auth-Token': token})
        response = case.call(base_url=embedded.endpoint, headers=headers, timeout=30)
        check_response(response)
