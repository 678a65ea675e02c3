"""Offline checks of the deployment: template.yaml expanded by the SAM translator, as
CloudFormation will see it, tested against the API contract and against the code.

Run by scripts/deploy-checks.sh (make deploy-checks) inside the git-ignored venv.
"""

import json
import os
import re
from pathlib import Path

import pytest
from samtranslator.translator.transform import transform
from samtranslator.yaml_helper import yaml_parse

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = Path(os.environ.get("TEMPLATE", ROOT / "template.yaml"))

# Every route of the contract (../shared/docs/api-contract.md): method, path, function, public?
ROUTES = [
    ("get", "/", "root", True),
    ("post", "/users", "create_user", True),
    ("get", "/users/{id}", "get_user", True),
    ("post", "/login", "login", True),
    ("post", "/token/refresh", "refresh_token", True),
    ("post", "/logout", "logout", True),
    ("get", "/posts", "list_posts", False),
    ("post", "/posts", "create_post", False),
    ("get", "/posts/{id}", "get_post", False),
    ("put", "/posts/{id}", "update_post", False),
    ("patch", "/posts/{id}", "patch_post", False),
    ("delete", "/posts/{id}", "delete_post", False),
    ("post", "/vote", "vote", False),
    # FastAPI's own two: the OpenAPI document and Swagger UI (with the UI's files below /docs/).
    ("get", "/openapi.json", "docs", True),
    ("get", "/docs", "docs", True),
    ("get", "/docs/{proxy+}", "docs", True),
]
FUNCTIONS = sorted({r[2] for r in ROUTES}) + ["authorizer"]
GATEWAY_RESPONSES = {
    "UNAUTHORIZED": ("401", "Not authenticated"),
    "ACCESS_DENIED": ("401", "Could not validate credentials"),
    "MISSING_AUTHENTICATION_TOKEN": ("404", "Not Found"),
    "DEFAULT_5XX": ("500", "Internal Server Error"),
}


def logical_id(binary: str) -> str:
    """create_post -> CreatePostFunction: function, crate, binary and resource share a name."""
    return "".join(p.capitalize() for p in binary.split("_")) + "Function"


class _NoManagedPolicies:
    def load(self):
        return {}


@pytest.fixture(scope="module")
def source():
    return yaml_parse(TEMPLATE.read_text())


@pytest.fixture(scope="module")
def expanded(source):
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    template = json.loads(json.dumps(source))
    # What `sam package` does before CloudFormation sees it: code goes to S3.
    template["Globals"]["Function"]["CodeUri"] = "s3://bucket/code.zip"
    return transform(template, {}, _NoManagedPolicies())


@pytest.fixture(scope="module")
def api_body(expanded):
    apis = [r for r in expanded["Resources"].values() if r["Type"] == "AWS::ApiGateway::RestApi"]
    assert len(apis) == 1, "exactly one REST API"
    return apis[0]["Properties"]["Body"]


def integration_function(operation) -> str:
    uri = operation["x-amazon-apigateway-integration"]["uri"]["Fn::Sub"]
    m = re.search(r"functions/\$\{(\w+)\.Arn\}/invocations", uri)
    assert m, uri
    return m.group(1)


@pytest.mark.parametrize("method,path,binary,public", ROUTES)
def test_each_contract_route_goes_to_the_function_of_the_same_name(api_body, method, path, binary, public):
    op = api_body["paths"].get(path, {}).get(method)
    assert op is not None, f"{method.upper()} {path} is missing from the API"
    assert op["x-amazon-apigateway-integration"]["type"] == "aws_proxy"
    assert integration_function(op) == logical_id(binary)


@pytest.mark.parametrize("method,path,binary,public", ROUTES)
def test_protected_routes_have_the_authorizer_and_public_routes_do_not(api_body, method, path, binary, public):
    security = api_body["paths"][path][method].get("security", [])
    names = {name for entry in security for name in entry}
    if public:
        assert "JwtAuthorizer" not in names, f"{method.upper()} {path} must be public"
    else:
        assert names == {"JwtAuthorizer"}, f"{method.upper()} {path} must use the JWT authorizer"


def test_the_api_has_no_route_outside_the_contract(api_body):
    declared = {(m, p) for m, p, _, _ in ROUTES}
    for path, ops in api_body["paths"].items():
        for method in ops:
            if method == "options":  # CORS preflight, answered by API Gateway itself
                continue
            assert (method, path) in declared, f"unexpected route {method.upper()} {path}"


def test_preflight_is_answered_without_authentication(api_body):
    for _, path, _, _ in ROUTES:
        options = api_body["paths"][path]["options"]
        assert options["x-amazon-apigateway-integration"]["type"] == "mock"
        assert not options.get("security") or options["security"] == [{"NONE": []}]


def test_the_authorizer_is_a_request_authorizer_on_the_authorization_header_cached_per_token(
    api_body, source
):
    # REQUEST, not TOKEN: only a REQUEST authorizer sees every value of a repeated
    # Authorization header (multiValueHeaders) and can refuse the request.
    auth = api_body["securityDefinitions"]["JwtAuthorizer"]
    ext = auth["x-amazon-apigateway-authorizer"]
    assert ext["type"] == "request"
    # No header: API Gateway answers 401 (UNAUTHORIZED) without calling the authorizer.
    assert ext["identitySource"] == "method.request.header.Authorization"
    # Cached per header value for AuthorizerCacheSeconds (5 minutes by default; API Gateway
    # allows up to an hour); the handlers check the token's exp themselves. The SAM transform
    # resolves the parameter (here to its default; at deploy time to the stack's value).
    assert ext["authorizerResultTtlInSeconds"] == 300
    param = source["Parameters"]["AuthorizerCacheSeconds"]
    assert (param["Default"], param["MinValue"], param["MaxValue"]) == (300, 0, 3600)
    arn = ext["authorizerUri"]["Fn::Sub"][1]["__FunctionArn__"]
    assert arn == {"Fn::GetAtt": ["AuthorizerFunction", "Arn"]}


@pytest.mark.parametrize("kind,expected", GATEWAY_RESPONSES.items())
def test_gateway_answers_are_json_detail_bodies(api_body, kind, expected):
    status, detail = expected
    response = api_body["x-amazon-apigateway-gateway-responses"][kind]
    assert response["statusCode"] == status
    assert json.loads(response["responseTemplates"]["application/json"]) == {"detail": detail}
    if status == "401":
        assert response["responseParameters"]["gatewayresponse.header.WWW-Authenticate"] == "'Bearer'"


def store_methods_called(binary: str, known: set) -> set:
    """Store methods a function's code calls (`store.get_user(`, `.store.create_user(`).

    Unit tests are left out: they sit at the end of `lib.rs` (from `#[cfg(test)]` on) or in
    `tests.rs`, and read the in-memory store in ways the function never does.
    """
    called = set()
    for src in (ROOT / "functions" / binary / "src").glob("*.rs"):
        if src.name == "tests.rs":
            continue
        code = src.read_text().split("#[cfg(test)]")[0]
        called |= set(re.findall(r"\.(\w+)\s*\(", code)) & known
    return called


def policy_statements(expanded, binary):
    role = expanded["Resources"][logical_id(binary) + "Role"]["Properties"]
    return [s for p in role.get("Policies", []) for s in p["PolicyDocument"]["Statement"]]


@pytest.mark.parametrize("binary", FUNCTIONS)
def test_each_function_may_call_exactly_the_dynamodb_actions_its_code_uses(expanded, binary):
    store_actions = {
        k: set(v) for k, v in json.loads((ROOT / "shared" / "store-actions.json").read_text()).items()
        if not k.startswith("_")
    }
    needed = set().union(*(store_actions[m] for m in store_methods_called(binary, set(store_actions))))
    granted = set()
    for statement in policy_statements(expanded, binary):
        assert statement["Effect"] == "Allow"
        actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        for action in actions:
            assert action.startswith("dynamodb:") and "*" not in action, f"{binary}: {action}"
        granted |= set(actions)
    assert granted == needed, f"{binary}: granted {sorted(granted)}, code uses {sorted(needed)}"


@pytest.mark.parametrize("binary", FUNCTIONS)
def test_policies_name_our_table_or_its_index_never_a_wildcard(expanded, binary):
    for statement in policy_statements(expanded, binary):
        resource = json.dumps(statement["Resource"])
        assert "AppTable" in resource and '"*"' not in resource, f"{binary}: {resource}"
        if statement["Action"] == ["dynamodb:Query"]:
            assert "/index/gsi1" in resource


@pytest.mark.parametrize("binary", FUNCTIONS)
def test_every_function_is_a_rust_binary_of_its_own(source, binary):
    fn = source["Resources"][logical_id(binary)]
    assert fn["Type"] == "AWS::Serverless::Function"
    assert fn["Metadata"] == {"BuildMethod": "rust-cargolambda", "BuildProperties": {"Binary": binary}}
    assert (ROOT / "functions" / binary / "Cargo.toml").exists()
    glob = source["Globals"]["Function"]
    assert glob["Runtime"] == "provided.al2023" and glob["Handler"] == "bootstrap"
    timeout = fn["Properties"].get("Timeout", glob["Timeout"])
    assert timeout < 29, "below API Gateway's integration timeout"


def test_the_table_survives_stack_deletion_and_has_point_in_time_recovery(source):
    table = source["Resources"]["AppTable"]
    assert table["DeletionPolicy"] == "Retain"
    assert table["UpdateReplacePolicy"] == "Retain"
    props = table["Properties"]
    assert props["BillingMode"] == "PAY_PER_REQUEST"
    assert props["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"] is True


def test_the_jwt_secret_is_generated_at_deploy_time_and_never_output(source):
    secret = source["Resources"]["JwtSecret"]
    assert secret["Type"] == "AWS::SecretsManager::Secret"
    assert secret["Properties"]["GenerateSecretString"]["PasswordLength"] >= 32
    assert "SecretString" not in secret["Properties"], "no literal secret in the template"
    outputs = json.dumps(source.get("Outputs", {}))
    assert "JwtSecret" not in outputs and "JWT_SECRET" not in outputs
    for name, param in source["Parameters"].items():
        assert "secret" not in name.lower(), f"a secret must not be a parameter ({name})"


def test_the_stage_is_throttled_and_outputs_the_url_and_table(source):
    settings = source["Resources"]["Api"]["Properties"]["MethodSettings"][0]
    assert settings["ThrottlingRateLimit"] and settings["ThrottlingBurstLimit"]
    assert {"ApiUrl", "TableName"} <= set(source["Outputs"])


def test_the_login_limits_are_parameters_with_the_codes_defaults(source):
    """Each LOGIN_* variable of the login function is a template parameter whose default is the
    production default in shared/src/config.rs (LoginLimitsConfig::default)."""
    env = source["Resources"]["LoginFunction"]["Properties"]["Environment"]["Variables"]
    expected = {
        "LOGIN_FAILURE_WINDOW_SECONDS": ("LoginFailureWindowSeconds", 900),
        "LOGIN_MAX_FAILURES_PER_ACCOUNT_SOURCE": ("LoginMaxFailuresPerAccountSource", 5),
        "LOGIN_MAX_FAILURES_PER_ACCOUNT": ("LoginMaxFailuresPerAccount", 20),
        "LOGIN_MAX_FAILURES_PER_SOURCE": ("LoginMaxFailuresPerSource", 100),
    }
    config_rs = (ROOT / "shared" / "src" / "config.rs").read_text()
    for var, (param, default) in expected.items():
        assert env[var] == {"Ref": param}, var
        assert source["Parameters"][param]["Default"] == default, param
        assert f'"{var}"' in config_rs, f"{var} is not read by shared/src/config.rs"
    defaults = re.search(r"impl Default for LoginLimitsConfig.*?Self \{(.*?)\}", config_rs, re.S)
    assert defaults, "LoginLimitsConfig::default not found"
    assert re.findall(r"(\w+): (\d+)", defaults.group(1)) == [
        ("window_secs", "900"), ("per_account_source", "5"), ("per_account", "20"),
        ("per_source", "100"),
    ]


def test_the_login_function_writes_only_partitions_it_owns(expanded):
    """Every write login may make is fenced by partition key (dynamodb:LeadingKeys), so it can
    never write a user, a credential or a post; the failed-login counters are the LOGIN#
    partitions (shared/tests/login_limits.rs checks that every item they write has such a key)."""
    writes = {"dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem"}
    counters = None
    for statement in policy_statements(expanded, "login"):
        actions = set(statement["Action"])
        if not actions & writes:
            continue
        fence = statement.get("Condition", {}).get("ForAllValues:StringLike", {})
        prefixes = fence.get("dynamodb:LeadingKeys")
        assert prefixes and all(p.endswith("#*") for p in prefixes), statement
        if prefixes == ["LOGIN#*"]:
            counters = actions
    assert counters == writes, "the failed-login counters need exactly these, on LOGIN# keys"


def test_the_waf_rate_rule_on_login_is_optional_and_off_by_default(source):
    param = source["Parameters"]["LoginRateLimitPer5Min"]
    assert param["Default"] == "0"
    allowed = re.compile(param["AllowedPattern"])
    for ok in ["0", "10", "100", "2000", "99999999"]:
        assert allowed.fullmatch(ok), ok
    for bad in ["1", "9", "05", "-1", "1.5", "", "abc"]:
        assert not allowed.fullmatch(bad), f"{bad!r}: WAF's smallest rate limit is 10"
    assert source["Conditions"]["LoginRateLimitEnabled"] == {
        "Fn::Not": [{"Fn::Equals": [{"Ref": "LoginRateLimitPer5Min"}, "0"]}]
    }
    for name in ("LoginRateLimitAcl", "LoginRateLimitAclAssociation"):
        assert source["Resources"][name]["Condition"] == "LoginRateLimitEnabled", name


def test_the_waf_rule_answers_429_to_one_address_flooding_login(source):
    acl = source["Resources"]["LoginRateLimitAcl"]
    assert acl["Type"] == "AWS::WAFv2::WebACL"
    props = acl["Properties"]
    assert props["Scope"] == "REGIONAL" and props["DefaultAction"] == {"Allow": {}}
    (rule,) = props["Rules"]
    rate = rule["Statement"]["RateBasedStatement"]
    assert rate["Limit"] == {"Ref": "LoginRateLimitPer5Min"}
    assert rate["AggregateKeyType"] == "IP", "the connection's address, never X-Forwarded-For"
    assert rate["EvaluationWindowSec"] == 300
    scope = rate["ScopeDownStatement"]["RegexMatchStatement"]
    assert scope["FieldToMatch"] == {"UriPath": {}}
    regex = re.compile(scope["RegexString"])
    for path in ["/Prod/login", "/Prod/login/", "/login", "/v1/api/login"]:
        assert regex.search(path), path
    for path in ["/Prod/users", "/Prod/posts/1", "/Prod/login/x", "/Prod/loginx"]:
        assert not regex.search(path), path
    block = rule["Action"]["Block"]["CustomResponse"]
    assert block["ResponseCode"] == 429
    body = props["CustomResponseBodies"][block["CustomResponseBodyKey"]]
    assert body["ContentType"] == "APPLICATION_JSON"
    assert json.loads(body["Content"]) == {"detail": "Too Many Requests"}
    assert {h["Name"]: h["Value"] for h in block["ResponseHeaders"]} == {"Retry-After": "300"}


def test_the_waf_acl_is_attached_to_the_stage_sam_creates(expanded):
    stages = [k for k, r in expanded["Resources"].items() if r["Type"] == "AWS::ApiGateway::Stage"]
    assert len(stages) == 1
    assoc = expanded["Resources"]["LoginRateLimitAclAssociation"]["Properties"]
    assert assoc["WebACLArn"] == {"Fn::GetAtt": ["LoginRateLimitAcl", "Arn"]}
    arn = assoc["ResourceArn"]["Fn::Sub"]
    assert arn == (
        "arn:${AWS::Partition}:apigateway:${AWS::Region}::/restapis/${Api}/stages/${%s}" % stages[0]
    )


# Functions that may touch only sessions and refresh tokens, and the partition-key prefixes
# their statements are limited to (dynamodb:LeadingKeys); refresh may also check (never read or
# write) that the session's user still exists.
SESSION_ONLY = {"refresh_token": {"SESSION#*", "REFRESH#*"}, "logout": {"SESSION#*", "REFRESH#*"}}
USER_CHECKS = {"refresh_token": {"USER#*"}}


@pytest.mark.parametrize("binary,prefixes", SESSION_ONLY.items())
def test_session_functions_reach_only_session_and_refresh_token_items(expanded, binary, prefixes):
    statements = policy_statements(expanded, binary)
    assert statements
    for statement in statements:
        keys = set(statement["Condition"]["ForAllValues:StringLike"]["dynamodb:LeadingKeys"])
        if keys == USER_CHECKS.get(binary):
            assert statement["Action"] == ["dynamodb:ConditionCheckItem"], f"{binary}: {statement}"
            continue
        assert keys == prefixes, f"{binary}: {keys}"


def test_the_signing_key_reaches_only_the_functions_that_sign_or_verify(source):
    holders = {
        name for name, r in source["Resources"].items()
        if r["Type"] == "AWS::Serverless::Function"
        and "JWT_SECRET" in r["Properties"].get("Environment", {}).get("Variables", {})
    }
    assert holders == {"LoginFunction", "RefreshTokenFunction", "AuthorizerFunction"}
    for name in holders:
        env = source["Resources"][name]["Properties"]["Environment"]["Variables"]
        assert {"JWT_ISSUER", "JWT_AUDIENCE", "ACCESS_TOKEN_EXPIRE_MINUTES"} <= set(env), name
