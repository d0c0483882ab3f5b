"""Drives the Python client that openapi-python-client generated from schemas/openapi.json
against a running `tenantctl serve`, asserting what it reads back. Run by
scripts/check-openapi, which generates the client (package `tenantctl_client` on
PYTHONPATH) and starts the server. Usage: openapi_client_check.py URL BOOTSTRAP_TOKEN DOC
"""

import json
import sys

from tenantctl_client import AuthenticatedClient, Client
from tenantctl_client.api.meta import health, whoami
from tenantctl_client.api.plan import get_plan, put_plan
from tenantctl_client.api.state import get_state
from tenantctl_client.api.tenant import delete_tenant, get_tenant, list_tenants, put_tenant
from tenantctl_client.api.tokens import create_token, list_tokens, revoke_token
from tenantctl_client.api.workspace import get_workspace, list_workspaces, put_workspace
from tenantctl_client.models import (
    ErrorBody,
    PlanPutBody,
    PlanResource,
    PlanSpec,
    TenantPage,
    TenantPutBody,
    TenantResource,
    TenantSpec,
    TokenList,
    TokenRequest,
    TokenResponse,
    WhoAmI,
    WorkspacePutBody,
    WorkspaceResource,
    WorkspaceSpec,
)
from tenantctl_client.models.limits import Limits


def check(cond, what):
    if not cond:
        raise SystemExit(f"openapi client check failed: {what}")


def answer(detailed, status, kind, what):
    """The parsed body of `detailed`, which must have `status` and parse as `kind`."""
    check(
        detailed.status_code == status,
        f"{what}: status {detailed.status_code}, want {status}: {detailed.content[:300]!r}",
    )
    check(isinstance(detailed.parsed, kind), f"{what}: parsed as {type(detailed.parsed)}, want {kind}")
    return detailed.parsed


def main(url, bootstrap, doc_path):
    with open(doc_path) as f:
        doc = json.load(f)
    operations = sum(len(item) for item in doc["paths"].values())
    calls = 0

    public = Client(base_url=url)
    r = health.sync_detailed(client=public)
    check(r.status_code == 200, f"health: {r.status_code}")
    calls += 1

    system = AuthenticatedClient(base_url=url, token=bootstrap)
    me = answer(whoami.sync_detailed(client=system), 200, WhoAmI, "whoami (bootstrap)")
    check(me.scope == "system", f"bootstrap scope {me.scope}")
    calls += 1

    # A new system token, then everything else made with it.
    minted = answer(
        create_token.sync_detailed(
            client=system, body=TokenRequest(scope="system", description="openapi client check")
        ),
        201,
        TokenResponse,
        "createToken",
    )
    calls += 1
    client = AuthenticatedClient(base_url=url, token=minted.token)
    me = answer(whoami.sync_detailed(client=client), 200, WhoAmI, "whoami (minted)")
    check(me.token_id == minted.id, f"whoami token_id {me.token_id} != minted {minted.id}")
    check(me.scope == "system", f"minted scope {me.scope}")
    calls += 1

    plan = answer(
        put_plan.sync_detailed(
            "starter",
            client=client,
            body=PlanPutBody(spec=PlanSpec(display_name="Starter", limits=Limits(workspaces=5))),
        ),
        201,
        PlanResource,
        "putPlan",
    )
    check(plan.key == "starter" and plan.version >= 1, f"plan {plan.key} v{plan.version}")
    check(plan.spec.limits.workspaces == 5, f"plan limits {plan.spec.limits}")
    calls += 1
    tenant = answer(
        put_tenant.sync_detailed(
            "acme",
            client=client,
            body=TenantPutBody(spec=TenantSpec(plan="starter", display_name="Acme Corp"), protected=False),
        ),
        201,
        TenantResource,
        "putTenant",
    )
    calls += 1
    ws = answer(
        put_workspace.sync_detailed(
            "acme",
            "paris",
            client=client,
            body=WorkspacePutBody(spec=WorkspaceSpec(display_name="Paris", description="Head office")),
        ),
        201,
        WorkspaceResource,
        "putWorkspace",
    )
    calls += 1
    check(ws.key == "acme/paris", f"workspace key {ws.key}")

    # Read back, one by one and by page.
    got = answer(get_plan.sync_detailed("starter", client=client), 200, PlanResource, "getPlan")
    check(got.spec.display_name == "Starter", f"plan display_name {got.spec.display_name}")
    got = answer(get_tenant.sync_detailed("acme", client=client), 200, TenantResource, "getTenant")
    check(got.kind == "tenant" and got.key == "acme", f"tenant {got.kind}/{got.key}")
    check(got.spec.plan == "starter" and got.spec.display_name == "Acme Corp", f"tenant spec {got.spec}")
    check(got.version == tenant.version and got.managed == tenant.managed, f"tenant v{got.version} managed={got.managed}")
    got = answer(get_workspace.sync_detailed("acme", "paris", client=client), 200, WorkspaceResource, "getWorkspace")
    check(got.spec.description == "Head office", f"workspace spec {got.spec}")
    page = answer(list_tenants.sync_detailed(client=client, limit=10), 200, TenantPage, "listTenants")
    check([t.key for t in page.items] == ["acme"] and page.next_cursor is None, f"tenants page {page}")
    check(page.items[0].spec.plan == "starter", "listed tenant's plan")
    wpage = list_workspaces.sync_detailed(client=client)
    check(wpage.status_code == 200 and [w.key for w in wpage.parsed.items] == ["acme/paris"], "workspaces page")
    state = get_state.sync_detailed(client=client)
    check(state.status_code == 200, f"getState: {state.status_code}")
    check(state.parsed.tenants["acme"].spec.plan == "starter", "state's tenant plan")
    check(state.parsed.revision >= 3, f"state revision {state.parsed.revision}")
    calls += 7

    # An update with the version read, then one with a stale version: 412 as ErrorBody.
    updated = answer(
        put_tenant.sync_detailed(
            "acme",
            client=client,
            body=TenantPutBody(spec=TenantSpec(plan="starter", display_name="Acme")),
            if_match=f'"{tenant.version}"',
        ),
        200,
        TenantResource,
        "putTenant with If-Match",
    )
    check(updated.version > tenant.version and updated.spec.display_name == "Acme", "updated tenant")
    stale = answer(
        put_tenant.sync_detailed(
            "acme",
            client=client,
            body=TenantPutBody(spec=TenantSpec(plan="starter")),
            if_match=f'"{tenant.version}"',
        ),
        412,
        ErrorBody,
        "putTenant with a stale If-Match",
    )
    check(stale.code == "stale_version", f"stale code {stale.code}")
    missing = answer(get_tenant.sync_detailed("nope", client=client), 404, ErrorBody, "getTenant (missing)")
    check(missing.code == "not_found", f"missing code {missing.code}")
    bad = answer(
        put_tenant.sync_detailed("globex", client=client, body=TenantPutBody(spec=TenantSpec(plan="gold"))),
        422,
        ErrorBody,
        "putTenant with an unknown plan",
    )
    check(bad.code == "rule_violation", f"unknown plan code {bad.code}")
    anonymous = AuthenticatedClient(base_url=url, token="tnt_not_a_token")
    denied = answer(whoami.sync_detailed(client=anonymous), 401, ErrorBody, "whoami (unknown token)")
    check(bool(denied.message), "401 message")
    calls += 5

    # The minted token is listed, then revoked: it stops working.
    tokens = answer(list_tokens.sync_detailed(client=system), 200, TokenList, "listTokens")
    listed = [t for t in tokens.tokens if t.id == minted.id]
    check(len(listed) == 1, f"minted token {minted.id} listed once in {[t.id for t in tokens.tokens]}")
    check(listed[0].description == "openapi client check", f"listed description {listed[0].description}")
    check(str(listed[0].status) == "active", f"listed status {listed[0].status}")
    check(minted.token not in json.dumps(tokens.to_dict()), "a secret in the token list")
    calls += 1

    r = delete_tenant.sync_detailed("acme", client=client)
    check(r.status_code == 204, f"deleteTenant: {r.status_code}")
    r = get_workspace.sync_detailed("acme", "paris", client=client)
    check(r.status_code == 404, f"workspace after its tenant's delete: {r.status_code}")
    calls += 2

    r = revoke_token.sync_detailed(minted.id, client=system)
    check(r.status_code == 204, f"revokeToken: {r.status_code}")
    revoked = answer(whoami.sync_detailed(client=client), 401, ErrorBody, "whoami (revoked token)")
    check(bool(revoked.code), "revoked token's error code")
    calls += 2

    print(
        f"openapi client check: {calls} calls through the generated client passed "
        f"({operations} operations, {len(doc['components']['schemas'])} schemas in the document)"
    )


if __name__ == "__main__":
    main(*sys.argv[1:4])
