//! `ncy-admin approvals ...` and the gated commands, end to end on both stores: a delete filed
//! for approval exits 11 with one line saying what to do; the requester cannot approve it; a
//! second admin does, and it runs.

use ncy_tests::cli::{fails, Cli};
use ncy_tests::{conformance, Store};

mod common;
use common::ADMIN2;

conformance!(
    a_cli_delete_waits_for_a_second_admin,
    |store: Store| async move {
        let ops = ncy_tests::operators(&store.db).await;
        common::create_second_admin(&store.db, &ops.admin).await;
        let cli = Cli::new(store.cli_target());
        cli.login("admin@ncy-8.com", "admin123");
        cli.json(&[
            "settings",
            "set",
            "approvals.required",
            r#"["users.delete"]"#,
        ]);
        fails(
            &cli.run(&["settings", "set", "approvals.required", r#"["nope"]"#]),
            2,
            "gdpr.erase",
        );
        fails(
            &cli.run(&["users", "delete", "employee@test-org.com"]),
            11,
            "approvals approve",
        );
        let l = cli.json(&["approvals", "list", "--status", "pending"]);
        let items = l.as_array().unwrap();
        assert_eq!(items.len(), 1, "{l}");
        let id = items[0]["id"].as_str().unwrap().to_owned();
        assert_eq!(items[0]["action"], "users.delete");
        fails(
            &cli.run(&["approvals", "approve", &id]),
            4,
            "another operator",
        );
        fails(
            &cli.run(&["approvals", "list", "--status", "done"]),
            2,
            "pending",
        );
        let show = cli.json(&["users", "show", "employee@test-org.com"]);
        assert!(show["user"]["deleted_at"].is_null(), "not deleted yet");

        // The second admin (same machine, so the session is replaced) approves it.
        cli.login(ADMIN2.0, ADMIN2.1);
        let a = cli.json(&["approvals", "approve", &id]);
        assert_eq!(a["status"], "EXECUTED", "{a}");
        assert_eq!(a["requested_by_email"], "admin@ncy-8.com");
        assert_eq!(a["decided_by_email"], "admin2@ncy-8.com");
        let show = cli.json(&["users", "show", "employee@test-org.com"]);
        assert!(
            !show["user"]["deleted_at"].is_null(),
            "deleted by the approval"
        );
        fails(
            &cli.run(&["approvals", "reject", &id, "--reason", "too late"]),
            4,
            "executed already",
        );
        let shown = cli.json(&["approvals", "show", &id]);
        assert_eq!(shown["status"], "EXECUTED");
    }
);
