"""schemathesis hooks of scripts/fuzz.sh (loaded through SCHEMATHESIS_HOOKS by tests/fuzz/run.py).

Passwords: bcrypt reads at most 72 bytes, so the API takes passwords of 8 characters to
72 *bytes* of UTF-8 and refuses longer ones (never truncates them). JSON Schema can only count
characters: the document says `maxLength: 72` (exact for ASCII) and states the byte limit in
words. Without help, schemathesis would read "72 characters" and call 30 `é`s (60 bytes, fine)
or 37 of them (74 bytes, refused) schema-valid. This strategy generates what the words say:
any text whose UTF-8 form is at most 72 bytes; the schema's minLength and maxLength still apply
on top. Negative cases (too short, too long, wrong type) are generated as before.
"""
import hashlib
import re

import schemathesis
from hypothesis import strategies as st

MAX_PASSWORD_BYTES = 72

schemathesis.openapi.format(
    "password",
    st.text(max_size=MAX_PASSWORD_BYTES).filter(lambda s: len(s.encode("utf-8")) <= MAX_PASSWORD_BYTES),
)


CURSOR = re.compile(r"^[0-9a-f]{32}$")
MAX_ID = 2**53 - 1


@schemathesis.hook
def before_call(ctx, case, kwargs):
    """GET /posts: a `cursor` is bound to the search it was made for (docs/api.md), which no
    pattern can say. A cursor that fits the documented pattern (schema-valid, so a positive
    case) is made into a real one for the query's `search`, keeping its id part; one that does
    not fit is left alone for the negative cases (422). `before_call` rather than `map_query`:
    it runs in every phase, the coverage phase's boundary values included."""
    query = case.query
    if case.operation.path != "/posts" or not query or "cursor" not in query:
        return
    cursor = query["cursor"]
    if isinstance(cursor, str) and CURSOR.match(cursor):
        post_id = int(cursor[:16], 16) % MAX_ID + 1
        search = query.get("search") or ""
        tag = hashlib.sha256(b"posts-cursor-v1\0" + str(search).encode()).hexdigest()[:16]
        query["cursor"] = f"{post_id:016x}{tag}"
