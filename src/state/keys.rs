//! Where the secrets key comes from: `MORKET_STACK_SECRET_KEY`, else a key
//! derived from `MORKET_STACK_PASSPHRASE` (salt kept in the state's meta),
//! else a key file `<state_dir>/<stack>.key` created on first use.

use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use super::{Result, SqliteStore, StateError, StateStore};
use crate::secrets::{parse_key, random_key, random_salt, Crypter, SecretsError};

pub const SECRET_KEY_ENV: &str = "MORKET_STACK_SECRET_KEY";
pub const PASSPHRASE_ENV: &str = "MORKET_STACK_PASSPHRASE";
/// Meta key holding the hex PBKDF2 salt for passphrase keys.
pub const PASSPHRASE_SALT_META: &str = "passphrase_salt";

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeySource {
    Env,
    Passphrase,
    /// `created`: the file was made just now (the CLI tells the user to back it up).
    KeyFile {
        path: PathBuf,
        created: bool,
    },
}

pub fn state_path(state_dir: &Path, stack: &str) -> PathBuf {
    state_dir.join(format!("{stack}.db"))
}

pub fn key_path(state_dir: &Path, stack: &str) -> PathBuf {
    state_dir.join(format!("{stack}.key"))
}

/// Opens `<state_dir>/<stack>.db` and installs its secrets key.
pub fn open_sqlite(state_dir: &Path, stack: &str) -> Result<(SqliteStore, KeySource)> {
    let mut store = SqliteStore::open(&state_path(state_dir, stack), stack)?;
    let source = configure_secrets(&mut store, state_dir, stack)?;
    Ok((store, source))
}

/// Opens `<state_dir>/<stack>.db` read only (drift) with its secrets key;
/// creates nothing: no state file, no key file, no salt.
pub fn open_sqlite_read_only(state_dir: &Path, stack: &str) -> Result<SqliteStore> {
    let mut store = SqliteStore::open_read_only(&state_path(state_dir, stack), stack)?;
    configure_secrets_read_only(&mut store, state_dir, stack)?;
    Ok(store)
}

/// Installs the key on a store opened read only, when there is one to find;
/// nothing is created (no key file, no salt).
pub fn configure_secrets_read_only(
    store: &mut dyn StateStore,
    state_dir: &Path,
    stack: &str,
) -> Result<()> {
    let var = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
    let sealed = store.meta("key_check")?.is_some();
    if var(SECRET_KEY_ENV).is_some()
        || (var(PASSPHRASE_ENV).is_some() && store.meta(PASSPHRASE_SALT_META)?.is_some())
        || key_path(state_dir, stack).exists()
        || sealed
    {
        // Every source here only reads: the key file exists or, when it is
        // missing, the state's key check makes it an error, never a new key.
        configure_secrets(store, state_dir, stack)?;
    }
    Ok(())
}

/// Resolves the key from the process environment and installs it on `store`.
pub fn configure_secrets(
    store: &mut dyn StateStore,
    state_dir: &Path,
    stack: &str,
) -> Result<KeySource> {
    configure_secrets_with(store, state_dir, stack, &|k| std::env::var(k).ok())
}

/// As [`configure_secrets`], reading variables through `env` (tests pass a map).
pub fn configure_secrets_with(
    store: &mut dyn StateStore,
    state_dir: &Path,
    stack: &str,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<KeySource> {
    let var = |k: &str| env(k).filter(|v| !v.is_empty());
    let (crypter, source) = if let Some(k) = var(SECRET_KEY_ENV) {
        // The message names the variable but must not echo the key.
        let key = parse_key(&k).map_err(|e| {
            let why = match e {
                SecretsError::BadKey(why) => why,
                other => other.to_string(),
            };
            SecretsError::BadKey(format!("{SECRET_KEY_ENV}: {why}"))
        })?;
        (Crypter::new(&key), KeySource::Env)
    } else if let Some(pass) = var(PASSPHRASE_ENV) {
        // Atomic: two processes opening a fresh state must agree on one salt,
        // or the loser's key can never open what the winner sealed.
        let hex_salt = store.init_meta(PASSPHRASE_SALT_META, &hex::encode(random_salt()))?;
        let salt = hex::decode(hex_salt.trim()).map_err(|e| {
            StateError::Corrupt(format!("meta {PASSPHRASE_SALT_META} is not hex: {e}"))
        })?;
        (
            Crypter::from_passphrase(&pass, &salt),
            KeySource::Passphrase,
        )
    } else {
        let path = key_path(state_dir, stack);
        let (key, created) = read_or_create_key_file(store, &path)?;
        (Crypter::new(&key), KeySource::KeyFile { path, created })
    };
    store.set_crypter(crypter)?;
    Ok(source)
}

fn io_err(path: &Path, source: std::io::Error) -> StateError {
    StateError::Io {
        path: path.display().to_string(),
        source,
    }
}

fn read_key_file(path: &Path) -> Result<[u8; 32]> {
    let text = std::fs::read_to_string(path).map_err(|e| io_err(path, e))?;
    parse_key(&text).map_err(|e| {
        let why = match e {
            SecretsError::BadKey(why) => why,
            other => other.to_string(),
        };
        SecretsError::BadKey(format!("{}: {why}", path.display())).into()
    })
}

fn read_or_create_key_file(store: &dyn StateStore, path: &Path) -> Result<([u8; 32], bool)> {
    if path.exists() {
        return Ok((read_key_file(path)?, false));
    }
    // A fresh key could never open secrets sealed under the old one.
    if store.meta("key_check")?.is_some() {
        let hint = if store.meta(PASSPHRASE_SALT_META)?.is_some() {
            format!("this state uses a passphrase: set {PASSPHRASE_ENV}")
        } else {
            format!("restore the key file or set {SECRET_KEY_ENV}")
        };
        return Err(io_err(
            path,
            std::io::Error::new(
                std::io::ErrorKind::NotFound,
                format!("key file missing but the state already has sealed secrets; {hint}"),
            ),
        ));
    }
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| io_err(dir, e))?;
    }
    let key = random_key();
    let file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path);
    match file {
        Ok(mut f) => {
            writeln!(f, "{}", hex::encode(key))
                .and_then(|()| f.sync_all())
                .map_err(|e| io_err(path, e))?;
            Ok((key, true))
        }
        // Another process created it first: use theirs.
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            Ok((read_key_file(path)?, false))
        }
        Err(e) => Err(io_err(path, e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::MemoryStore;
    use std::collections::HashMap;
    use std::os::unix::fs::PermissionsExt;

    fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let m: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |k| m.get(k).cloned()
    }

    #[test]
    fn key_file_is_created_private_and_reused() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = MemoryStore::new("dev");
        let src = configure_secrets_with(&mut s, dir.path(), "dev", &env(&[])).unwrap();
        let path = dir.path().join("dev.key");
        assert_eq!(
            src,
            KeySource::KeyFile {
                path: path.clone(),
                created: true
            }
        );
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        let mut again = s.clone();
        let src = configure_secrets_with(&mut again, dir.path(), "dev", &env(&[])).unwrap();
        assert_eq!(
            src,
            KeySource::KeyFile {
                path,
                created: false
            }
        );
    }

    #[test]
    fn missing_key_file_for_sealed_state_is_not_recreated() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = MemoryStore::new("dev");
        configure_secrets_with(&mut s, dir.path(), "dev", &env(&[])).unwrap();
        std::fs::remove_file(dir.path().join("dev.key")).unwrap();
        let err = configure_secrets_with(&mut s.clone(), dir.path(), "dev", &env(&[]))
            .unwrap_err()
            .to_string();
        assert!(err.contains(SECRET_KEY_ENV), "{err}");
        assert!(!dir.path().join("dev.key").exists());
    }

    #[test]
    fn env_key_wins_and_bad_key_is_not_echoed() {
        let dir = tempfile::tempdir().unwrap();
        let key = "ab".repeat(32);
        let mut s = MemoryStore::new("dev");
        let src = configure_secrets_with(
            &mut s,
            dir.path(),
            "dev",
            &env(&[(SECRET_KEY_ENV, &key), (PASSPHRASE_ENV, "pw")]),
        )
        .unwrap();
        assert_eq!(src, KeySource::Env);
        assert!(!dir.path().join("dev.key").exists());

        let bad = "not-a-key-SENTINEL";
        let err = configure_secrets_with(
            &mut MemoryStore::new("dev"),
            dir.path(),
            "dev",
            &env(&[(SECRET_KEY_ENV, bad)]),
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains(SECRET_KEY_ENV), "{err}");
        assert!(!err.contains("SENTINEL"), "{err}");

        let other = "cd".repeat(32);
        let err = configure_secrets_with(
            &mut s.clone(),
            dir.path(),
            "dev",
            &env(&[(SECRET_KEY_ENV, &other)]),
        )
        .unwrap_err();
        assert!(
            matches!(err, StateError::Secrets(SecretsError::WrongKey)),
            "{err}"
        );
    }

    #[test]
    fn passphrase_salt_is_stored_and_reused() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = MemoryStore::new("dev");
        let e = env(&[(PASSPHRASE_ENV, "correct horse")]);
        assert_eq!(
            configure_secrets_with(&mut s, dir.path(), "dev", &e).unwrap(),
            KeySource::Passphrase
        );
        let salt = s.meta(PASSPHRASE_SALT_META).unwrap().unwrap();
        assert_eq!(hex::decode(&salt).unwrap().len(), 16);
        let mut s2 = s.clone();
        configure_secrets_with(&mut s2, dir.path(), "dev", &e).unwrap();
        assert_eq!(s2.meta(PASSPHRASE_SALT_META).unwrap().unwrap(), salt);
        let wrong = env(&[(PASSPHRASE_ENV, "wrong")]);
        assert!(configure_secrets_with(&mut s.clone(), dir.path(), "dev", &wrong).is_err());
        let err = configure_secrets_with(&mut s.clone(), dir.path(), "dev", &env(&[]))
            .unwrap_err()
            .to_string();
        assert!(err.contains(PASSPHRASE_ENV), "{err}");
    }

    #[test]
    fn open_sqlite_creates_db_and_key() {
        let dir = tempfile::tempdir().unwrap();
        let sub = dir.path().join("state");
        let (store, src) = open_sqlite(&sub, "prod").unwrap();
        assert_eq!(store.stack(), "prod");
        assert!(state_path(&sub, "prod").exists());
        assert!(matches!(src, KeySource::KeyFile { created: true, .. }));
        drop(store);
        let (_, src) = open_sqlite(&sub, "prod").unwrap();
        assert!(matches!(src, KeySource::KeyFile { created: false, .. }));
    }
}
