//! One statement for a whole section: lists of different shapes read as one `UNION ALL`, each
//! branch selecting every column of the section (its own, the others as typed NULLs) with a
//! `part` telling the lists apart and an `ord` keeping each list's order.

use serde::Deserialize;

/// Which list of its section a row belongs to.
#[derive(Deserialize)]
pub(crate) struct Part {
    pub part: i64,
}

/// The select list of one branch: for each `(name, type)` of `cols`, its expression in
/// `exprs`, else `alias.name` when the name is in `taken`, else a NULL of that type; each named
/// after its column.
pub(crate) fn branch(
    cols: &[(&str, &str)],
    alias: &str,
    taken: &[&str],
    exprs: &[(&str, &str)],
) -> String {
    cols.iter()
        .map(|(name, ty)| match exprs.iter().find(|(n, _)| n == name) {
            Some((_, e)) => format!("{e} AS {name}"),
            None if taken.contains(name) => format!("{alias}.{name} AS {name}"),
            None => format!("NULL::{ty} AS {name}"),
        })
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_columns_are_typed_nulls() {
        let cols = [("part", "int4"), ("a", "text"), ("b", "int8")];
        assert_eq!(
            branch(&cols, "x", &["b"], &[("part", "1")]),
            "1 AS part, NULL::text AS a, x.b AS b"
        );
    }
}
