//! Lock metadata: who is taking the lock, and whether a held lock is stale
//! (its process is gone from this host).

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
    }
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

/// The holder ran on this host and its process is gone.
pub fn is_stale(l: &LockInfo) -> bool {
    l.host == this_host() && !pid_alive(l.pid)
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
}
