//! What the approvals tests share: a second ADMIN account to approve with.

use ncy_core::admin::users;
use ncy_core::auth::Operator;
use ncy_core::db::Db;
use ncy_core::model::UserRole;

/// The second ADMIN's email and password.
pub const ADMIN2: (&str, &str) = ("admin2@ncy-8.com", "password-123");

/// Creates the second ADMIN account (as `admin`).
pub async fn create_second_admin(db: &Db, admin: &Operator) {
    users::create(
        db,
        admin,
        &users::NewUser {
            email: ADMIN2.0.into(),
            role: Some(UserRole::ADMIN),
            status: None,
            password: Some(ADMIN2.1.into()),
        },
    )
    .await
    .expect("the second admin");
}
