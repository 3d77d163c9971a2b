//! Reading rows with `COPY (SELECT …) TO STDOUT` (text format): the fastest way out of
//! PostgreSQL. Every column of our selects is rendered as text, so a row is a list of optional
//! strings.

use ncy_core::db::Tx;
use ncy_core::{Error, Result};

/// One decoded row.
pub type TextRow = Vec<Option<String>>;

/// Runs `COPY (<select>) TO STDOUT` inside `tx` (a PostgreSQL transaction) and returns the rows.
pub async fn copy_rows(tx: &mut Tx, select: &str, ncols: usize) -> Result<Vec<TextRow>> {
    let mut rows = Vec::new();
    copy_batches(tx, select, ncols, |batch| rows.extend(batch)).await?;
    Ok(rows)
}

/// [`copy_rows`], handing the rows on as they arrive: `batch` gets the whole rows of each chunk
/// the server sent, in order.
pub async fn copy_batches(
    tx: &mut Tx,
    select: &str,
    ncols: usize,
    mut batch: impl FnMut(Vec<TextRow>),
) -> Result<()> {
    let mut buf: Vec<u8> = Vec::new();
    tx.copy_out(select, |chunk| {
        buf.extend_from_slice(chunk);
        let mut rows = Vec::new();
        let mut start = 0;
        while let Some(nl) = buf[start..].iter().position(|b| *b == b'\n') {
            rows.push(decode_line(&buf[start..start + nl], ncols)?);
            start += nl + 1;
        }
        buf.drain(..start);
        if !rows.is_empty() {
            batch(rows);
        }
        Ok(())
    })
    .await?;
    if !buf.is_empty() {
        batch(vec![decode_line(&buf, ncols)?]);
    }
    Ok(())
}

/// Decodes one line of COPY text format: tab-separated, `\N` for NULL, backslash escapes.
pub fn decode_line(line: &[u8], ncols: usize) -> Result<TextRow> {
    let mut out = Vec::with_capacity(ncols);
    for field in line.split(|b| *b == b'\t') {
        if field == b"\\N" {
            out.push(None);
            continue;
        }
        if !field.contains(&b'\\') {
            out.push(Some(String::from_utf8_lossy(field).into_owned()));
            continue;
        }
        let mut v = Vec::with_capacity(field.len());
        let mut i = 0;
        while i < field.len() {
            let b = field[i];
            if b == b'\\' && i + 1 < field.len() {
                let n = field[i + 1];
                i += 2;
                match n {
                    b'n' => v.push(b'\n'),
                    b'r' => v.push(b'\r'),
                    b't' => v.push(b'\t'),
                    b'b' => v.push(8),
                    b'f' => v.push(12),
                    b'v' => v.push(11),
                    b'0'..=b'7' => {
                        let mut val = (n - b'0') as u32;
                        let mut k = 0;
                        while k < 2 && i < field.len() && (b'0'..=b'7').contains(&field[i]) {
                            val = val * 8 + (field[i] - b'0') as u32;
                            i += 1;
                            k += 1;
                        }
                        v.push(val as u8);
                    }
                    other => v.push(other),
                }
            } else {
                v.push(b);
                i += 1;
            }
        }
        out.push(Some(String::from_utf8_lossy(&v).into_owned()));
    }
    if out.len() != ncols {
        return Err(Error::db(format!(
            "COPY row has {} columns, expected {ncols}",
            out.len()
        )));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::decode_line;

    #[test]
    fn decodes_nulls_and_escapes() {
        let r = decode_line(b"a\\tb\t\\N\tline\\nbreak\\\\x\t", 4).unwrap();
        assert_eq!(
            r,
            vec![
                Some("a\tb".into()),
                None,
                Some("line\nbreak\\x".into()),
                Some(String::new())
            ]
        );
        assert!(decode_line(b"a\tb", 3).is_err());
    }
}
