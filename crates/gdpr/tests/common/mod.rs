//! Fixtures for the GDPR tests: operators and a data subject with rows in every table.
#![allow(dead_code)]

use ncy_core::auth::{login, password::hash_password, Client, LockoutPolicy, Operator};
use ncy_core::db::{now, Db};
use ncy_core::params;
use serde_json::json;
use uuid::Uuid;

/// Seeds the dev data and logs the admin in.
pub async fn admin(db: &Db) -> Operator {
    ncy_tests::seeded_admin(db).await
}

/// A SUPPORT staff operator (role granted through UserRoleMap, base role EMPLOYEE).
pub async fn support(db: &Db) -> Operator {
    let id = Uuid::new_v4();
    let mut tx = db.begin().await.unwrap();
    tx.execute(
        r#"INSERT INTO "User" ("id", "email", "password_hash", "role", "status", "created_at", "updated_at")
           VALUES ($1, 'support@ncy-8.com', $2, 'EMPLOYEE', 'ACTIVE', $3, $3)"#,
        &params![id, hash_password("support-pass-1").unwrap(), now()],
    )
    .await
    .unwrap();
    tx.execute(
        r#"INSERT INTO "UserRoleMap" ("user_id", "role_id", "granted_at") SELECT $1, "id", $2 FROM "Role" WHERE "name" = 'SUPPORT'"#,
        &params![id, now()],
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    login(
        db,
        "support@ncy-8.com",
        "support-pass-1",
        Client::Cli,
        &LockoutPolicy::default(),
    )
    .await
    .expect("support login")
    .operator
}

/// The employee operator (no GDPR permission).
pub async fn employee(db: &Db) -> Operator {
    login(
        db,
        "employee@test-org.com",
        "employee123",
        Client::Cli,
        &LockoutPolicy::default(),
    )
    .await
    .expect("employee login")
    .operator
}

/// Ids of one fixture person.
#[derive(Debug, Clone)]
pub struct Person {
    pub id: Uuid,
    pub email: String,
    pub ip: String,
}

async fn one(db: &Db, sql: &str) -> Uuid {
    db.query(sql, &[]).await.unwrap()[0].uuid("id").unwrap()
}

/// Inserts a user with rows in every table that refers to users; `peer` exchanges messages.
pub async fn person(db: &Db, email: &str, ip: &str, peer: Option<Uuid>) -> Person {
    let org = one(
        db,
        r#"SELECT "id" FROM "Organization" WHERE "slug" = 'test-org'"#,
    )
    .await;
    let team = one(
        db,
        r#"SELECT "id" FROM "Team" ORDER BY "created_at", "id" LIMIT 1"#,
    )
    .await;
    let project = one(
        db,
        r#"SELECT "id" FROM "Project" ORDER BY "created_at", "id" LIMIT 1"#,
    )
    .await;
    let admin = one(
        db,
        r#"SELECT "id" FROM "User" WHERE "email" = 'admin@ncy-8.com'"#,
    )
    .await;
    let id = Uuid::new_v4();
    let t = now();
    let local = email.split('@').next().unwrap();
    let mut tx = db.begin().await.unwrap();
    let ex = |sql: &'static str, p: Vec<ncy_core::db::Value>| (sql, p);
    let mut stmts = vec![
        ex(
            r#"INSERT INTO "User" ("id", "email", "password_hash", "role", "status", "created_at", "updated_at") VALUES ($1, $2, 'hash', 'EMPLOYEE', 'ACTIVE', $3, $3)"#,
            params![id, email, t],
        ),
        ex(
            r#"INSERT INTO "Session" ("id", "user_id", "refresh_token", "ip_address", "user_agent", "expires_at", "created_at") VALUES ($1, $2, 'secret-token', $3::inet, 'TestAgent/1.0', $4, $4)"#,
            params![Uuid::new_v4(), id, ip, t],
        ),
        ex(
            r#"INSERT INTO "ApiKey" ("id", "key_hash", "user_id", "scopes", "created_at") VALUES ($1, 'secret-key-hash', $2, $3, $4)"#,
            params![Uuid::new_v4(), id, vec!["tasks.read".to_string()], t],
        ),
        ex(
            r#"INSERT INTO "OrganizationMember" ("id", "organization_id", "user_id", "role", "joined_at") VALUES ($1, $2, $3, 'MEMBER', $4)"#,
            params![Uuid::new_v4(), org, id, t],
        ),
        ex(
            r#"INSERT INTO "TeamMember" ("team_id", "user_id", "joined_at") VALUES ($1, $2, $3)"#,
            params![team, id, t],
        ),
        ex(
            r#"INSERT INTO "Task" ("id", "project_id", "assignee_id", "title", "description", "metadata", "created_at", "updated_at") VALUES ($1, $2, $3, 'Follow up', $4, $5, $6, $6)"#,
            params![
                Uuid::new_v4(),
                project,
                id,
                format!("Call {email} about the invoice"),
                json!({"k": 1}),
                t
            ],
        ),
        ex(
            r#"INSERT INTO "AuditLog" ("id", "user_id", "action", "target_table", "target_id", "new_value", "ip_address", "user_agent", "created_at") VALUES ($1, $2, 'LOGIN', 'User', $2, $3, $4::inet, 'TestAgent/1.0', $5)"#,
            params![Uuid::new_v4(), id, json!({"email": email}), ip, t],
        ),
        ex(
            r#"INSERT INTO "AuditLog" ("id", "user_id", "action", "target_table", "target_id", "old_value", "new_value", "ip_address", "user_agent", "created_at") VALUES ($1, $2, 'USER_UPDATE', 'User', $3, $4, $5, '10.9.9.9'::inet, 'AdminAgent/2.0', $6)"#,
            params![
                Uuid::new_v4(),
                admin,
                id,
                json!({"email": email, "role": "EMPLOYEE"}),
                json!({"role": "EMPLOYEE", "note": format!("checked {local}")}),
                t
            ],
        ),
        ex(
            r#"INSERT INTO "AccessLog" ("id", "user_id", "method", "endpoint", "status_code", "latency_ms", "timestamp") VALUES ($1, $2, 'GET', '/api/tasks', 200, 12, $3)"#,
            params![Uuid::new_v4(), id, t],
        ),
        ex(
            r#"INSERT INTO "AccessLog" ("id", "user_id", "method", "endpoint", "status_code", "latency_ms", "timestamp") VALUES ($1, $2, 'POST', '/api/login', 200, 30, $3)"#,
            params![Uuid::new_v4(), id, t],
        ),
        ex(
            r#"INSERT INTO "Notification" ("id", "user_id", "type", "title", "body", "data", "created_at") VALUES ($1, $2, 'welcome', $3, 'Hello', $4, $5)"#,
            params![
                Uuid::new_v4(),
                id,
                format!("Welcome {email}"),
                json!({"to": email}),
                t
            ],
        ),
        ex(
            r#"INSERT INTO "File" ("id", "user_id", "organization_id", "name", "mime_type", "size", "storage_path", "metadata", "created_at", "updated_at") VALUES ($1, $2, $3, $4, 'application/pdf', 100, $5, $6, $7, $7)"#,
            params![
                Uuid::new_v4(),
                id,
                org,
                format!("cv-{local}.pdf"),
                format!("/files/{}", Uuid::new_v4()),
                json!({"uploaded_by": email}),
                t
            ],
        ),
        ex(
            r#"INSERT INTO "Settings" ("id", "user_id", "key", "value", "created_at", "updated_at") VALUES ($1, $2, 'theme', $3, $4, $4)"#,
            params![Uuid::new_v4(), id, json!("dark"), t],
        ),
        ex(
            r#"INSERT INTO "UserPreferences" ("id", "user_id", "preferences", "created_at", "updated_at") VALUES ($1, $2, $3, $4, $4)"#,
            params![Uuid::new_v4(), id, json!({"signature": email}), t],
        ),
        ex(
            r#"INSERT INTO "Consent" ("id", "user_id", "purpose", "granted", "granted_at", "source", "created_at") VALUES ($1, $2, 'marketing.email', true, $3, 'signup', $3)"#,
            params![Uuid::new_v4(), id, t],
        ),
        ex(
            r#"INSERT INTO "LoginAttempt" ("id", "email", "user_id", "success", "client", "created_at") VALUES ($1, $2, $3, true, 'web', $4)"#,
            params![Uuid::new_v4(), email, id, t],
        ),
        ex(
            r#"INSERT INTO "LoginAttempt" ("id", "email", "user_id", "success", "reason", "client", "created_at") VALUES ($1, $2, NULL, false, 'bad_password', 'web', $3)"#,
            params![Uuid::new_v4(), email.to_uppercase(), t],
        ),
        ex(
            r#"INSERT INTO "ErrorLog" ("id", "service", "level", "message", "context", "created_at") VALUES ($1, 'mailer', 'WARN', $2, $3, $4)"#,
            params![
                Uuid::new_v4(),
                format!("bounce for {email}"),
                json!({"ip": ip}),
                t
            ],
        ),
    ];
    if let Some(p) = peer {
        stmts.push(ex(
            r#"INSERT INTO "Message" ("id", "sender_id", "receiver_id", "subject", "body", "created_at") VALUES ($1, $2, $3, 'hi', $4, $5)"#,
            params![Uuid::new_v4(), id, p, format!("regards, {email}"), t],
        ));
        stmts.push(ex(
            r#"INSERT INTO "Message" ("id", "sender_id", "receiver_id", "subject", "body", "created_at") VALUES ($1, $2, $3, 'reply', $4, $5)"#,
            params![Uuid::new_v4(), p, id, format!("Dear {email}, thanks"), t],
        ));
    }
    for (sql, p) in stmts {
        tx.execute(sql, &p)
            .await
            .unwrap_or_else(|e| panic!("{sql}: {e}"));
    }
    tx.commit().await.unwrap();
    Person {
        id,
        email: email.into(),
        ip: ip.into(),
    }
}

/// Every row of every table as JSON text, except the GDPR bookkeeping (for "nothing changed").
pub async fn dump(db: &Db, skip: &[&str]) -> String {
    let tables: Vec<String> = match db.dialect() {
        ncy_core::db::Dialect::Postgres => db
            .query("SELECT table_name::text AS t FROM information_schema.tables WHERE table_schema = current_schema() AND table_type = 'BASE TABLE' ORDER BY 1", &[])
            .await
            .unwrap(),
        ncy_core::db::Dialect::Sqlite => db
            .query("SELECT name AS t FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY 1", &[])
            .await
            .unwrap(),
    }
    .iter()
    .map(|r| r.text("t").unwrap())
    .filter(|t| !skip.contains(&t.as_str()))
    .collect();
    let mut out = String::new();
    for t in tables {
        let sql = match db.dialect() {
            ncy_core::db::Dialect::Postgres => {
                format!("SELECT to_jsonb(x)::text AS j FROM \"{t}\" x")
            }
            ncy_core::db::Dialect::Sqlite => format!("SELECT * FROM \"{t}\""),
        };
        let mut rows: Vec<String> = db
            .query(&sql, &[])
            .await
            .unwrap()
            .iter()
            .map(|r| match db.dialect() {
                ncy_core::db::Dialect::Postgres => r.text("j").unwrap(),
                ncy_core::db::Dialect::Sqlite => r.to_json().to_string(),
            })
            .collect();
        rows.sort();
        out.push_str(&format!("{t}\n{}\n", rows.join("\n")));
    }
    out
}
