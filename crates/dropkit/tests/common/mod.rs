//! Scratch directories for tests: each lives under its own fresh temporary directory, which is
//! removed when the guard drops, whether the test passed or failed.

use std::ops::Deref;
use std::path::{Path, PathBuf};

/// A path that does not exist yet, inside a temporary directory removed on drop.
pub struct Scratch {
    _root: tempfile::TempDir,
    path: PathBuf,
}

/// A scratch path named after `name` (the name shows which test left it, should removal fail).
pub fn scratch(name: &str) -> Scratch {
    let root = tempfile::Builder::new().prefix(&format!("dropkit-{name}-")).tempdir().expect("temporary directory");
    let path = root.path().join(name);
    Scratch { _root: root, path }
}

impl Deref for Scratch {
    type Target = Path;
    fn deref(&self) -> &Path {
        &self.path
    }
}

impl AsRef<Path> for Scratch {
    fn as_ref(&self) -> &Path {
        &self.path
    }
}
