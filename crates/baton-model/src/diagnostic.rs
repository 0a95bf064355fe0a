//! Problems found in a user's resource, each with where and why.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::yaml::Pos;

/// One problem with a resource: the file, the position in it (when known),
/// the field path (`spec.steps[2].needs[0]`) and the reason.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Diagnostic {
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub file: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub line: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub column: Option<usize>,
    pub path: String,
    pub message: String,
}

impl Diagnostic {
    pub fn new(at: Option<Pos>, path: impl Into<String>, message: impl Into<String>) -> Self {
        Diagnostic {
            file: None,
            line: at.map(|p| p.line),
            column: at.map(|p| p.col),
            path: path.into(),
            message: message.into(),
        }
    }

    /// The same diagnostic, attributed to `file`.
    pub fn in_file(mut self, file: &str) -> Self {
        self.file = Some(file.to_string());
        self
    }
}

impl fmt::Display for Diagnostic {
    /// `file:line:col: path: message`, the form editors and CI logs link.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(file) = &self.file {
            write!(f, "{file}:")?;
        }
        if let (Some(line), Some(col)) = (self.line, self.column) {
            write!(f, "{line}:{col}:")?;
        }
        if self.file.is_some() || self.line.is_some() {
            write!(f, " ")?;
        }
        if !self.path.is_empty() {
            write!(f, "{}: ", self.path)?;
        }
        write!(f, "{}", self.message)
    }
}

/// Problems collected while checking one or more resources.
#[derive(Debug, Default, Clone)]
pub struct Diagnostics(Vec<Diagnostic>);

impl Diagnostics {
    pub fn push(&mut self, at: Option<Pos>, path: impl Into<String>, message: impl Into<String>) {
        self.0.push(Diagnostic::new(at, path, message));
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn extend(&mut self, other: Diagnostics) {
        self.0.extend(other.0);
    }

    /// Sorted by position so that a reader meets them in file order.
    pub fn into_sorted(mut self) -> Vec<Diagnostic> {
        self.0.sort_by_key(|a| (a.line, a.column));
        self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_names_file_position_path_and_reason() {
        let d = Diagnostic::new(Some(Pos { line: 3, col: 7 }), "spec.steps[0].id", "is empty").in_file("w.yaml");
        assert_eq!(d.to_string(), "w.yaml:3:7: spec.steps[0].id: is empty");
    }

    #[test]
    fn display_without_position() {
        let d = Diagnostic::new(None, "", "no documents");
        assert_eq!(d.to_string(), "no documents");
    }
}
