//! Labelled datasets: prompts with a score in [0, 1] per model, read from the formats users
//! bring and from the RouteLLM evaluation files as they are published.
//!
//! Accepted inputs (see the README, "Router evaluation"):
//! - JSON Lines, one object per prompt: `{"prompt": "...", "scores": {"model-a": 1, "model-b": 0.25}}`.
//!   Every line names the same models.
//! - CSV with a header: a `prompt` column and one column per model. A score is a number in
//!   [0, 1] or `True`/`False`. Columns whose name ends in `_response` (model answers, as in
//!   RouteLLM's GSM8K file) are ignored.
//! - A directory: every `*.csv` in it, in name order, all with the same model columns
//!   (RouteLLM's MMLU folder has one file per subject).
//!
//! Contamination: a `contaminated_prompts.jsonl` beside the data (in the directory, or beside
//! the file) lists prompts that leaked into some router's training data; every row whose prompt
//! equals an `eval_prompt` there is dropped.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use serde::Deserialize;

const CONTAMINATION_FILE: &str = "contaminated_prompts.jsonl";

/// Why a dataset could not be read.
#[derive(Debug, thiserror::Error)]
pub enum DatasetError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: {message}")]
    Invalid { path: PathBuf, message: String },
}

impl DatasetError {
    fn invalid(path: &Path, message: impl Into<String>) -> Self {
        Self::Invalid {
            path: path.to_path_buf(),
            message: message.into(),
        }
    }
}

/// One labelled prompt: `scores[i]` is how well `LabelledSet::models[i]` answered it.
#[derive(Debug, Clone, PartialEq)]
pub struct LabelledPrompt {
    pub prompt: String,
    pub scores: Vec<f32>,
}

/// Prompts labelled for the same models, in the order they were read.
#[derive(Debug, Clone, PartialEq)]
pub struct LabelledSet {
    pub models: Vec<String>,
    pub rows: Vec<LabelledPrompt>,
    /// Rows dropped because their prompt is listed as contaminated.
    pub contaminated_dropped: usize,
}

impl LabelledSet {
    /// Index of `model` in `models`.
    pub fn model_index(&self, model: &str) -> Option<usize> {
        self.models.iter().position(|m| m == model)
    }
}

/// Reads a dataset from a `.jsonl` file, a `.csv` file or a directory of `.csv` files, and
/// drops the contaminated prompts listed beside it.
pub fn load(path: &Path) -> Result<LabelledSet, DatasetError> {
    let read_err = |source| DatasetError::Read {
        path: path.to_path_buf(),
        source,
    };
    let metadata = std::fs::metadata(path).map_err(read_err)?;
    let (mut set, folder) = if metadata.is_dir() {
        let mut files = Vec::new();
        for entry in std::fs::read_dir(path).map_err(read_err)? {
            let entry_path = entry.map_err(read_err)?.path();
            if entry_path.extension().is_some_and(|e| e == "csv") {
                files.push(entry_path);
            }
        }
        files.sort();
        if files.is_empty() {
            return Err(DatasetError::invalid(
                path,
                "no .csv file in this directory",
            ));
        }
        let mut merged: Option<LabelledSet> = None;
        for file in &files {
            let part = parse_csv(file, &read_text(file)?)?;
            match &mut merged {
                None => merged = Some(part),
                Some(all) if all.models == part.models => all.rows.extend(part.rows),
                Some(all) => {
                    return Err(DatasetError::invalid(
                        file,
                        format!(
                            "model columns {:?} differ from {:?} in the other files",
                            part.models, all.models
                        ),
                    ));
                }
            }
        }
        let set = merged.ok_or_else(|| DatasetError::invalid(path, "no rows"))?;
        (set, path.to_path_buf())
    } else {
        let text = read_text(path)?;
        let set = if path.extension().is_some_and(|e| e == "jsonl") {
            parse_jsonl(path, &text)?
        } else {
            parse_csv(path, &text)?
        };
        let folder = path.parent().map(Path::to_path_buf).unwrap_or_default();
        (set, folder)
    };
    let contamination = folder.join(CONTAMINATION_FILE);
    if contamination.is_file() {
        let banned = parse_contaminated(&contamination, &read_text(&contamination)?)?;
        let before = set.rows.len();
        set.rows.retain(|row| !banned.contains(row.prompt.trim()));
        set.contaminated_dropped = before - set.rows.len();
    }
    if set.rows.is_empty() {
        return Err(DatasetError::invalid(path, "no labelled prompt"));
    }
    Ok(set)
}

fn read_text(path: &Path) -> Result<String, DatasetError> {
    std::fs::read_to_string(path).map_err(|source| DatasetError::Read {
        path: path.to_path_buf(),
        source,
    })
}

/// Parses a score cell: a number in [0, 1], or `True`/`False` (any case).
fn parse_score(cell: &str) -> Option<f32> {
    let cell = cell.trim();
    if cell.eq_ignore_ascii_case("true") {
        return Some(1.0);
    }
    if cell.eq_ignore_ascii_case("false") {
        return Some(0.0);
    }
    cell.parse::<f32>().ok().filter(|v| (0.0..=1.0).contains(v))
}

/// Parses CSV text with a `prompt` column and one score column per model.
pub fn parse_csv(path: &Path, text: &str) -> Result<LabelledSet, DatasetError> {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(true)
        .from_reader(text.as_bytes());
    let headers = reader
        .headers()
        .map_err(|e| DatasetError::invalid(path, e.to_string()))?
        .clone();
    let prompt_column = headers
        .iter()
        .position(|h| h.trim() == "prompt")
        .ok_or_else(|| DatasetError::invalid(path, "no `prompt` column"))?;
    let model_columns: Vec<(usize, String)> = headers
        .iter()
        .enumerate()
        .filter(|(i, h)| *i != prompt_column && !h.trim().ends_with("_response"))
        .map(|(i, h)| (i, h.trim().to_string()))
        .collect();
    if model_columns.is_empty() {
        return Err(DatasetError::invalid(
            path,
            "no model column beside `prompt`",
        ));
    }
    let mut rows = Vec::new();
    for (line, record) in reader.records().enumerate() {
        let record = record.map_err(|e| DatasetError::invalid(path, e.to_string()))?;
        let prompt = record.get(prompt_column).unwrap_or_default().to_string();
        let mut scores = Vec::with_capacity(model_columns.len());
        for (column, model) in &model_columns {
            let cell = record.get(*column).unwrap_or_default();
            let score = parse_score(cell).ok_or_else(|| {
                DatasetError::invalid(
                    path,
                    format!(
                        "record {}: `{model}` is {cell:?}, not a score in [0, 1] or True/False",
                        line + 1
                    ),
                )
            })?;
            scores.push(score);
        }
        rows.push(LabelledPrompt { prompt, scores });
    }
    Ok(LabelledSet {
        models: model_columns.into_iter().map(|(_, m)| m).collect(),
        rows,
        contaminated_dropped: 0,
    })
}

#[derive(Deserialize)]
struct JsonlRow {
    prompt: String,
    scores: serde_json::Map<String, serde_json::Value>,
}

/// Parses JSON Lines of `{"prompt": ..., "scores": {model: score}}`; blank lines are skipped.
pub fn parse_jsonl(path: &Path, text: &str) -> Result<LabelledSet, DatasetError> {
    let mut models: Option<Vec<String>> = None;
    let mut rows = Vec::new();
    for (number, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let at = |message: String| {
            DatasetError::invalid(path, format!("line {}: {message}", number + 1))
        };
        let row: JsonlRow = serde_json::from_str(line).map_err(|e| at(e.to_string()))?;
        let names = models.get_or_insert_with(|| row.scores.keys().cloned().collect());
        if names.is_empty() {
            return Err(at("`scores` names no model".into()));
        }
        if row.scores.len() != names.len() {
            return Err(at(format!(
                "`scores` must name exactly the models {names:?}"
            )));
        }
        let mut scores = Vec::with_capacity(names.len());
        for name in names.iter() {
            let score = row
                .scores
                .get(name)
                .and_then(|v| match v {
                    serde_json::Value::Bool(b) => Some(if *b { 1.0 } else { 0.0 }),
                    serde_json::Value::Number(n) => n.as_f64().map(|f| f as f32),
                    _ => None,
                })
                .filter(|v| (0.0..=1.0).contains(v))
                .ok_or_else(|| {
                    at(format!(
                        "`scores.{name}` must be a number in [0, 1] or a boolean"
                    ))
                })?;
            scores.push(score);
        }
        rows.push(LabelledPrompt {
            prompt: row.prompt,
            scores,
        });
    }
    Ok(LabelledSet {
        models: models.unwrap_or_default(),
        rows,
        contaminated_dropped: 0,
    })
}

#[derive(Deserialize)]
struct ContaminatedRow {
    eval_prompt: String,
}

fn parse_contaminated(path: &Path, text: &str) -> Result<HashSet<String>, DatasetError> {
    let mut banned = HashSet::new();
    for (number, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let row: ContaminatedRow = serde_json::from_str(line)
            .map_err(|e| DatasetError::invalid(path, format!("line {}: {e}", number + 1)))?;
        banned.insert(row.eval_prompt.trim().to_string());
    }
    Ok(banned)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_reads_booleans_and_numbers_and_ignores_response_columns() {
        let text = "prompt,weak,strong,weak_response\n\"a, b\",True,0.5,x\nc,false,1,y\n";
        let set = parse_csv(Path::new("t.csv"), text).unwrap();
        assert_eq!(set.models, ["weak", "strong"]);
        assert_eq!(set.rows[0].prompt, "a, b");
        assert_eq!(set.rows[0].scores, [1.0, 0.5]);
        assert_eq!(set.rows[1].scores, [0.0, 1.0]);
    }

    #[test]
    fn csv_refuses_a_score_outside_zero_to_one() {
        let err = parse_csv(Path::new("t.csv"), "prompt,m\np,1.5\n").unwrap_err();
        assert!(err.to_string().contains("record 1"), "{err}");
    }

    #[test]
    fn csv_without_a_prompt_column_is_refused() {
        assert!(parse_csv(Path::new("t.csv"), "question,m\np,1\n").is_err());
    }

    #[test]
    fn jsonl_keeps_the_model_order_of_the_first_line() {
        let text = "{\"prompt\":\"p\",\"scores\":{\"b\":1,\"a\":0.25}}\n\n{\"prompt\":\"q\",\"scores\":{\"a\":true,\"b\":0}}\n";
        let set = parse_jsonl(Path::new("t.jsonl"), text).unwrap();
        assert_eq!(set.rows.len(), 2);
        let a = set.model_index("a").unwrap();
        let b = set.model_index("b").unwrap();
        assert_eq!((set.rows[0].scores[a], set.rows[0].scores[b]), (0.25, 1.0));
        assert_eq!((set.rows[1].scores[a], set.rows[1].scores[b]), (1.0, 0.0));
    }

    #[test]
    fn jsonl_lines_must_name_the_same_models() {
        let text =
            "{\"prompt\":\"p\",\"scores\":{\"a\":1}}\n{\"prompt\":\"q\",\"scores\":{\"c\":1}}\n";
        let err = parse_jsonl(Path::new("t.jsonl"), text).unwrap_err();
        assert!(err.to_string().contains("line 2"), "{err}");
    }

    #[test]
    fn contaminated_prompts_are_dropped_from_a_directory() {
        let dir = std::env::temp_dir().join(format!("quality-dataset-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("a.csv"), "prompt,m\nkeep,1\nleak,0\n").unwrap();
        std::fs::write(dir.join("b.csv"), "prompt,m\nalso kept,0\n").unwrap();
        std::fs::write(
            dir.join(CONTAMINATION_FILE),
            "{\"train_prompt\":\"x\",\"eval_prompt\":\"leak\",\"train_idx\":1,\"eval_idx\":2}\n",
        )
        .unwrap();
        let set = load(&dir).unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
        let prompts: Vec<_> = set.rows.iter().map(|r| r.prompt.as_str()).collect();
        assert_eq!(prompts, ["keep", "also kept"]);
        assert_eq!(set.contaminated_dropped, 1);
    }
}
