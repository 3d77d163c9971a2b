//! What every front end (the `ncy-admin` CLI, the desktop window) sets up the same way: where
//! the app keeps its files ([`Paths`]), the saved PostgreSQL connection profiles and where their
//! passwords are ([`Profiles`]), and opening a store ([`open_local`], [`connect_profile`]).

mod files;
mod paths;
mod profiles;
mod store;

pub use files::{read_json, write_json};
pub use paths::Paths;
pub use profiles::{PasswordSource, Profile, ProfileView, Profiles, SessionPasswords};
pub use store::{check_profile, connect_profile, connect_replica, open_local, ready};
