//! The synced tables: which columns the cache keeps, how the server renders them as text (so the
//! initial COPY stream and the incremental refetch produce identical cache rows), and which rows
//! belong to a slice (the chosen organizations plus the operator).

use uuid::Uuid;

/// How a column is rendered on the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Plain text.
    Text,
    /// UUID, rendered as text.
    Uuid,
    /// TIMESTAMP(3), rendered in the stores' `YYYY-MM-DD HH:MM:SS.mmm` form.
    Ts,
    /// Enum or JSONB, rendered with `::text`.
    Cast,
    /// A fixed SQL expression instead of the column (PII-minimal user view).
    Expr(&'static str),
}

/// One cached column.
#[derive(Debug, Clone, Copy)]
pub struct Col {
    pub name: &'static str,
    pub kind: Kind,
}

const fn c(name: &'static str, kind: Kind) -> Col {
    Col { name, kind }
}

/// A synced table.
#[derive(Debug, Clone, Copy)]
pub struct Table {
    pub name: &'static str,
    pub cols: &'static [Col],
    /// Key columns (`id`, or `team_id, user_id` for TeamMember).
    pub key: &'static [&'static str],
}

use Kind::*;

/// Users: id, email, role, status and dates only. The cache's `password_hash` holds the
/// constant `!cache`, which no password verifies against; `updated_at` mirrors `created_at`
/// (logins touch the server's `updated_at`, which is no business of the cache).
pub const USER: Table = Table {
    name: "User",
    cols: &[
        c("id", Uuid),
        c("email", Text),
        c("password_hash", Expr("'!cache'")),
        c("role", Cast),
        c("status", Cast),
        c("created_at", Ts),
        c(
            "updated_at",
            Expr(r#"to_char(t."created_at", 'YYYY-MM-DD HH24:MI:SS.MS')"#),
        ),
        c("deleted_at", Ts),
    ],
    key: &["id"],
};

pub const ORGANIZATION: Table = Table {
    name: "Organization",
    cols: &[
        c("id", Uuid),
        c("name", Text),
        c("slug", Text),
        c("owner_id", Uuid),
        c("settings", Cast),
        c("created_at", Ts),
        c("updated_at", Ts),
        c("deleted_at", Ts),
    ],
    key: &["id"],
};

pub const ORGANIZATION_MEMBER: Table = Table {
    name: "OrganizationMember",
    cols: &[
        c("id", Uuid),
        c("organization_id", Uuid),
        c("user_id", Uuid),
        c("role", Cast),
        c("joined_at", Ts),
        c("deleted_at", Ts),
    ],
    key: &["id"],
};

pub const TEAM: Table = Table {
    name: "Team",
    cols: &[
        c("id", Uuid),
        c("organization_id", Uuid),
        c("name", Text),
        c("description", Text),
        c("created_at", Ts),
        c("updated_at", Ts),
        c("deleted_at", Ts),
    ],
    key: &["id"],
};

pub const TEAM_MEMBER: Table = Table {
    name: "TeamMember",
    cols: &[
        c("team_id", Uuid),
        c("user_id", Uuid),
        c("joined_at", Ts),
        c("deleted_at", Ts),
    ],
    key: &["team_id", "user_id"],
};

pub const PROJECT: Table = Table {
    name: "Project",
    cols: &[
        c("id", Uuid),
        c("organization_id", Uuid),
        c("name", Text),
        c("description", Text),
        c("status", Cast),
        c("settings", Cast),
        c("created_at", Ts),
        c("updated_at", Ts),
        c("deleted_at", Ts),
    ],
    key: &["id"],
};

pub const TASK: Table = Table {
    name: "Task",
    cols: &[
        c("id", Uuid),
        c("project_id", Uuid),
        c("assignee_id", Uuid),
        c("title", Text),
        c("description", Text),
        c("status", Cast),
        c("priority", Cast),
        c("due_date", Ts),
        c("metadata", Cast),
        c("created_at", Ts),
        c("updated_at", Ts),
        c("deleted_at", Ts),
    ],
    key: &["id"],
};

/// Every synced table, parents before children (the order of the initial stream).
pub const ALL: &[Table] = &[
    USER,
    ORGANIZATION,
    ORGANIZATION_MEMBER,
    TEAM,
    TEAM_MEMBER,
    PROJECT,
    TASK,
];

/// The cache rowid of a row keyed by the uuid `id`: its first 63 bits. A cache row stored under
/// it is found by one descent of the table's B-tree, without the key index's leaf (one page
/// fewer to read, decrypt and authenticate per row a pull reads), and rows still lie in key
/// order, as the initial sync sends them. `None` for a key that is not a uuid.
pub fn key_rowid(id: &str) -> Option<i64> {
    let u = Uuid::parse_str(id).ok()?;
    let mut first = [0u8; 8];
    first.copy_from_slice(&u.as_bytes()[..8]);
    i64::try_from(u64::from_be_bytes(first) >> 1).ok()
}

/// Looks a table up by name.
pub fn by_name(name: &str) -> Option<Table> {
    ALL.iter().copied().find(|t| t.name == name)
}

/// What a cache holds: these organizations, plus the operator's own user row. An operator who
/// may read only their own tasks (`tasks.read_own`, no `tasks.read`) gets only those on disk,
/// and so does one who is a plain MEMBER of an organization (`review_orgs`), as the row
/// policies give them online.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Slice {
    pub orgs: Vec<Uuid>,
    pub operator: Uuid,
    pub own_tasks_only: bool,
    /// Of `orgs`, those where only the operator's own tasks are theirs to read.
    pub review_orgs: Vec<Uuid>,
}

/// `'{…}'::uuid[]` literal (UUIDs only, so inlining is safe; COPY takes no parameters).
fn uuids_lit(ids: &[Uuid]) -> String {
    let ids: Vec<String> = ids.iter().map(|u| u.to_string()).collect();
    format!("'{{{}}}'::uuid[]", ids.join(","))
}

impl Slice {
    fn orgs_lit(&self) -> String {
        uuids_lit(&self.orgs)
    }

    /// The organizations whose every task the slice holds.
    fn task_orgs_lit(&self) -> String {
        let full: Vec<Uuid> = self
            .orgs
            .iter()
            .filter(|o| !self.review_orgs.contains(o))
            .copied()
            .collect();
        uuids_lit(&full)
    }

    fn own_tasks(&self) -> String {
        if self.own_tasks_only {
            format!(r#" AND t."assignee_id" = '{}'::uuid"#, self.operator)
        } else {
            String::new()
        }
    }

    /// The server-side condition (table alias `t`) selecting this slice's rows of `table`.
    pub fn predicate(&self, table: &Table) -> String {
        let orgs = self.orgs_lit();
        match table.name {
            "Organization" => format!(r#"t."id" = ANY({orgs})"#),
            "OrganizationMember" | "Team" | "Project" => {
                format!(r#"t."organization_id" = ANY({orgs})"#)
            }
            // ANY(ARRAY(…)): a filter evaluated once, so a lookup by key stays a key lookup.
            "TeamMember" => format!(
                r#"t."team_id" = ANY(ARRAY(SELECT "id" FROM "Team" WHERE "organization_id" = ANY({orgs})))"#
            ),
            "Task" if self.own_tasks_only || self.review_orgs.is_empty() => format!(
                r#"t."project_id" = ANY(ARRAY(SELECT "id" FROM "Project" WHERE "organization_id" = ANY({orgs}))){}"#,
                self.own_tasks()
            ),
            "Task" => format!(
                r#"(t."project_id" = ANY(ARRAY(SELECT "id" FROM "Project" WHERE "organization_id" = ANY({all})))
                 OR (t."assignee_id" = '{op}'::uuid AND t."project_id" = ANY(ARRAY(SELECT "id" FROM "Project" WHERE "organization_id" = ANY({review})))))"#,
                all = self.task_orgs_lit(),
                review = uuids_lit(&self.review_orgs),
                op = self.operator
            ),
            // Users the slice refers to: members, owners, team members, assignees of live
            // tasks, and the operator.
            _ => format!(
                r#"(t."id" = '{op}'::uuid
                 OR EXISTS (SELECT 1 FROM "OrganizationMember" m WHERE m."organization_id" = ANY({orgs}) AND m."user_id" = t."id")
                 OR EXISTS (SELECT 1 FROM "Organization" o WHERE o."id" = ANY({orgs}) AND o."owner_id" = t."id")
                 OR EXISTS (SELECT 1 FROM "TeamMember" tm JOIN "Team" te ON te."id" = tm."team_id"
                            WHERE tm."user_id" = t."id" AND te."organization_id" = ANY({orgs}))
                 OR EXISTS (SELECT 1 FROM "Task" k JOIN "Project" p ON p."id" = k."project_id"
                            WHERE k."assignee_id" = t."id" AND k."deleted_at" IS NULL AND p."organization_id" = ANY({tasks})
                            AND NOT {own}))"#,
                op = self.operator,
                own = self.own_tasks_only,
                tasks = self.task_orgs_lit()
            ),
        }
    }
}

impl Table {
    /// The server-side select list, every column rendered as text.
    pub fn select_list(&self) -> String {
        self.cols
            .iter()
            .map(|col| {
                let q = format!(r#"t."{}""#, col.name);
                match col.kind {
                    Text => q,
                    Uuid | Cast => format!("{q}::text"),
                    Ts => format!("to_char({q}, 'YYYY-MM-DD HH24:MI:SS.MS')"),
                    Expr(e) => e.to_owned(),
                }
            })
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// `SELECT … FROM table t WHERE <slice>` (add conditions with `AND`).
    pub fn select_slice(&self, slice: &Slice) -> String {
        format!(
            r#"SELECT {} FROM "{}" t WHERE {}"#,
            self.select_list(),
            self.name,
            slice.predicate(self)
        )
    }

    /// The key columns as `t."a", t."b"`.
    pub fn key_expr(&self) -> String {
        self.key
            .iter()
            .map(|k| format!(r#"t."{k}""#))
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// Positions of the key columns in `cols`.
    pub fn key_positions(&self) -> Vec<usize> {
        self.key
            .iter()
            .map(|k| self.cols.iter().position(|c| c.name == *k).unwrap_or(0))
            .collect()
    }

    /// True for a table keyed by one uuid `id`, whose cache rows are stored under the rowid
    /// [`key_rowid`] of their id.
    pub fn keyed_rowid(&self) -> bool {
        self.key == ["id"]
    }

    /// The upsert of [`Table::upsert_sql`] with the rowid as `?1` and the columns after it.
    pub fn upsert_rowid_sql(&self) -> String {
        self.upsert(true)
    }

    /// The SQLite upsert with `?1..?n` in `cols` order.
    pub fn upsert_sql(&self) -> String {
        self.upsert(false)
    }

    fn upsert(&self, rowid: bool) -> String {
        let first = usize::from(rowid);
        let names: Vec<String> = rowid
            .then(|| "rowid".to_owned())
            .into_iter()
            .chain(self.cols.iter().map(|c| format!("\"{}\"", c.name)))
            .collect();
        let ph: Vec<String> = (1..=self.cols.len() + first)
            .map(|i| format!("?{i}"))
            .collect();
        let keys: Vec<String> = self.key.iter().map(|k| format!("\"{k}\"")).collect();
        let sets: Vec<String> = self
            .cols
            .iter()
            .filter(|c| !self.key.contains(&c.name))
            .map(|c| format!("\"{0}\" = excluded.\"{0}\"", c.name))
            .collect();
        format!(
            r#"INSERT INTO "{}" ({}) VALUES ({}) ON CONFLICT ({}) DO UPDATE SET {}"#,
            self.name,
            names.join(", "),
            ph.join(", "),
            keys.join(", "),
            sets.join(", ")
        )
    }

    /// The SQLite condition on the key, `?1` (and `?2`) in key order.
    pub fn key_cond(&self) -> String {
        let w: Vec<String> = self
            .key
            .iter()
            .enumerate()
            .map(|(i, k)| format!("\"{k}\" = ?{}", i + 1))
            .collect();
        w.join(" AND ")
    }

    /// The SQLite delete by key, `?1` (and `?2`).
    pub fn delete_sql(&self) -> String {
        format!(r#"DELETE FROM "{}" WHERE {}"#, self.name, self.key_cond())
    }

    /// Columns of the cache table (for reading rows back to compare).
    pub fn col_names(&self) -> Vec<&'static str> {
        self.cols.iter().map(|c| c.name).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sql_shapes() {
        assert!(TASK
            .upsert_sql()
            .contains(r#"ON CONFLICT ("id") DO UPDATE SET "project_id""#));
        assert_eq!(
            TEAM_MEMBER.delete_sql(),
            r#"DELETE FROM "TeamMember" WHERE "team_id" = ?1 AND "user_id" = ?2"#
        );
        assert_eq!(TEAM_MEMBER.key_positions(), vec![0, 1]);
        let s = Slice {
            orgs: vec![Uuid::nil()],
            operator: Uuid::nil(),
            own_tasks_only: true,
            review_orgs: vec![],
        };
        assert!(s.predicate(&TASK).contains(r#"t."assignee_id" = '"#));
        let member = Slice {
            orgs: vec![Uuid::nil(), Uuid::max()],
            own_tasks_only: false,
            review_orgs: vec![Uuid::max()],
            ..s.clone()
        };
        let p = member.predicate(&TASK);
        assert!(
            p.contains(&format!("ANY('{{{}}}'::uuid[])", Uuid::nil()))
                && p.contains(r#"t."assignee_id" = '"#),
            "every task of the first, own tasks of the second: {p}"
        );
        assert!(USER.select_slice(&s).contains("'!cache'"));
        assert!(!USER.select_list().contains("password_hash"));
    }
}
