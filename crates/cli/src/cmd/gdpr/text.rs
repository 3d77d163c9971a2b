//! How `ncy-admin gdpr` prints requests and sweeps as text.

use ncy_gdpr::request::Request;

use crate::output::opt;

pub(super) fn ts(t: &chrono::NaiveDateTime) -> String {
    t.format("%Y-%m-%d %H:%M").to_string()
}

pub(super) fn request_line(r: &Request) -> Vec<String> {
    vec![
        r.id.to_string(),
        r.kind.as_str().into(),
        r.state.as_str().into(),
        opt(&r.subject_email),
        ts(&r.received_at),
        format!(
            "{}{}",
            ts(&r.effective_due_at),
            if r.extended_due_at.is_some() {
                " (ext)"
            } else {
                ""
            }
        ),
        if r.overdue {
            format!("OVERDUE {}d", -r.days_left)
        } else if r.state.is_open() {
            format!("{}d left", r.days_left)
        } else {
            "-".into()
        },
        opt(&r.handler_email),
    ]
}

pub(super) fn request_text(r: &Request) -> String {
    let mut s = format!(
        "request {}\n  type      {}{}\n  status    {}\n  subject   {} ({})\n  received  {} UTC\n  due       {} UTC{}{}\n",
        r.id,
        r.kind.as_str(),
        if r.filed_by_platform { " (filed by the platform)" } else { "" },
        r.state.as_str(),
        opt(&r.subject_email),
        opt(&r.user_id),
        ts(&r.received_at),
        ts(&r.effective_due_at),
        if r.overdue { "  OVERDUE" } else { "" },
        r.extension_reason.as_ref().map(|x| format!(" (extended: {x})")).unwrap_or_default(),
    );
    match (&r.identity_verified_at, &r.identity_method) {
        (Some(at), m) => s.push_str(&format!(
            "  identity  verified {} UTC by {} ({})\n",
            ts(at),
            opt(&r.identity_verified_by),
            opt(m)
        )),
        _ => s.push_str("  identity  not verified\n"),
    }
    if let Some(h) = &r.handler_email {
        s.push_str(&format!("  handler   {h}\n"));
    }
    if let Some(x) = &r.rejection_reason {
        s.push_str(&format!("  rejected  {x}\n"));
    }
    if let Some(x) = &r.result_path {
        s.push_str(&format!("  export    {x}\n"));
    }
    if let Some(n) = &r.notes {
        s.push_str(&format!("  notes     {n}\n"));
    }
    s
}

pub(super) fn sweep_text(s: &ncy_gdpr::sweep::SweepResult) -> String {
    let mut out = format!(
        "sweep: {} — {} tables, {} columns searched for {} email, {} local part, {} IP address(es){} in {} ms\n",
        if s.clean { "CLEAN (no trace found)" } else { "TRACES FOUND" },
        s.tables_scanned,
        s.columns_scanned,
        s.terms.email,
        s.terms.local_part,
        s.terms.ip_addresses,
        if s.terms.shared_ip_addresses_skipped > 0 {
            format!(" ({} shared address(es) not swept)", s.terms.shared_ip_addresses_skipped)
        } else {
            String::new()
        },
        s.duration_ms
    );
    for h in &s.hits {
        out.push_str(&format!("  {}.{}: {} row(s)\n", h.table, h.column, h.rows));
    }
    out
}
