"""schemathesis hooks of scripts/fuzz.sh (loaded through SCHEMATHESIS_HOOKS by tests/fuzz/run.py).

Passwords: bcrypt reads at most 72 bytes, so the API takes passwords of 8 characters to
72 *bytes* of UTF-8 and refuses longer ones (never truncates them). JSON Schema can only count
characters: the document says `maxLength: 72` (exact for ASCII) and states the byte limit in
words. Without help, schemathesis would read "72 characters" and call 30 `é`s (60 bytes, fine)
or 37 of them (74 bytes, refused) schema-valid. This strategy generates what the words say:
any text whose UTF-8 form is at most 72 bytes; the schema's minLength and maxLength still apply
on top. Negative cases (too short, too long, wrong type) are generated as before.
"""
import schemathesis
from hypothesis import strategies as st

MAX_PASSWORD_BYTES = 72

schemathesis.openapi.format(
    "password",
    st.text(max_size=MAX_PASSWORD_BYTES).filter(lambda s: len(s.encode("utf-8")) <= MAX_PASSWORD_BYTES),
)
