//! Writing exports safely, one way for the CLI and the desktop: a private temporary file
//! (0600 on Unix) in the destination's folder, renamed over the destination only once
//! complete (no partial file ever has the final name), a destination that is a symbolic link
//! refused (the export never lands where a link points), and CSV cells that a spreadsheet
//! would run as a formula neutralised.

use std::borrow::Cow;
use std::io::Write;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// A cell starting with `=`, `+`, `-`, `@`, a tab or a carriage return gets a leading `'` so
/// spreadsheets show it as text instead of evaluating it (CSV formula injection).
pub fn neutralise_cell(cell: &str) -> Cow<'_, str> {
    match cell.chars().next() {
        Some('=' | '+' | '-' | '@' | '\t' | '\r') => Cow::Owned(format!("'{cell}")),
        _ => Cow::Borrowed(cell),
    }
}

/// A CSV writer whose every cell goes through [`neutralise_cell`].
pub struct CsvWriter<W: Write> {
    inner: csv::Writer<W>,
}

fn csv_error(what: &str, e: csv::Error) -> Error {
    match e.into_kind() {
        csv::ErrorKind::Io(e) => Error::io(what.to_owned(), e),
        other => Error::db(format!("{what}: CSV: {other:?}")),
    }
}

impl<W: Write> CsvWriter<W> {
    /// A writer of CSV rows into `out`.
    pub fn new(out: W) -> Self {
        CsvWriter {
            inner: csv::Writer::from_writer(out),
        }
    }

    /// Writes one row, neutralising each cell.
    pub fn write_row<I, S>(&mut self, cells: I) -> Result<()>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let row: Vec<String> = cells
            .into_iter()
            .map(|c| neutralise_cell(c.as_ref()).into_owned())
            .collect();
        self.inner
            .write_record(&row)
            .map_err(|e| csv_error("writing the export", e))
    }

    /// Flushes buffered rows.
    pub fn flush(&mut self) -> Result<()> {
        self.inner
            .flush()
            .map_err(|e| Error::io("writing the export", e))
    }
}

/// An export being written: a private temporary file next to `dest`, removed on drop unless
/// [`ExportFile::finish`]ed.
pub struct ExportFile {
    dest: PathBuf,
    tmp: PathBuf,
    file: Option<std::fs::File>,
}

fn refuse_link(dest: &Path) -> Result<()> {
    match std::fs::symlink_metadata(dest) {
        Ok(m) if m.file_type().is_symlink() => Err(Error::invalid(
            "out",
            format!(
                "{} is a symbolic link; exports never write through links: choose the real file or another name",
                dest.display()
            ),
        )),
        Ok(m) if m.is_dir() => Err(Error::invalid(
            "out",
            format!("{} is a folder; name a file inside it", dest.display()),
        )),
        _ => Ok(()),
    }
}

impl ExportFile {
    /// Starts an export to `dest`; refuses a destination that is a symbolic link or a folder.
    pub fn create(dest: impl AsRef<Path>) -> Result<ExportFile> {
        let dest = dest.as_ref().to_path_buf();
        refuse_link(&dest)?;
        let name = dest
            .file_name()
            .ok_or_else(|| Error::invalid("out", "name the file to write (e.g. audit.csv)"))?
            .to_string_lossy()
            .into_owned();
        let dir = dest
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        let tmp = dir.join(format!(
            ".{name}.{}.partial",
            &uuid::Uuid::new_v4().simple().to_string()[..8]
        ));
        let mut o = std::fs::OpenOptions::new();
        o.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut o, 0o600);
        let file = o
            .open(&tmp)
            .map_err(|e| Error::io(format!("creating a file in {}", dir.display()), e))?;
        Ok(ExportFile {
            dest,
            tmp,
            file: Some(file),
        })
    }

    /// The temporary file to write the export into.
    pub fn file(&mut self) -> &mut std::fs::File {
        self.file
            .as_mut()
            .expect("an ExportFile's file is present until finish")
    }

    /// Syncs the file and renames it over the destination (checked again: still no link).
    pub fn finish(mut self) -> Result<PathBuf> {
        let what = format!("writing {}", self.dest.display());
        if let Some(f) = self.file.take() {
            f.sync_all().map_err(|e| Error::io(what.clone(), e))?;
        }
        refuse_link(&self.dest)?;
        std::fs::rename(&self.tmp, &self.dest).map_err(|e| Error::io(what, e))?;
        self.tmp = PathBuf::new();
        Ok(self.dest.clone())
    }
}

impl Drop for ExportFile {
    fn drop(&mut self) {
        if !self.tmp.as_os_str().is_empty() {
            let _ = std::fs::remove_file(&self.tmp);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formula_cells_are_neutralised() {
        for bad in ["=1+1", "+1", "-2", "@SUM(A1)", "\tx", "\rx"] {
            assert_eq!(neutralise_cell(bad), format!("'{bad}"));
        }
        for fine in ["", "a=b", "admin@ncy-8.com", "1-2", "'=x"] {
            assert_eq!(neutralise_cell(fine), fine);
        }
        let mut out = vec![];
        let mut w = CsvWriter::new(&mut out);
        w.write_row(["=HYPERLINK(\"http://x\")", "plain"]).unwrap();
        w.flush().unwrap();
        drop(w);
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "\"'=HYPERLINK(\"\"http://x\"\")\",plain\n"
        );
    }

    #[test]
    fn exports_are_private_renamed_when_complete_and_never_through_a_link() {
        let d = tempfile::tempdir().unwrap();
        let dest = d.path().join("out.csv");
        let mut f = ExportFile::create(&dest).unwrap();
        f.file().write_all(b"a,b\n").unwrap();
        assert!(
            !dest.exists(),
            "nothing under the final name until complete"
        );
        f.finish().unwrap();
        assert_eq!(std::fs::read(&dest).unwrap(), b"a,b\n");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&dest).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600);
        }
        // Dropped unfinished: no file left behind.
        let f = ExportFile::create(d.path().join("gone.csv")).unwrap();
        drop(f);
        assert_eq!(std::fs::read_dir(d.path()).unwrap().count(), 1);
        #[cfg(unix)]
        {
            let target = d.path().join("target.txt");
            std::fs::write(&target, b"keep").unwrap();
            let link = d.path().join("link.csv");
            std::os::unix::fs::symlink(&target, &link).unwrap();
            let e = ExportFile::create(&link).err().unwrap();
            assert!(e.to_string().contains("symbolic link"), "{e}");
            assert_eq!(std::fs::read(&target).unwrap(), b"keep");
        }
        let e = ExportFile::create(d.path()).err().unwrap();
        assert!(e.to_string().contains("folder"), "{e}");
    }
}
