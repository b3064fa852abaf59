//! Lock metadata: who is taking the lock, and whether a held lock is stale.
//!
//! A holder is identified by host name, boot id, pid namespace, pid and the
//! process's start time. A pid only means something on the same boot and in
//! the same pid namespace: a container that shares the host's name (or a
//! cloned VM) would otherwise see a live holder as dead. A lock is stale only
//! when all of these match and the process is gone (or the pid now belongs to
//! a process started later); anything else is reported, never released.

use rand::RngCore;

use super::LockInfo;

/// Describes this process taking the lock for `operation`.
pub fn new_lock_info(operation: &str) -> LockInfo {
    let mut id = [0u8; 8];
    rand::thread_rng().fill_bytes(&mut id);
    let host = this_host();
    let user = ["USER", "LOGNAME"]
        .iter()
        .find_map(|v| std::env::var(v).ok().filter(|u| !u.is_empty()))
        .or_else(login_name)
        .unwrap_or_else(|| "unknown".into());
    LockInfo {
        id: hex::encode(id),
        who: format!("{user}@{host}"),
        host,
        pid: std::process::id(),
        operation: operation.to_string(),
        started_at: super::now_rfc3339(),
        version: env!("CARGO_PKG_VERSION").to_string(),
        boot_id: boot_id(),
        pid_ns: pid_namespace(),
        start_time: process_start_time(std::process::id()).unwrap_or(0),
    }
}

/// This machine's boot id (a new random id at every boot).
pub fn boot_id() -> String {
    std::fs::read_to_string("/proc/sys/kernel/random/boot_id")
        .map(|s| s.trim().to_string())
        .unwrap_or_default()
}

/// This process's pid namespace, as `pid:[inode]`.
pub fn pid_namespace() -> String {
    std::fs::read_link("/proc/self/ns/pid")
        .map(|p| p.display().to_string())
        .unwrap_or_default()
}

/// Field 22 of `/proc/PID/stat`: when the process started, in clock ticks
/// after boot. `None` when there is no such process.
pub fn process_start_time(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // `pid (comm) S ...`: comm may hold spaces and parens, so split at the last ')'.
    let rest = &stat[stat.rfind(')')? + 1..];
    // After comm: state is field 3, starttime is field 22.
    rest.split_whitespace().nth(19)?.parse().ok()
}

/// What can be told of a lock holder from this process.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Liveness {
    Alive,
    /// Same host, boot and pid namespace, and the process is gone.
    Dead,
    /// Cannot be told from here (the reason).
    Unknown(String),
}

/// Judges the holder of `l` against this process's host, boot and namespace.
pub fn liveness(l: &LockInfo) -> Liveness {
    let me = new_lock_info("");
    if l.host != me.host {
        return Liveness::Unknown(format!("it runs on another host ({})", l.host));
    }
    if l.boot_id.is_empty() || l.pid_ns.is_empty() {
        return Liveness::Unknown(
            "it was taken by an older morket-stack that did not record its boot and pid namespace"
                .into(),
        );
    }
    if l.boot_id != me.boot_id {
        return Liveness::Unknown(
            "it was taken on another boot or machine of the same host name".into(),
        );
    }
    if l.pid_ns != me.pid_ns {
        return Liveness::Unknown(format!(
            "it was taken in another pid namespace ({}, e.g. a container)",
            l.pid_ns
        ));
    }
    if !pid_alive(l.pid) {
        return Liveness::Dead;
    }
    match process_start_time(l.pid) {
        // The pid was reused by a process that started after the holder.
        Some(t) if l.start_time != 0 && t != l.start_time => Liveness::Dead,
        _ => Liveness::Alive,
    }
}

/// How long ago `started_at` (RFC 3339) was, rounded to seconds.
pub fn age(started_at: &str) -> Option<String> {
    let t = humantime::parse_rfc3339(started_at).ok()?;
    let d = std::time::SystemTime::now().duration_since(t).ok()?;
    Some(humantime::format_duration(std::time::Duration::from_secs(d.as_secs())).to_string())
}

/// The account name of this process's uid (cron and CI often set no $USER).
fn login_name() -> Option<String> {
    // SAFETY: getpwuid returns a pointer into static storage or NULL; the name
    // is copied out before any other call could overwrite it.
    unsafe {
        let pw = libc::getpwuid(libc::getuid());
        if pw.is_null() || (*pw).pw_name.is_null() {
            return None;
        }
        Some(
            std::ffi::CStr::from_ptr((*pw).pw_name)
                .to_string_lossy()
                .into_owned(),
        )
    }
}

pub fn this_host() -> String {
    let mut buf = [0u8; 256];
    // SAFETY: the buffer is valid for its length; gethostname NUL-terminates
    // unless truncated, and we stop at the first NUL or the end either way.
    let rc = unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) };
    if rc != 0 {
        return "unknown".into();
    }
    let end = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
    String::from_utf8_lossy(&buf[..end]).into_owned()
}

/// Whether `pid` names a live process on this host. A zombie (exited, not
/// yet reaped) counts as dead: it will never release a lock.
pub fn pid_alive(pid: u32) -> bool {
    // 0 and values beyond pid_t would address process groups in kill(2).
    let Ok(p) = libc::pid_t::try_from(pid) else {
        return false;
    };
    if p <= 0 {
        return false;
    }
    // SAFETY: signal 0 only checks for existence and permission.
    let alive = unsafe { libc::kill(p, 0) } == 0
        || std::io::Error::last_os_error().raw_os_error() == Some(libc::EPERM);
    alive && !is_zombie(pid)
}

fn is_zombie(pid: u32) -> bool {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return false;
    };
    // `pid (comm) S ...`: comm may hold spaces and parens, so split at the last ')'.
    stat.rfind(')')
        .and_then(|i| stat[i + 1..].trim_start().chars().next())
        .is_some_and(|s| s == 'Z' || s == 'X')
}

/// The holder is certainly dead: safe to release without asking.
pub fn is_stale(l: &LockInfo) -> bool {
    liveness(l) == Liveness::Dead
}

/// The [`super::LockHeld`] error for a lock held by `holder`.
pub fn held(holder: LockInfo, stack: &str) -> super::StateError {
    let (stale, unknown) = match liveness(&holder) {
        Liveness::Dead => (true, None),
        Liveness::Alive => (false, None),
        Liveness::Unknown(why) => (false, Some(why)),
    };
    super::StateError::Locked(Box::new(super::LockHeld {
        holder,
        stale,
        unknown,
        stack: stack.to_string(),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lock_info_describes_this_process() {
        let l = new_lock_info("up");
        assert_eq!(l.id.len(), 16);
        assert!(l.id.chars().all(|c| c.is_ascii_hexdigit()));
        assert_eq!(l.pid, std::process::id());
        assert_eq!(l.host, this_host());
        assert!(l.who.ends_with(&format!("@{}", l.host)));
        assert_eq!(l.operation, "up");
        assert!(!is_stale(&l));
        assert_ne!(new_lock_info("up").id, l.id);
    }

    #[test]
    fn dead_and_zombie_pids_are_not_alive() {
        assert!(pid_alive(std::process::id()));
        assert!(!pid_alive(0));
        assert!(!pid_alive(u32::MAX));
        let mut child = std::process::Command::new("sleep")
            .arg("30")
            .spawn()
            .unwrap();
        let pid = child.id();
        assert!(pid_alive(pid));
        child.kill().unwrap();
        // Killed but not reaped: a zombie.
        for _ in 0..200 {
            if !pid_alive(pid) {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        assert!(!pid_alive(pid), "zombie counted as alive");
        child.wait().unwrap();
        assert!(!pid_alive(pid));
        let other_host = LockInfo {
            host: format!("{}-elsewhere", this_host()),
            pid,
            ..new_lock_info("up")
        };
        assert!(!is_stale(&other_host), "cannot judge another host's pids");
    }

    /// A holder in another pid namespace (a container sharing the host name)
    /// whose pid is dead here is not stale: its pid means another process.
    #[test]
    fn a_holder_in_another_pid_namespace_or_boot_is_never_stale() {
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let dead = child.id();
        child.wait().unwrap();
        assert!(!pid_alive(dead));
        let here = LockInfo {
            pid: dead,
            ..new_lock_info("up")
        };
        assert!(!here.boot_id.is_empty() && here.pid_ns.starts_with("pid:["));
        assert_eq!(liveness(&here), Liveness::Dead);
        assert!(is_stale(&here));
        let other_ns = LockInfo {
            pid_ns: "pid:[4026599999]".into(),
            ..here.clone()
        };
        assert!(
            matches!(liveness(&other_ns), Liveness::Unknown(ref w) if w.contains("pid namespace")),
            "{:?}",
            liveness(&other_ns)
        );
        assert!(!is_stale(&other_ns));
        let other_boot = LockInfo {
            boot_id: "00000000-0000-0000-0000-000000000000".into(),
            ..here.clone()
        };
        assert!(!is_stale(&other_boot));
        let old = LockInfo {
            boot_id: String::new(),
            pid_ns: String::new(),
            ..here.clone()
        };
        assert!(
            !is_stale(&old),
            "an old lock without identity is not judged"
        );
        // A live pid whose start time differs is a reused pid: the holder is gone.
        let reused = LockInfo {
            pid: std::process::id(),
            start_time: 1,
            ..here.clone()
        };
        assert_eq!(liveness(&reused), Liveness::Dead);
        let me = new_lock_info("up");
        assert_eq!(liveness(&me), Liveness::Alive);
        let text = held(other_ns, "staging").to_string();
        assert!(
            text.contains("another pid namespace") && text.contains("lock release staging "),
            "{text}"
        );
    }
}
