//! The last signed head of every log, kept beside the signing key, outside the database.
//!
//! A database restored from an older backup no longer holds entries that were acknowledged and
//! covered by a published checkpoint. Appending to it would sign a second tree of a size
//! already signed, with another root: a forked log, and an acknowledged ballot gone. So every
//! signed (size, root) is recorded here, durably, before anyone is answered, and nothing is
//! signed unless the database's tree extends the recorded one.
//!
//! Layout: the directory `<signing key file>.heads/` (mode 0700) holds one file per election,
//! named by its UUID, containing `<size, 20 digits> <root hex>\n` (mode 0600). Records only move forward,
//! under an exclusive file lock, so processes sharing the key directory never step back.

use std::cell::RefCell;
use std::fs::{self, File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use super::merkle::Hash;
use crate::error::{Error, Result};
use strikevote_core::ElectionId;

/// A signed tree head: how many entries, and the root over them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Head {
    /// Tree size.
    pub size: u64,
    /// Root hash.
    pub root: Hash,
}

/// The directory of recorded heads.
#[derive(Clone, Debug)]
pub struct HeadStore {
    dir: PathBuf,
}

/// The directory of heads that belongs to a signing key file.
pub fn dir_for_key(key_path: &Path) -> PathBuf {
    let mut name = key_path.as_os_str().to_owned();
    name.push(".heads");
    PathBuf::from(name)
}

thread_local! {
    /// Heads signed inside the current [`crate::log::store::transaction`], recorded after commit.
    static PENDING: RefCell<Option<Vec<(HeadStore, ElectionId, Head)>>> = const { RefCell::new(None) };
}

/// Starts collecting the heads signed on this thread (a log transaction begins). Inside a
/// transaction already collecting (a nested one, a savepoint), it goes on collecting for the
/// outer one and returns how many heads were collected so far.
pub(crate) fn begin() -> Option<usize> {
    PENDING.with(|p| {
        let mut pending = p.borrow_mut();
        match pending.as_ref() {
            Some(outer) => Some(outer.len()),
            None => {
                *pending = Some(Vec::new());
                None
            }
        }
    })
}

/// A nested transaction rolled back: forgets the heads it signed.
pub(crate) fn forget_after(mark: usize) {
    PENDING.with(|p| {
        if let Some(pending) = p.borrow_mut().as_mut() {
            pending.truncate(mark);
        }
    });
}

/// Stops collecting; returns what was signed.
pub(crate) fn finish() -> Vec<(HeadStore, ElectionId, Head)> {
    PENDING.with(|p| p.borrow_mut().take()).unwrap_or_default()
}

/// Whether a log transaction is under way on this thread.
pub(crate) fn collecting() -> bool {
    PENDING.with(|p| p.borrow().is_some())
}

/// Notes a head signed in the transaction under way.
pub(crate) fn note(store: &HeadStore, id: ElectionId, head: Head) {
    PENDING.with(|p| {
        if let Some(list) = p.borrow_mut().as_mut() {
            list.push((store.clone(), id, head));
        }
    });
}

impl HeadStore {
    /// The store in `dir`, created (mode 0700) if missing.
    pub fn open(dir: &Path) -> Result<Self> {
        if !dir.is_dir() {
            fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(dir)
                .map_err(|e| io_error(dir, &e))?;
        }
        Ok(Self {
            dir: dir.to_owned(),
        })
    }

    fn file(&self, id: ElectionId) -> PathBuf {
        self.dir.join(id.to_string())
    }

    fn open_locked(&self, id: ElectionId) -> Result<File> {
        let path = self.file(id);
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o600)
            .open(&path)
            .map_err(|e| io_error(&path, &e))?;
        file.lock().map_err(|e| io_error(&path, &e))?;
        Ok(file)
    }

    fn read(path: &Path, file: &mut File) -> Result<Option<Head>> {
        let mut text = String::new();
        file.read_to_string(&mut text)
            .map_err(|e| io_error(path, &e))?;
        if text.trim().is_empty() {
            return Ok(None);
        }
        let parsed = text.trim().split_once(' ').and_then(|(size, root)| {
            let size = size.parse::<u64>().ok()?;
            let root = Hash::try_from(hex::decode(root).ok()?).ok()?;
            Some(Head { size, root })
        });
        parsed.map(Some).ok_or_else(|| {
            Error::Internal(format!(
                "{} is not a signed-head record (`<size> <root hex>`)",
                path.display()
            ))
        })
    }

    /// The last head recorded for the election, if any.
    pub fn recorded(&self, id: ElectionId) -> Result<Option<Head>> {
        let path = self.file(id);
        match File::open(&path) {
            Ok(mut f) => Self::read(&path, &mut f),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(io_error(&path, &e)),
        }
    }

    /// Records `head` durably if it is newer than the recorded one. Refuses a head of the
    /// recorded size with another root: that is a fork, whatever caused it.
    pub fn record(&self, id: ElectionId, head: Head) -> Result<()> {
        let path = self.file(id);
        let created = !path.exists();
        let mut file = self.open_locked(id)?;
        match Self::read(&path, &mut file)? {
            Some(old) if old.size > head.size => return Ok(()),
            Some(old) if old.size == head.size => {
                return if old.root == head.root {
                    Ok(())
                } else {
                    Err(fork(id, old, head.size))
                };
            }
            _ => {}
        }
        // Fixed width (86 bytes, one disk sector), written over the old record in place: a crash
        // mid-write cannot leave the file empty or half of two records.
        let line = format!("{:020} {}\n", head.size, hex::encode(head.root));
        let write = |f: &mut File| -> std::io::Result<()> {
            f.seek(SeekFrom::Start(0))?;
            f.write_all(line.as_bytes())?;
            f.set_len(line.len() as u64)?;
            f.sync_all()
        };
        write(&mut file).map_err(|e| io_error(&path, &e))?;
        // The first record of an election adds a name to the directory: make that durable too
        // (later records rewrite the file in place, and its own fsync covers them).
        if created && let Ok(dir) = File::open(&self.dir) {
            let _ = dir.sync_all();
        }
        Ok(())
    }

    /// Refuses unless a database log of `size` entries with root `root` extends the recorded
    /// head; `root_at(n)` gives the database's root over its first `n` entries.
    pub fn check(
        &self,
        id: ElectionId,
        size: u64,
        root: Hash,
        root_at: impl FnOnce(u64) -> Result<Hash>,
    ) -> Result<()> {
        let Some(recorded) = self.recorded(id)? else {
            return Ok(());
        };
        if size < recorded.size {
            return Err(Error::LogForked(format!(
                "election {id}: this signing key already signed {} entries of its log (root {}), \
                 but the database holds only {size}. The database was restored from an older \
                 backup or lost committed data; acknowledged ballots are missing from it. \
                 Nothing will be signed: that would publish a second, different history. \
                 Recover by restoring the newest copy of the database (its log must hold at \
                 least {} entries); see \"Restoring\" in docs/OPERATIONS.md.",
                recorded.size,
                hex::encode(recorded.root),
                recorded.size
            )));
        }
        let ours = if size == recorded.size {
            root
        } else {
            root_at(recorded.size)?
        };
        if ours != recorded.root {
            return Err(fork(id, recorded, size));
        }
        Ok(())
    }
}

fn fork(id: ElectionId, recorded: Head, size: u64) -> Error {
    Error::LogForked(format!(
        "election {id}: the database's log ({size} entries) does not contain the head this \
         signing key already signed ({} entries, root {}): it is another history. Nothing will \
         be signed. Restore the database that produced the signed head; see \"Restoring\" in \
         docs/OPERATIONS.md.",
        recorded.size,
        hex::encode(recorded.root)
    ))
}

fn io_error(path: &Path, e: &std::io::Error) -> Error {
    Error::Internal(format!("signed-head record {}: {e}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id() -> ElectionId {
        ElectionId::parse("0192c7a0-5b1e-4c3d-9e8f-0a1b2c3d4e5f").unwrap()
    }

    #[test]
    fn records_only_move_forward_and_a_same_size_fork_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let store = HeadStore::open(&dir.path().join("k.heads")).unwrap();
        assert_eq!(store.recorded(id()).unwrap(), None);
        let h5 = Head {
            size: 5,
            root: [5; 32],
        };
        store.record(id(), h5).unwrap();
        store
            .record(
                id(),
                Head {
                    size: 3,
                    root: [3; 32],
                },
            )
            .unwrap();
        assert_eq!(store.recorded(id()).unwrap(), Some(h5));
        let err = store
            .record(
                id(),
                Head {
                    size: 5,
                    root: [9; 32],
                },
            )
            .unwrap_err();
        assert!(matches!(err, Error::LogForked(_)), "{err}");
        use std::os::unix::fs::PermissionsExt;
        let mode = fs::metadata(store.file(id())).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }

    #[test]
    fn the_check_accepts_extensions_and_refuses_a_shorter_or_other_history() {
        let dir = tempfile::tempdir().unwrap();
        let store = HeadStore::open(&dir.path().join("k.heads")).unwrap();
        store
            .record(
                id(),
                Head {
                    size: 5,
                    root: [5; 32],
                },
            )
            .unwrap();
        store.check(id(), 5, [5; 32], |_| unreachable!()).unwrap();
        store
            .check(id(), 8, [8; 32], |n| {
                assert_eq!(n, 5);
                Ok([5; 32])
            })
            .unwrap();
        let behind = store
            .check(id(), 4, [4; 32], |_| Ok([0; 32]))
            .unwrap_err()
            .to_string();
        assert!(
            behind.contains("holds only 4") && behind.contains("older"),
            "{behind}"
        );
        assert!(store.check(id(), 5, [6; 32], |_| Ok([0; 32])).is_err());
        assert!(store.check(id(), 9, [9; 32], |_| Ok([1; 32])).is_err());
    }
}
