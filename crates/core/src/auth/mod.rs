//! Operators: who is acting, what they may do, how they log in.

pub mod login;
pub mod operator;
pub mod password;
pub mod rbac;

pub use login::{authenticate, login, logout, LockoutPolicy, LoginResult};
pub use operator::{Client, Operator};
pub use rbac::perm;
