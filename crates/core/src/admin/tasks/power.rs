//! Who may see and change a task, by their role in its project's organization, as the
//! database's row policies on `Task` have it (migration 0010; see `orgs::power`): OWNER, ADMIN
//! and MANAGER see and write every task of the organization; any member sees and reviews the
//! tasks assigned to them, and may not hand them to someone else.

use std::collections::HashMap;

use uuid::Uuid;

use super::Task;
use crate::admin::orgs::power::{self, Memberships};
use crate::auth::Operator;
use crate::db::Tx;
use crate::error::{Error, Result};
use crate::params;

/// The operator's task powers for one call, with each project's organization read once.
pub(crate) struct TaskPower {
    me: Uuid,
    m: Memberships,
    orgs: HashMap<Uuid, Option<Uuid>>,
}

impl TaskPower {
    /// Reads the operator's memberships (nothing for a global role).
    pub(crate) async fn load(tx: &mut Tx, op: &Operator) -> Result<Self> {
        Ok(TaskPower {
            me: op.user_id,
            m: Memberships::load(tx, op).await?,
            orgs: HashMap::new(),
        })
    }

    async fn org_of(&mut self, tx: &mut Tx, project: Uuid) -> Result<Option<Uuid>> {
        if let Some(o) = self.orgs.get(&project) {
            return Ok(*o);
        }
        let o: Option<Uuid> = tx
            .query_opt_as(
                r#"SELECT "organization_id" FROM "Project" WHERE "id" = $1"#,
                &params![project],
            )
            .await?;
        self.orgs.insert(project, o);
        Ok(o)
    }

    /// True when the operator may see `t`.
    pub(crate) async fn can_see(&mut self, tx: &mut Tx, t: &Task) -> Result<bool> {
        if self.m.global() {
            return Ok(true);
        }
        let Some(org) = self.org_of(tx, t.project_id).await? else {
            return Ok(false);
        };
        Ok(self.m.holds(org, power::MANAGE)
            || (t.assignee_id == Some(self.me) && self.m.member(org)))
    }

    /// True when the operator may write `new` over `old` (a project `new` moves to included).
    pub(crate) async fn can_write(&mut self, tx: &mut Tx, old: &Task, new: &Task) -> Result<bool> {
        if self.m.global() {
            return Ok(true);
        }
        for p in [old.project_id, new.project_id] {
            let Some(org) = self.org_of(tx, p).await? else {
                return Ok(false);
            };
            let own = old.assignee_id == Some(self.me) && new.assignee_id == Some(self.me);
            if !(self.m.holds(org, power::MANAGE) || (own && self.m.member(org))) {
                return Ok(false);
            }
        }
        Ok(true)
    }

    /// Fails unless the operator may write `new` over `old`.
    pub(crate) async fn require_write(
        &mut self,
        tx: &mut Tx,
        old: &Task,
        new: &Task,
    ) -> Result<()> {
        if self.can_write(tx, old, new).await? {
            Ok(())
        } else {
            Err(refused())
        }
    }
}

/// The refusal of a task change for want of power in its organization.
pub(crate) fn refused() -> Error {
    power::forbidden(power::MANAGE)
}

/// Keeps a task list (`t` the task's alias) to the tasks the operator may see.
pub(crate) fn scope(op: &Operator, w: &mut crate::admin::Where) {
    if op.is_global() {
        return;
    }
    let me = w.param(op.user_id);
    let in_orgs = |roles| {
        format!(
            r#"t."project_id" IN (SELECT pp."id" FROM "Project" pp WHERE pp."organization_id" IN ({}))"#,
            power::orgs_sql(&me, roles)
        )
    };
    w.clauses.push(format!(
        r#"({} OR (t."assignee_id" = {me} AND {}))"#,
        in_orgs(power::MANAGE),
        in_orgs(power::READ)
    ));
}
