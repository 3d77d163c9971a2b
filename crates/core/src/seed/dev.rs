//! The development seed: data from `seeds/dev.json` (embedded at build time), written
//! idempotently, refusing a database that holds other users unless forced.

use chrono::Duration;
use uuid::Uuid;

use super::{foreign_users, id_by, SeedReport};
use crate::audit::{record_as, Entry};
use crate::auth::password::hash_password;
use crate::db::{now, Db};
use crate::error::{Error, Result};
use crate::model::{OrgRole, TaskPriority, TaskStatus, UserRole};
use crate::params;

/// The development seed's data (`seeds/dev.json`, embedded at build time).
pub const DEV_SEED_JSON: &str = include_str!("../../../../seeds/dev.json");

/// One account of the development seed.
#[derive(Debug, Clone, serde::Deserialize)]
pub struct DevUser {
    pub email: String,
    pub password: String,
    pub role: UserRole,
}

/// A membership of the seed's organization.
#[derive(Debug, Clone, serde::Deserialize)]
pub struct DevMember {
    pub user: String,
    pub role: OrgRole,
}

/// The seed's organization.
#[derive(Debug, Clone, serde::Deserialize)]
pub struct DevOrganization {
    pub name: String,
    pub slug: String,
    pub owner: String,
    pub members: Vec<DevMember>,
}

/// The seed's team.
#[derive(Debug, Clone, serde::Deserialize)]
pub struct DevTeam {
    pub name: String,
    pub description: String,
    pub members: Vec<String>,
}

/// A task of a seed project; its due date is `due_in_days` from the seeding time.
#[derive(Debug, Clone, serde::Deserialize)]
pub struct DevTask {
    pub title: String,
    pub status: TaskStatus,
    pub priority: TaskPriority,
    pub due_in_days: i64,
    pub assignee: String,
}

/// A seed project.
#[derive(Debug, Clone, serde::Deserialize)]
pub struct DevProject {
    pub name: String,
    pub description: String,
    pub tasks: Vec<DevTask>,
}

/// The development seed: accounts, one organization with a team, projects and tasks.
#[derive(Debug, Clone, serde::Deserialize)]
pub struct DevSeed {
    pub users: Vec<DevUser>,
    pub organization: DevOrganization,
    pub team: DevTeam,
    pub projects: Vec<DevProject>,
}

impl DevSeed {
    /// Parses seed data, checking that every account it names is one of its users.
    pub fn parse(json: &str) -> Result<DevSeed> {
        let seed: DevSeed = serde_json::from_str(json)
            .map_err(|e| Error::invalid("seed", format!("seeds/dev.json is not valid: {e}")))?;
        let known = |e: &str| seed.users.iter().any(|u| u.email == e);
        let named = std::iter::once(seed.organization.owner.as_str())
            .chain(seed.organization.members.iter().map(|m| m.user.as_str()))
            .chain(seed.team.members.iter().map(String::as_str))
            .chain(
                seed.projects
                    .iter()
                    .flat_map(|p| p.tasks.iter().map(|t| t.assignee.as_str())),
            );
        for e in named {
            if !known(e) {
                return Err(Error::invalid(
                    "seed",
                    format!("seeds/dev.json names {e}, which is not one of its users"),
                ));
            }
        }
        Ok(seed)
    }

    /// The embedded development seed.
    pub fn embedded() -> Result<DevSeed> {
        DevSeed::parse(DEV_SEED_JSON)
    }

    /// The seed's account emails.
    pub fn emails(&self) -> Vec<&str> {
        self.users.iter().map(|u| u.email.as_str()).collect()
    }
}

/// The development seed: the platform seed's admin, organization, manager and employee with
/// their memberships and passwords, plus a team, projects and tasks. Idempotent. Refuses a
/// database that holds other users unless `force` (dev passwords must never reach production).
pub async fn dev(db: &Db, force: bool) -> Result<SeedReport> {
    let seed = DevSeed::embedded()?;
    let mut tx = db.begin().await?;
    let foreign = foreign_users(&mut tx, &seed.emails(), None).await?;
    if foreign > 0 && !force {
        return Err(Error::conflict(
            "seed",
            format!(
                "refusing to seed: the database already holds {foreign} user(s) that are not the development seed's. \
                 The dev seed sets well-known passwords (admin123, ...) that must never reach production; \
                 force it only on a development database"
            ),
        ));
    }
    let mut rep = SeedReport::default();
    let t0 = now();
    let mut ids = std::collections::HashMap::new();
    for u in &seed.users {
        let existing = id_by(
            &mut tx,
            r#"SELECT "id" FROM "User" WHERE "email" = $1"#,
            &params![u.email.as_str()],
        )
        .await?;
        let id = match existing {
            Some(id) => id,
            None => {
                let id = Uuid::new_v4();
                tx.execute(
                    r#"INSERT INTO "User" ("id", "email", "password_hash", "role", "status", "created_at", "updated_at")
                       VALUES ($1, $2, $3, $4::"UserRole", 'ACTIVE', $5, $5)"#,
                    &params![id, u.email.as_str(), hash_password(&u.password)?, u.role, t0],
                )
                .await?;
                rep.users += 1;
                id
            }
        };
        ids.insert(u.email.as_str(), id);
    }
    // Every email below was checked against the users by DevSeed::parse.
    let id_of = |e: &str| {
        ids.get(e)
            .copied()
            .ok_or_else(|| Error::invalid("seed", format!("{e} is not a seed user")))
    };
    let o = &seed.organization;
    let org = match id_by(
        &mut tx,
        r#"SELECT "id" FROM "Organization" WHERE "slug" = $1"#,
        &params![o.slug.as_str()],
    )
    .await?
    {
        Some(id) => id,
        None => {
            let id = Uuid::new_v4();
            tx.execute(
                r#"INSERT INTO "Organization" ("id", "name", "slug", "owner_id", "settings", "created_at", "updated_at")
                   VALUES ($1, $2, $3, $4, $5, $6, $6)"#,
                &params![id, o.name.as_str(), o.slug.as_str(), id_of(&o.owner)?, serde_json::json!({}), t0],
            )
            .await?;
            rep.organizations += 1;
            id
        }
    };
    for m in &o.members {
        let n = tx
            .execute(
                r#"INSERT INTO "OrganizationMember" ("id", "organization_id", "user_id", "role", "joined_at")
                   VALUES ($1, $2, $3, $4::"OrgRole", $5) ON CONFLICT ("organization_id", "user_id") DO NOTHING"#,
                &params![Uuid::new_v4(), org, id_of(&m.user)?, m.role, t0],
            )
            .await?;
        rep.members += n;
    }
    let tm = &seed.team;
    let team = match id_by(
        &mut tx,
        r#"SELECT "id" FROM "Team" WHERE "organization_id" = $1 AND "name" = $2"#,
        &params![org, tm.name.as_str()],
    )
    .await?
    {
        Some(id) => id,
        None => {
            let id = Uuid::new_v4();
            tx.execute(
                r#"INSERT INTO "Team" ("id", "organization_id", "name", "description", "created_at", "updated_at")
                   VALUES ($1, $2, $3, $4, $5, $5)"#,
                &params![id, org, tm.name.as_str(), tm.description.as_str(), t0],
            )
            .await?;
            rep.teams += 1;
            id
        }
    };
    for user in &tm.members {
        rep.members += tx
            .execute(
                r#"INSERT INTO "TeamMember" ("team_id", "user_id", "joined_at") VALUES ($1, $2, $3) ON CONFLICT DO NOTHING"#,
                &params![team, id_of(user)?, t0],
            )
            .await?;
    }
    for p in &seed.projects {
        let pid = match id_by(
            &mut tx,
            r#"SELECT "id" FROM "Project" WHERE "organization_id" = $1 AND "name" = $2"#,
            &params![org, p.name.as_str()],
        )
        .await?
        {
            Some(id) => id,
            None => {
                let id = Uuid::new_v4();
                tx.execute(
                    r#"INSERT INTO "Project" ("id", "organization_id", "name", "description", "status", "settings", "created_at", "updated_at")
                       VALUES ($1, $2, $3, $4, 'ACTIVE', $5, $6, $6)"#,
                    &params![id, org, p.name.as_str(), p.description.as_str(), serde_json::json!({}), t0],
                )
                .await?;
                rep.projects += 1;
                id
            }
        };
        for t in &p.tasks {
            if id_by(
                &mut tx,
                r#"SELECT "id" FROM "Task" WHERE "project_id" = $1 AND "title" = $2"#,
                &params![pid, t.title.as_str()],
            )
            .await?
            .is_some()
            {
                continue;
            }
            tx.execute(
                r#"INSERT INTO "Task" ("id", "project_id", "assignee_id", "title", "status", "priority", "due_date", "metadata", "created_at", "updated_at")
                   VALUES ($1, $2, $3, $4, $5::"TaskStatus", $6::"TaskPriority", $7, $8, $9, $9)"#,
                &params![Uuid::new_v4(), pid, id_of(&t.assignee)?, t.title.as_str(), t.status, t.priority, t0 + Duration::days(t.due_in_days), serde_json::json!({}), t0],
            )
            .await?;
            rep.tasks += 1;
        }
    }
    if rep.total() > 0 {
        record_as(
            &mut tx,
            None,
            &crate::auth::operator::user_agent(crate::auth::Client::Cli),
            Entry {
                action: "SEED_DEV",
                table: "User",
                target_id: None,
                old: None,
                new: Some(serde_json::to_value(&rep).unwrap_or_default()),
            },
        )
        .await?;
        rep.audit += 1;
    }
    tx.commit().await?;
    Ok(rep)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_embedded_seed_parses_and_names_only_its_users() {
        let s = DevSeed::embedded().expect("seeds/dev.json");
        assert_eq!(s.emails()[0], "admin@ncy-8.com");
        assert!(s.projects.iter().all(|p| !p.tasks.is_empty()));
        let bad = DEV_SEED_JSON.replace(
            r#""owner": "admin@ncy-8.com""#,
            r#""owner": "nobody@example.com""#,
        );
        let e = DevSeed::parse(&bad).unwrap_err().to_string();
        assert!(e.contains("nobody@example.com"), "{e}");
        let bad = DEV_SEED_JSON.replacen(r#""status": "DONE""#, r#""status": "FINISHED""#, 1);
        let e = DevSeed::parse(&bad).unwrap_err().to_string();
        assert!(e.contains("seeds/dev.json is not valid"), "{e}");
    }
}
