//! Character-level text: any plain UTF-8 file, or the embedded corpus (six Shakespeare
//! tragedies, `data/text/`, credit: Open Knowledge Foundation, Open Shakespeare, CC BY 2.5).
//!
//! The text is cut by position: the first `1 - test_split` of its characters train (and a
//! run's validation split takes the last part of those), the rest tests, so no test character
//! was ever seen in training. The vocabulary is the training part's characters, in code-point
//! order; characters of the test part outside it are left out (and counted). Sample i is the
//! sequence of `context` characters starting at `i * context`, its targets the next character
//! at every position: inputs `(N, T)` as f32 ids, targets `N * T` class ids.

#![cfg_attr(not(test), deny(clippy::indexing_slicing))]

use super::fetch::sha256_hex;
use super::{DataRecord, DataSource, Dataset, Targets, TrainTest};
use crate::error::{Error, Result};
use std::path::Path;

/// The embedded corpus (841,779 characters, 73 distinct).
pub const EMBEDDED_TEXT: &str = include_str!("../../../../data/text/shakespeare-tragedies.txt");

/// The name of the embedded corpus as a data set (`--dataset shakespeare`).
pub const EMBEDDED_NAME: &str = "shakespeare";

/// Characters per sequence when neither the run nor the model says.
pub const DEFAULT_CONTEXT: usize = 128;

/// The fraction of the text (its end) kept for testing.
pub const DEFAULT_TEST_SPLIT: f64 = 0.1;

/// Most distinct characters a vocabulary may hold.
pub const MAX_VOCABULARY: usize = 1 << 16;

/// The characters a model reads and writes, id = position.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Vocabulary {
    chars: Vec<char>,
}

impl Vocabulary {
    /// The distinct characters of `text`, in code-point order.
    pub fn of(text: &str) -> Self {
        let mut chars: Vec<char> = text.chars().collect();
        chars.sort_unstable();
        chars.dedup();
        Vocabulary { chars }
    }

    /// A vocabulary from class names of one character each (as a run records it).
    pub fn from_names(names: &[String]) -> Result<Self> {
        let chars = names
            .iter()
            .map(|n| {
                let mut it = n.chars();
                match (it.next(), it.next()) {
                    (Some(c), None) => Ok(c),
                    _ => Err(Error::InvalidArgument(format!(
                        "class name {n:?} is not one character; this run was not trained on text"
                    ))),
                }
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(Vocabulary { chars })
    }

    pub fn len(&self) -> usize {
        self.chars.len()
    }

    pub fn is_empty(&self) -> bool {
        self.chars.is_empty()
    }

    /// The characters as class names.
    pub fn names(&self) -> Vec<String> {
        self.chars.iter().map(|c| c.to_string()).collect()
    }

    /// The id of `c`, if it is in the vocabulary.
    pub fn id(&self, c: char) -> Option<u32> {
        self.chars.binary_search(&c).ok().map(|i| i as u32)
    }

    /// The character of `id`.
    pub fn char(&self, id: u32) -> Option<char> {
        self.chars.get(id as usize).copied()
    }

    /// The ids of `text`'s characters, and how many were outside the vocabulary (left out).
    pub fn encode(&self, text: &str) -> (Vec<u32>, usize) {
        let (mut ids, mut unknown) = (Vec::with_capacity(text.len()), 0);
        for c in text.chars() {
            match self.id(c) {
                Some(id) => ids.push(id),
                None => unknown += 1,
            }
        }
        (ids, unknown)
    }
}

/// Sequences of `context` ids with their next-id targets, `context` apart.
pub fn sequences(ids: &[u32], context: usize, vocabulary: &Vocabulary) -> Dataset {
    let n = ids.len().saturating_sub(1) / context.max(1);
    let (mut inputs, mut targets) = (Vec::with_capacity(n * context), Vec::with_capacity(n * context));
    for window in (0..n).filter_map(|i| ids.get(i * context..i * context + context + 1)) {
        inputs.extend(window.iter().take(context).map(|&id| id as f32));
        targets.extend_from_slice(window.get(1..).unwrap_or_default());
    }
    Dataset {
        images: inputs,
        sample_shape: vec![context],
        targets: Targets::Classes {
            ids: targets,
            classes: vocabulary.len(),
            names: Some(vocabulary.names()),
            positions: context,
        },
    }
}

/// Reads the text of `path`, or the embedded corpus when None.
pub fn read(path: Option<&Path>) -> Result<String> {
    let Some(path) = path else { return Ok(EMBEDDED_TEXT.to_string()) };
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    String::from_utf8(bytes).map_err(|e| {
        Error::format(
            path.display(),
            format!(
                "is not UTF-8 text (byte {} is not part of a UTF-8 character); save it as UTF-8",
                e.utf8_error().valid_up_to()
            ),
        )
    })
}

/// Training and test sequences of `text` (read from `source`), cut by position.
pub fn load(text: &str, source: &DataSource, context: usize, test_split: f64) -> Result<TrainTest> {
    if context == 0 {
        return Err(Error::InvalidArgument("context 0: sequences need at least 1 character, e.g. 128".into()));
    }
    if !(test_split > 0.0 && test_split < 1.0) {
        return Err(Error::InvalidArgument(format!(
            "test split {test_split}: must be between 0 and 1, e.g. 0.1 tests on the last 10% of the text"
        )));
    }
    let chars = text.chars().count();
    let cut =
        text.char_indices().nth(((chars as f64) * (1.0 - test_split)).round() as usize).map_or(text.len(), |(i, _)| i);
    let (train_text, test_text) = text.split_at(cut);
    let vocabulary = Vocabulary::of(train_text);
    if vocabulary.len() > MAX_VOCABULARY {
        return Err(Error::format(
            source,
            format!(
                "has {} distinct characters; at most {MAX_VOCABULARY} make a character vocabulary",
                vocabulary.len()
            ),
        ));
    }
    let (train_ids, _) = vocabulary.encode(train_text);
    let (test_ids, _) = vocabulary.encode(test_text);
    let (train, test) = (sequences(&train_ids, context, &vocabulary), sequences(&test_ids, context, &vocabulary));
    if train.len() < 2 || test.is_empty() {
        return Err(Error::format(
            source,
            format!(
                "has {chars} characters: too few for training and test sequences of {context}; use a longer text or a shorter context"
            ),
        ));
    }
    let mut record = DataRecord::new(source, "text", sha256_hex(text.as_bytes()));
    record.classes = vocabulary.names();
    record.sample_shape = vec![context];
    Ok(TrainTest { train, test, source: record, test_rows: Vec::new() })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sequences_are_contiguous_windows_with_next_character_targets() {
        let v = Vocabulary::of("abcd");
        let (ids, unknown) = v.encode("abcdabcdab?");
        assert_eq!(unknown, 1);
        let s = sequences(&ids, 4, &v);
        assert_eq!(s.len(), 2);
        assert_eq!(s.images, vec![0., 1., 2., 3., 0., 1., 2., 3.]);
        assert_eq!(s.labels(), &[1, 2, 3, 0, 1, 2, 3, 0]);
        s.validate().unwrap();
    }

    #[test]
    fn the_test_part_is_the_end_of_the_text() {
        let text: String = (0..1000).map(|i| if i < 900 || i % 2 == 0 { 'a' } else { 'b' }).collect();
        let data = load(&text, &DataSource::Embedded, 9, 0.1).unwrap();
        // The vocabulary is the training part's: 'b' appears only in the test part.
        assert_eq!(data.train.classes(), 1);
        assert_eq!(data.train.len(), 899 / 9);
        assert_eq!(data.test.len(), (50 - 1) / 9);
        assert!(load(&text, &DataSource::Embedded, 0, 0.1).is_err());
        assert!(load("ab", &DataSource::Embedded, 8, 0.1).unwrap_err().to_string().contains("too few"));
    }

    #[test]
    fn the_embedded_corpus_has_its_73_characters() {
        let data = load(EMBEDDED_TEXT, &DataSource::Embedded, 128, DEFAULT_TEST_SPLIT).unwrap();
        assert_eq!(data.train.classes(), 73);
        assert_eq!(data.train.positions(), 128);
        assert_eq!(Vocabulary::from_names(&data.source.classes).unwrap().len(), 73);
    }
}
