//! `local:` resources: files on the machine running the engine (Terraform's
//! `local_file`). Unix only: permissions are octal mode strings.

use std::fs;
use std::io::{self, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use async_trait::async_trait;
use rand::RngCore;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use super::schema::{Schema, Tf};
use super::{parse, Created, Ctx, Provider, ProviderError, ReadResult, TypeSchema};
use crate::model::{Input, Output, Resource, ResourceArgs};
use crate::value;

fn default_file_permission() -> String {
    "0644".into()
}

fn default_directory_permission() -> String {
    "0755".into()
}

/// A file with the given content. The id is the absolute path.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct File {
    /// Relative paths are resolved against the current directory at create.
    pub path: String,
    /// May be secret; drift reports then keep the live content secret too.
    pub content: Input<String>,
    /// Four octal digits, e.g. `"0600"`.
    #[serde(default = "default_file_permission")]
    pub file_permission: String,
    /// Mode of parent directories this resource creates.
    #[serde(default = "default_directory_permission")]
    pub directory_permission: String,
}

impl File {
    pub fn new(path: impl Into<String>, content: impl Into<Input<String>>) -> Self {
        File {
            path: path.into(),
            content: content.into(),
            file_permission: default_file_permission(),
            directory_permission: default_directory_permission(),
        }
    }

    fn check(&self) -> Result<(), ProviderError> {
        if self.path.is_empty() {
            return Err(ProviderError::invalid("path", "\"\"", "must not be empty"));
        }
        if self.path.contains('\0') {
            return Err(ProviderError::invalid(
                "path",
                format!("{:?}", self.path),
                "must not contain NUL",
            ));
        }
        parse_mode("file_permission", &self.file_permission)?;
        parse_mode("directory_permission", &self.directory_permission)?;
        Ok(())
    }

    fn content(&self) -> Result<&str, ProviderError> {
        self.content.known().map(String::as_str).ok_or_else(|| {
            ProviderError::invalid("content", "(unknown)", "must be known at apply time")
        })
    }
}

impl ResourceArgs for File {
    const TYPE: &'static str = "local:index/File";
}

impl Resource<File> {
    /// The absolute path.
    pub fn path(&self) -> Output<String> {
        self.output("path")
    }
    /// Hex SHA-256 of the content.
    pub fn sha256(&self) -> Output<String> {
        self.output("sha256")
    }
}

fn parse_mode(field: &str, s: &str) -> Result<u32, ProviderError> {
    if s.len() != 4 || !s.bytes().all(|b| (b'0'..=b'7').contains(&b)) {
        return Err(ProviderError::invalid(
            field,
            format!("{s:?}"),
            "must be 4 octal digits, e.g. \"0644\"",
        ));
    }
    u32::from_str_radix(s, 8).map_err(|e| ProviderError::invalid(field, s, e.to_string()))
}

fn absolute(path: &str) -> Result<PathBuf, ProviderError> {
    let p = Path::new(path);
    if p.is_absolute() {
        return Ok(p.to_path_buf());
    }
    let cwd = std::env::current_dir().map_err(|e| io_err("current directory", e))?;
    Ok(cwd.join(p))
}

fn io_err(what: impl std::fmt::Display, e: io::Error) -> ProviderError {
    ProviderError::Fatal(format!("{what}: {e}"))
}

fn sha256_hex(data: &[u8]) -> String {
    hex::encode(Sha256::digest(data))
}

fn outputs(abs: &Path, content: &[u8]) -> Value {
    let sha = sha256_hex(content);
    json!({
        "id": abs.to_string_lossy(),
        "path": abs.to_string_lossy(),
        "sha256": sha,
        "content_sha256": sha,
    })
}

/// Creates missing ancestors top-down with `mode` (set explicitly: the umask
/// would otherwise apply).
fn create_dirs(dir: &Path, mode: u32) -> io::Result<()> {
    let missing: Vec<&Path> = dir.ancestors().take_while(|a| !a.exists()).collect();
    for d in missing.into_iter().rev() {
        match fs::create_dir(d) {
            Ok(()) => fs::set_permissions(d, fs::Permissions::from_mode(mode))?,
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// Temp file in the target directory, then rename: readers never see a
/// partial file, and a crash leaves the old content intact.
fn write_atomic(path: &Path, content: &[u8], mode: u32) -> io::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("/"));
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = dir.join(format!(
        ".{name}.morket-{:016x}.tmp",
        rand::thread_rng().next_u64()
    ));
    let res = (|| {
        let mut f = fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&tmp)?;
        f.set_permissions(fs::Permissions::from_mode(mode))?;
        f.write_all(content)?;
        f.sync_all()?;
        fs::rename(&tmp, path)
    })();
    if res.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    res
}

fn write_file(abs: &Path, args: &File) -> Result<Value, ProviderError> {
    let content = args.content()?;
    let fmode = parse_mode("file_permission", &args.file_permission)?;
    let dmode = parse_mode("directory_permission", &args.directory_permission)?;
    if let Some(dir) = abs.parent() {
        create_dirs(dir, dmode).map_err(|e| io_err(dir.display(), e))?;
    }
    write_atomic(abs, content.as_bytes(), fmode).map_err(|e| io_err(abs.display(), e))?;
    Ok(outputs(abs, content.as_bytes()))
}

pub struct FileProvider;

#[async_trait]
impl Provider for FileProvider {
    fn type_name(&self) -> &'static str {
        File::TYPE
    }

    fn schema(&self) -> Option<TypeSchema> {
        Some(TypeSchema::of::<File>(
            false,
            Schema {
                terraform: &[Tf {
                    resource: "local_file",
                    args: &[
                        ("path", "filename"),
                        ("content", "content"),
                        ("file_permission", "file_permission"),
                        ("directory_permission", "directory_permission"),
                    ],
                    // local_file cannot be imported: Terraform writes it anew.
                    import_id: "",
                }],
                ..Schema::NONE
            },
        ))
    }

    fn force_new(&self) -> &'static [&'static str] {
        &["path"]
    }

    fn outputs_changed_by_update(&self) -> &'static [&'static str] {
        &["sha256", "content_sha256"]
    }

    fn validate(&self, inputs: &Value) -> Result<(), ProviderError> {
        parse::<File>(inputs)?.check()
    }

    async fn create(&self, _ctx: &Ctx, inputs: &Value) -> Result<Created, ProviderError> {
        let args: File = parse(inputs)?;
        args.check()?;
        let abs = absolute(&args.path)?;
        let outputs = write_file(&abs, &args)?;
        Ok(Created {
            id: abs.to_string_lossy().into_owned(),
            outputs,
        })
    }

    async fn read(
        &self,
        _ctx: &Ctx,
        id: &str,
        inputs: &Value,
        _outputs: &Value,
    ) -> Result<Option<ReadResult>, ProviderError> {
        let args: File = parse(inputs)?;
        let abs = PathBuf::from(id);
        let data = match fs::read(&abs) {
            Ok(d) => d,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(io_err(abs.display(), e)),
        };
        let mode = fs::metadata(&abs)
            .map_err(|e| io_err(abs.display(), e))?
            .permissions()
            .mode();
        let live = Value::String(String::from_utf8_lossy(&data).into_owned());
        let live_inputs = json!({
            "path": args.path,
            "content": if args.content.is_secret() { value::secret(live) } else { live },
            "file_permission": format!("{:04o}", mode & 0o7777),
            "directory_permission": args.directory_permission,
        });
        Ok(Some(ReadResult {
            inputs: live_inputs,
            outputs: outputs(&abs, &data),
        }))
    }

    async fn update(
        &self,
        _ctx: &Ctx,
        id: &str,
        _old_inputs: &Value,
        new_inputs: &Value,
        _old_outputs: &Value,
    ) -> Result<Value, ProviderError> {
        let args: File = parse(new_inputs)?;
        args.check()?;
        write_file(Path::new(id), &args)
    }

    async fn delete(
        &self,
        _ctx: &Ctx,
        id: &str,
        _inputs: &Value,
        _outputs: &Value,
    ) -> Result<(), ProviderError> {
        match fs::remove_file(id) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(io_err(id, e)),
        }
    }

    /// Adopts the file only if it already holds exactly the intended content,
    /// so an unrelated file at the same path is never claimed.
    async fn find_by_urn(&self, _ctx: &Ctx, inputs: &Value) -> Result<Vec<Created>, ProviderError> {
        let args: File = parse(inputs)?;
        let Some(content) = args.content.known() else {
            return Ok(Vec::new());
        };
        let abs = absolute(&args.path)?;
        let data = match fs::read(&abs) {
            Ok(d) => d,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(io_err(abs.display(), e)),
        };
        if sha256_hex(&data) != sha256_hex(content.as_bytes()) {
            return Ok(Vec::new());
        }
        Ok(vec![Created {
            id: abs.to_string_lossy().into_owned(),
            outputs: outputs(&abs, &data),
        }])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Urn;

    fn ctx() -> Ctx {
        Ctx::new("dev", Urn::new("dev", "", File::TYPE, "f"))
    }

    fn mode_of(p: &Path) -> u32 {
        fs::metadata(p).unwrap().permissions().mode() & 0o7777
    }

    #[test]
    fn validation_names_field_and_value() {
        let p = FileProvider;
        let cases = [
            (json!({"path": "", "content": "x"}), "path", "\"\""),
            (
                json!({"path": "a", "content": "x", "file_permission": "644"}),
                "file_permission",
                "\"644\"",
            ),
            (
                json!({"path": "a", "content": "x", "file_permission": "0999"}),
                "file_permission",
                "\"0999\"",
            ),
            (
                json!({"path": "a", "content": "x", "directory_permission": "rwx"}),
                "directory_permission",
                "\"rwx\"",
            ),
        ];
        for (inputs, f, v) in cases {
            match p.validate(&inputs).unwrap_err() {
                ProviderError::InvalidInput { field, value, .. } => {
                    assert_eq!((field.as_str(), value.as_str()), (f, v), "{inputs}");
                }
                other => panic!("{other:?}"),
            }
        }
        let e = p.validate(&json!({"path": "a"})).unwrap_err();
        assert!(e.to_string().contains("content"), "{e}");
        // Preview: content not known yet.
        p.validate(&json!({"path": "a", "content": value::unknown()}))
            .unwrap();
    }

    #[tokio::test]
    async fn create_read_update_delete_with_modes() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/deeper/out.txt");
        let p = FileProvider;
        let mut args = File::new(path.to_str().unwrap(), "hello");
        args.file_permission = "0600".into();
        args.directory_permission = "0750".into();
        let inputs = serde_json::to_value(&args).unwrap();
        p.validate(&inputs).unwrap();

        let c = p.create(&ctx(), &inputs).await.unwrap();
        assert_eq!(c.id, path.to_str().unwrap());
        assert_eq!(fs::read_to_string(&path).unwrap(), "hello");
        assert_eq!(mode_of(&path), 0o600);
        assert_eq!(mode_of(&dir.path().join("sub")), 0o750);
        assert_eq!(mode_of(&dir.path().join("sub/deeper")), 0o750);
        assert_eq!(c.outputs["sha256"], json!(sha256_hex(b"hello")));
        assert_eq!(c.outputs["content_sha256"], c.outputs["sha256"]);
        assert_eq!(c.outputs["path"], json!(c.id));

        // No drift right after create.
        let r = p
            .read(&ctx(), &c.id, &inputs, &c.outputs)
            .await
            .unwrap()
            .unwrap();
        assert!(
            p.diff(&inputs, &r.inputs).is_empty(),
            "{:?}",
            p.diff(&inputs, &r.inputs)
        );
        assert_eq!(r.outputs, c.outputs);

        // Update rewrites content and mode in place.
        let mut new_args = args.clone();
        new_args.content = "world".into();
        new_args.file_permission = "0640".into();
        let new_inputs = serde_json::to_value(&new_args).unwrap();
        let d = p.diff(&inputs, &new_inputs);
        assert_eq!(d.changed, vec!["content", "file_permission"]);
        assert!(d.replace.is_empty());
        let o = p
            .update(&ctx(), &c.id, &inputs, &new_inputs, &c.outputs)
            .await
            .unwrap();
        assert_eq!(fs::read_to_string(&path).unwrap(), "world");
        assert_eq!(mode_of(&path), 0o640);
        assert_eq!(o["sha256"], json!(sha256_hex(b"world")));
        // Atomic write leaves no temp files behind.
        let names: Vec<_> = fs::read_dir(path.parent().unwrap())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, vec![std::ffi::OsString::from("out.txt")]);

        // Changing the path replaces.
        let moved = json!({"path": dir.path().join("other").to_str().unwrap(), "content": "world"});
        assert_eq!(p.diff(&new_inputs, &moved).replace, vec!["path"]);

        p.delete(&ctx(), &c.id, &new_inputs, &o).await.unwrap();
        assert!(!path.exists());
        assert_eq!(p.read(&ctx(), &c.id, &new_inputs, &o).await.unwrap(), None);
        // Deleting again is success.
        p.delete(&ctx(), &c.id, &new_inputs, &o).await.unwrap();
    }

    #[tokio::test]
    async fn drift_is_detected_and_secret_content_stays_secret() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("secret.env");
        let p = FileProvider;
        let args = File::new(path.to_str().unwrap(), Input::secret("TOKEN=abc"));
        let inputs = serde_json::to_value(&args).unwrap();
        assert_eq!(inputs["content"], value::secret(json!("TOKEN=abc")));
        let c = p.create(&ctx(), &inputs).await.unwrap();
        assert_eq!(fs::read_to_string(&path).unwrap(), "TOKEN=abc");

        // Out-of-band edits: content and mode.
        fs::write(&path, "TOKEN=changed").unwrap();
        fs::set_permissions(&path, fs::Permissions::from_mode(0o666)).unwrap();
        let r = p
            .read(&ctx(), &c.id, &inputs, &c.outputs)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(r.inputs["content"], value::secret(json!("TOKEN=changed")));
        assert_eq!(r.inputs["file_permission"], json!("0666"));
        let d = p.diff(&r.inputs, &inputs);
        assert_eq!(d.changed, vec!["content", "file_permission"]);
        assert_eq!(r.outputs["sha256"], json!(sha256_hex(b"TOKEN=changed")));
        assert!(!value::redact(&r.inputs).to_string().contains("changed"));
    }

    #[tokio::test]
    async fn relative_paths_resolve_against_cwd() {
        let p = FileProvider;
        let tmp = tempfile::Builder::new()
            .prefix(".morket-test")
            .tempdir_in(".")
            .unwrap();
        let rel = format!(
            "{}/x.txt",
            tmp.path().file_name().unwrap().to_str().unwrap()
        );
        let inputs = serde_json::to_value(File::new(rel.clone(), "x")).unwrap();
        let c = p.create(&ctx(), &inputs).await.unwrap();
        let expected = std::env::current_dir().unwrap().join(&rel);
        assert_eq!(Path::new(&c.id), expected);
        assert!(expected.exists());
        p.delete(&ctx(), &c.id, &inputs, &c.outputs).await.unwrap();
        assert!(!expected.exists());
    }

    #[tokio::test]
    async fn find_by_urn_adopts_only_matching_content() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.txt");
        let p = FileProvider;
        let inputs = serde_json::to_value(File::new(path.to_str().unwrap(), "same")).unwrap();
        assert!(
            p.find_by_urn(&ctx(), &inputs).await.unwrap().is_empty(),
            "missing file"
        );
        fs::write(&path, "different").unwrap();
        assert!(
            p.find_by_urn(&ctx(), &inputs).await.unwrap().is_empty(),
            "other content"
        );
        fs::write(&path, "same").unwrap();
        let found = p
            .find_by_urn(&ctx(), &inputs)
            .await
            .unwrap()
            .pop()
            .expect("adopted");
        assert_eq!(found.id, path.to_str().unwrap());
        assert_eq!(found.outputs["sha256"], json!(sha256_hex(b"same")));
    }
}
