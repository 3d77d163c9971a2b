//! Power in an organization, checked by the app on every connection as the database's row
//! policies (migration 0010) check it on an operator's own login. The shared app login and the
//! local workspace have no row policies, so without these checks an operator there would see
//! and change every organization. On an operator's own login both hold; the database decides.
//!
//! | what | who, unless the operator's role is global (ADMIN or SYSTEM) |
//! |---|---|
//! | see an organization, its members, teams and projects | a member (any role) or its owner |
//! | edit the organization, its members | OWNER or ADMIN ([`EDIT`]) |
//! | transfer, delete or restore it | OWNER ([`OWN`]) |
//! | teams, projects, tasks: write; tasks: read all | OWNER, ADMIN or MANAGER ([`MANAGE`]) |
//! | a task assigned to them: read, review | a member (any role) |

use uuid::Uuid;

use crate::admin::Where;
use crate::auth::Operator;
use crate::db::Tx;
use crate::error::{Error, Result};
use crate::model::OrgRole;
use crate::params;

/// Any member: reads.
pub(crate) const READ: &[OrgRole] = &[
    OrgRole::OWNER,
    OrgRole::ADMIN,
    OrgRole::MANAGER,
    OrgRole::MEMBER,
];
/// Teams, projects and tasks.
pub(crate) const MANAGE: &[OrgRole] = &[OrgRole::OWNER, OrgRole::ADMIN, OrgRole::MANAGER];
/// The organization's row and members.
pub(crate) const EDIT: &[OrgRole] = &[OrgRole::OWNER, OrgRole::ADMIN];
/// Ownership and existence.
pub(crate) const OWN: &[OrgRole] = &[OrgRole::OWNER];

/// The operator's role in `org` (`None`: not a member).
pub(crate) async fn role_in(tx: &mut Tx, op: &Operator, org: Uuid) -> Result<Option<OrgRole>> {
    tx.query_opt_as(
        r#"SELECT "role"::text AS role FROM "OrganizationMember" WHERE "organization_id" = $1 AND "user_id" = $2 AND "deleted_at" IS NULL"#,
        &params![org, op.user_id],
    )
    .await
}

/// Fails with `hidden()` unless the operator sees `org` (a member, or a global role), then with
/// the refusal naming `roles` unless they hold one of them: one lookup of their role.
pub(crate) async fn check(
    tx: &mut Tx,
    op: &Operator,
    org: Uuid,
    roles: &[OrgRole],
    hidden: impl FnOnce() -> Error,
) -> Result<()> {
    if op.is_global() {
        return Ok(());
    }
    match role_in(tx, op, org).await? {
        None => Err(hidden()),
        Some(r) if roles.contains(&r) => Ok(()),
        Some(_) => Err(forbidden(roles)),
    }
}

/// Fails with [`Error::Forbidden`] naming the organization roles unless the operator holds one.
pub(crate) async fn require(
    tx: &mut Tx,
    op: &Operator,
    org: Uuid,
    roles: &[OrgRole],
) -> Result<()> {
    if op.is_global()
        || role_in(tx, op, org)
            .await?
            .is_some_and(|r| roles.contains(&r))
    {
        Ok(())
    } else {
        Err(forbidden(roles))
    }
}

/// The refusal naming `roles` ("the OWNER or ADMIN role in this organization").
pub(crate) fn forbidden(roles: &[OrgRole]) -> Error {
    let names: Vec<&str> = roles.iter().map(|r| r.as_str()).collect();
    let list = match names.split_last() {
        Some((last, rest)) if !rest.is_empty() => format!("{} or {last}", rest.join(", ")),
        Some((last, _)) => (*last).to_owned(),
        None => String::new(),
    };
    Error::Forbidden {
        permission: format!("the {list} role in this organization"),
    }
}

/// Refuses a write that touched no row: on an operator's own login Row-Level Security filters
/// an UPDATE it does not allow down to nothing, which is a refusal, not a change.
pub(crate) fn touched(rows: u64, roles: &[OrgRole]) -> Result<()> {
    if rows == 0 {
        Err(forbidden(roles))
    } else {
        Ok(())
    }
}

/// SQL for the ids of the organizations where the user bound to placeholder `me` holds one of
/// `roles` (a sub-select for `… IN (…)`).
pub(crate) fn orgs_sql(me: &str, roles: &[OrgRole]) -> String {
    let list: Vec<String> = roles.iter().map(|r| format!("'{}'", r.as_str())).collect();
    format!(
        r#"SELECT pm."organization_id" FROM "OrganizationMember" pm WHERE pm."user_id" = {me} AND pm."deleted_at" IS NULL AND pm."role" IN ({})"#,
        list.join(", ")
    )
}

/// Keeps a list of organizations (alias `o`) to those the operator may see: a member's or
/// their own; nothing for a global role.
pub(crate) fn scope_orgs(op: &Operator, w: &mut Where) {
    if !op.is_global() {
        let me = w.param(op.user_id);
        w.clauses.push(format!(
            r#"(o."owner_id" = {me} OR o."id" IN ({}))"#,
            orgs_sql(&me, READ)
        ));
    }
}

/// Keeps a list to rows whose organization (column `col`) the operator holds one of `roles` in;
/// nothing for a global role.
pub(crate) fn scope(op: &Operator, w: &mut Where, col: &str, roles: &[OrgRole]) {
    if !op.is_global() {
        w.push(
            |me| format!("{col} IN ({})", orgs_sql(me, roles)),
            op.user_id,
        );
    }
}

/// The operator's roles in every organization they belong to, read once for a call that checks
/// many rows (a global role reads nothing and holds every role everywhere).
pub(crate) struct Memberships {
    global: bool,
    roles: std::collections::HashMap<Uuid, OrgRole>,
}

impl Memberships {
    /// Reads the operator's live memberships.
    pub(crate) async fn load(tx: &mut Tx, op: &Operator) -> Result<Self> {
        let global = op.is_global();
        let roles = if global {
            Default::default()
        } else {
            let rows: Vec<(Uuid, OrgRole)> = tx
                .query_as(
                    r#"SELECT "organization_id", "role"::text AS role FROM "OrganizationMember" WHERE "user_id" = $1 AND "deleted_at" IS NULL"#,
                    &params![op.user_id],
                )
                .await?;
            rows.into_iter().collect()
        };
        Ok(Memberships { global, roles })
    }

    /// True for a global role.
    pub(crate) fn global(&self) -> bool {
        self.global
    }

    /// True when the operator is a member of `org` (any role).
    pub(crate) fn member(&self, org: Uuid) -> bool {
        self.global || self.roles.contains_key(&org)
    }

    /// True when the operator holds one of `roles` in `org`.
    pub(crate) fn holds(&self, org: Uuid, roles: &[OrgRole]) -> bool {
        self.global || self.roles.get(&org).is_some_and(|r| roles.contains(r))
    }
}
