"""verify-core.js's building blocks against the Python ledger core on many generated inputs: the
browser must hash exactly the bytes the log hashed, and walk proofs exactly as RFC 9162 says."""

import base64
import json
from pathlib import Path

import pytest
import rfc8785
from carhistory_verifier import merkle
from django.conf import settings
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

pytestmark = pytest.mark.browser

BLANK_PAGE = "https://verify.test/"
STATIC = Path(settings.BASE_DIR) / "static"
# The verifier's scripts in the order the report page loads them.
VERIFIER_SCRIPTS = [
    STATIC / "vendor" / "noble.js",
    STATIC / "js" / "protocol.js",
    STATIC / "js" / "verify-core.js",
]
# Lone surrogates cannot be sent to the browser (or encoded as UTF-8), so none are generated.
TEXT = st.text(alphabet=st.characters(exclude_categories=("Cs",)), max_size=12)
JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**53) + 1, max_value=2**53 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | TEXT,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(TEXT, children, max_size=4),
    max_leaves=16,
)
EXAMPLES = hypothesis_settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@pytest.fixture(scope="module")
def page_errors() -> list:
    return []


@pytest.fixture(scope="module")
def verifier_page(browser, page_errors):
    context = browser.new_context()
    page = context.new_page()
    # Any uncaught exception in the page (a script that fails to load, a rejected promise) is
    # a failure of the test that caused it, never a quiet pass.
    page.on("pageerror", lambda error: page_errors.append(error))
    page.route(
        BLANK_PAGE, lambda route: route.fulfill(body="<!doctype html>", content_type="text/html")
    )
    page.goto(BLANK_PAGE)
    for script in VERIFIER_SCRIPTS:
        page.add_script_tag(path=str(script))
    yield page
    context.close()


@pytest.fixture(autouse=True)
def _no_uncaught_page_errors(page_errors):
    page_errors.clear()
    yield
    assert page_errors == []


def test_rfc8785_examples(verifier_page):
    # RFC 8785 §3.2.2 and appendix B: numbers, escapes, and sorting by UTF-16 code units.
    value = json.loads(
        '{"numbers": [333333333.33333329, 1E30, 4.50, 2e-3, 0.000000000000000000000000001, -0],'
        '"string": "\\u20ac$\\u000F\\u000aA\'\\u0042\\u0022\\u005c\\\\\\"\\/",'
        '"literals": [null, true, false],'
        '"\\u20ac": 1, "\\r": 2, "\\ufb33": 3, "1": 4, "\\ud83d\\ude00": 5,'
        '"\\u0080": 6, "\\u00f6": 7}'
    )
    expected = rfc8785.dumps(value).decode()
    assert verifier_page.evaluate("v => carhistoryVerifyCore.canonicalJson(v)", value) == expected
    assert '"numbers":[333333333.3333333,1e+30,4.5,0.002,1e-27,0]' in expected


def test_a_key_named_proto_is_kept_like_any_other(verifier_page):
    text = '{"__proto__": {"b": 1}, "a": [{"__proto__": null}]}'
    browser_bytes = verifier_page.evaluate(
        "text => carhistoryVerifyCore.canonicalJson(JSON.parse(text))", text
    )
    assert browser_bytes == rfc8785.dumps(json.loads(text)).decode()
    assert browser_bytes.startswith('{"__proto__":{"b":1}')


@EXAMPLES
@given(value=JSON_VALUES)
def test_canonical_json_matches_the_ledger(verifier_page, value):
    # Sent as JSON text and parsed there, as the bundle is: JSON.parse keeps a "__proto__" key as
    # an ordinary property, which a structured copy of an object would not.
    browser_bytes = verifier_page.evaluate(
        "text => carhistoryVerifyCore.canonicalJson(JSON.parse(text))", json.dumps(value)
    )
    assert browser_bytes == rfc8785.dumps(value).decode()


@EXAMPLES
@given(data=st.data(), tree_size=st.integers(min_value=1, max_value=70))
def test_inclusion_proofs_from_the_ledger_verify_in_the_browser(verifier_page, data, tree_size):
    index = data.draw(st.integers(min_value=0, max_value=tree_size - 1))
    leaves = [merkle.leaf_hash(str(i).encode()) for i in range(tree_size)]
    proof = merkle.inclusion_proof(index, leaves)
    root = verifier_page.evaluate(
        """([index, size, leaf, proof]) => {
          const bytes = (text) => Uint8Array.from(atob(text), (c) => c.charCodeAt(0));
          const root = carhistoryVerifyCore.rootFromInclusionProof(
            index, size, bytes(leaf), proof.map(bytes));
          return btoa(String.fromCharCode(...root));
        }""",
        [index, tree_size, _b64(leaves[index]), [_b64(h) for h in proof]],
    )
    assert root == _b64(merkle.root_from_leaf_hashes(leaves))


def test_a_proof_for_the_wrong_index_does_not_verify(verifier_page):
    leaves = [merkle.leaf_hash(str(i).encode()) for i in range(11)]
    proof = merkle.inclusion_proof(4, leaves)
    outcome = verifier_page.evaluate(
        """([leaf, proof]) => {
          const bytes = (text) => Uint8Array.from(atob(text), (c) => c.charCodeAt(0));
          try {
            const root = carhistoryVerifyCore.rootFromInclusionProof(
              5, 11, bytes(leaf), proof.map(bytes));
            return {root: btoa(String.fromCharCode(...root))};
          } catch (error) {
            // Only the verifier's own refusal counts; a TypeError or a missing function is
            // rethrown, so it fails this test instead of passing for a refusal.
            if (error.code === "inclusion_proof") return {refused: error.code};
            throw error;
          }
        }""",
        [_b64(leaves[4]), [_b64(h) for h in proof]],
    )
    assert outcome.get("refused") == "inclusion_proof" or (
        outcome["root"] != _b64(merkle.root_from_leaf_hashes(leaves))
    )


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()
