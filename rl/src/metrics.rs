//! Streaming checkpoints to disk as `metrics.csv` and `metrics.jsonl`, one row
//! (one JSON object) per checkpoint, flushed as it is written.

use crate::error::{Error, Result};
use rewardsmith_core::Checkpoint;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

/// File name of the CSV stream.
pub const CSV_FILE: &str = "metrics.csv";
/// File name of the JSON-lines stream.
pub const JSONL_FILE: &str = "metrics.jsonl";

/// The CSV header: `env_steps,fitness,episode_return,episode_length,reward/<component>…`.
#[must_use]
pub fn csv_header(components: &[String]) -> String {
    let mut cols = vec![
        "env_steps".to_string(),
        "fitness".into(),
        "episode_return".into(),
        "episode_length".into(),
    ];
    cols.extend(components.iter().map(|c| csv_field(&format!("reward/{c}"))));
    cols.join(",")
}

/// One checkpoint as a CSV row matching [`csv_header`] (NaN written as `NaN`).
#[must_use]
pub fn csv_row(cp: &Checkpoint) -> String {
    let mut cols = vec![
        cp.env_steps.to_string(),
        cp.fitness.to_string(),
        cp.episode_return.to_string(),
        cp.episode_length.to_string(),
    ];
    cols.extend(cp.components.iter().map(f64::to_string));
    cols.join(",")
}

/// One checkpoint as a JSON object with the same keys as the CSV columns
/// (non-finite numbers become `null`).
#[must_use]
pub fn json_row(components: &[String], cp: &Checkpoint) -> serde_json::Value {
    let mut map = serde_json::Map::new();
    map.insert("env_steps".into(), cp.env_steps.into());
    map.insert("fitness".into(), cp.fitness.into());
    map.insert("episode_return".into(), cp.episode_return.into());
    map.insert("episode_length".into(), cp.episode_length.into());
    for (name, v) in components.iter().zip(&cp.components) {
        map.insert(format!("reward/{name}"), (*v).into());
    }
    serde_json::Value::Object(map)
}

fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

/// Writes checkpoints to `metrics.csv` and `metrics.jsonl` in a folder as they
/// arrive, so a run that is killed keeps every checkpoint it reached.
#[derive(Debug)]
pub struct MetricsWriter {
    components: Vec<String>,
    csv: BufWriter<File>,
    jsonl: BufWriter<File>,
    csv_path: PathBuf,
    jsonl_path: PathBuf,
}

impl MetricsWriter {
    /// Creates (truncates) both files in `dir`, creating `dir` if needed, and
    /// writes the CSV header.
    ///
    /// # Errors
    /// [`Error::Io`] when a file cannot be created or written.
    pub fn create(dir: &Path, components: &[String]) -> Result<Self> {
        std::fs::create_dir_all(dir).map_err(|source| Error::Io {
            path: dir.to_path_buf(),
            source,
        })?;
        let csv_path = dir.join(CSV_FILE);
        let jsonl_path = dir.join(JSONL_FILE);
        let open = |p: &Path| {
            File::create(p)
                .map(BufWriter::new)
                .map_err(|source| Error::Io {
                    path: p.to_path_buf(),
                    source,
                })
        };
        let mut w = Self {
            components: components.to_vec(),
            csv: open(&csv_path)?,
            jsonl: open(&jsonl_path)?,
            csv_path,
            jsonl_path,
        };
        let header = csv_header(components);
        w.write_csv(&header)?;
        Ok(w)
    }

    fn write_csv(&mut self, line: &str) -> Result<()> {
        writeln!(self.csv, "{line}")
            .and_then(|()| self.csv.flush())
            .map_err(|source| Error::Io {
                path: self.csv_path.clone(),
                source,
            })
    }

    /// Appends one checkpoint to both files and flushes them.
    ///
    /// # Errors
    /// [`Error::Io`] when writing fails.
    pub fn write(&mut self, cp: &Checkpoint) -> Result<()> {
        self.write_csv(&csv_row(cp))?;
        let json = json_row(&self.components, cp);
        writeln!(self.jsonl, "{json}")
            .and_then(|()| self.jsonl.flush())
            .map_err(|source| Error::Io {
                path: self.jsonl_path.clone(),
                source,
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_and_rows_line_up() {
        let names = vec!["upright".to_string(), "odd,name".to_string()];
        assert_eq!(
            csv_header(&names),
            "env_steps,fitness,episode_return,episode_length,reward/upright,\"reward/odd,name\""
        );
        let cp = Checkpoint {
            env_steps: 2048,
            components: vec![0.5, -0.25],
            episode_return: f64::NAN,
            episode_length: f64::NAN,
            fitness: 0.75,
        };
        assert_eq!(csv_row(&cp), "2048,0.75,NaN,NaN,0.5,-0.25");
        let j = json_row(&names, &cp);
        assert_eq!(j["reward/odd,name"], -0.25);
        assert!(j["episode_return"].is_null());
    }

    #[test]
    fn writer_streams_both_files() {
        let dir = tempfile::tempdir().unwrap();
        let names = vec!["a".to_string()];
        let mut w = MetricsWriter::create(dir.path(), &names).unwrap();
        let cp = Checkpoint {
            env_steps: 10,
            components: vec![1.0],
            episode_return: 2.0,
            episode_length: 3.0,
            fitness: 0.5,
        };
        w.write(&cp).unwrap();
        let csv = std::fs::read_to_string(dir.path().join(CSV_FILE)).unwrap();
        assert_eq!(
            csv,
            "env_steps,fitness,episode_return,episode_length,reward/a\n10,0.5,2,3,1\n"
        );
        let jsonl = std::fs::read_to_string(dir.path().join(JSONL_FILE)).unwrap();
        let v: serde_json::Value = serde_json::from_str(jsonl.trim()).unwrap();
        assert_eq!(v["fitness"], 0.5);
    }
}
