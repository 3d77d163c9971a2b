//! Organizations, their members and teams: create (validated unique slug), rename, settings,
//! ownership transfer, soft delete/restore; members add/role/remove; teams create/rename/
//! delete and their members. Every change audited in its transaction.
//!
//! In four files: `organizations.rs`, `members.rs`, `teams.rs`, and `power.rs` (who may see and
//! change what in an organization, as the database's row policies have it).

mod members;
mod organizations;
pub(crate) mod power;
mod teams;

pub use members::{list_members, remove_member, set_member, Member};
pub use organizations::{
    create, delete, get, list, rename, resolve, restore, set_settings, transfer, OrgDetail,
    Organization,
};
pub use teams::{create_team, delete_team, list_teams, rename_team, team_member, Team};
