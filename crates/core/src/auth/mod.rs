//! Operators: who is acting, what they may do, how they log in.

pub mod identity;
pub mod login;
pub mod operator;
pub mod password;
pub mod rbac;
pub mod scram;
pub mod step_up;

pub use identity::identify;
pub use login::{authenticate, login, logout, LockoutPolicy, LoginResult};
pub use operator::{Client, Operator};
pub use rbac::perm;
