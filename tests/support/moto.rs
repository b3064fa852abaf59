//! moto in server mode as the AWS API peer. `.ci/run` starts one and exports
//! `MORKET_TEST_MOTO_URL`; without it the first test starts
//! `scripts/moto_server.py` with the venv's Python on a free loopback port, and the child
//! dies with the test process. Tests that use it run one at a time and reset it.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Mutex, MutexGuard, OnceLock};
use std::time::{Duration, Instant};

use aws_config::{BehaviorVersion, Region, SdkConfig};
use morket_stack::provider::aws::{Aws, AwsSettings};

struct Server {
    url: String,
    _child: Option<Child>,
}

static SERVER: OnceLock<Server> = OnceLock::new();
static SERIAL: Mutex<()> = Mutex::new(());

/// `scripts/moto_server.py` (moto_server plus the ElastiCache calls moto
/// lacks) under the venv's Python, or `MOTO_PYTHON`.
fn moto_command() -> Option<Command> {
    let python = std::env::var_os("MOTO_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| dirs_home().join(".cache/morket-stack/venv/bin/python"));
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("scripts/moto_server.py");
    python.exists().then(|| {
        let mut c = Command::new(python);
        c.arg(script);
        c
    })
}

fn dirs_home() -> PathBuf {
    PathBuf::from(std::env::var_os("HOME").unwrap_or_else(|| "/root".into()))
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}

/// One HTTP request on loopback; returns the status code.
fn http(url: &str, method: &str, path: &str) -> std::io::Result<u16> {
    http_body(url, method, path, "").map(|(status, _)| status)
}

/// One HTTP request on loopback with a JSON `body` (none if empty); returns
/// the status code and the response body. The server closes the connection
/// after each answer, and the fault endpoint sends a Content-Length (no
/// chunking), so the body is what follows the head.
fn http_body(url: &str, method: &str, path: &str, body: &str) -> std::io::Result<(u16, String)> {
    let host = url.trim_start_matches("http://");
    let mut s = TcpStream::connect(host)?;
    s.set_read_timeout(Some(Duration::from_secs(30)))?;
    let content_type = if body.is_empty() {
        ""
    } else {
        "Content-Type: application/json\r\n"
    };
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: {host}\r\n{content_type}Content-Length: {len}\r\nConnection: close\r\n\r\n{body}",
        len = body.len()
    )?;
    let mut buf = Vec::new();
    s.read_to_end(&mut buf)?;
    let text = String::from_utf8_lossy(&buf).into_owned();
    let (head, answer) = text.split_once("\r\n\r\n").unwrap_or((text.as_str(), ""));
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .ok_or_else(|| {
            let start: String = head.chars().take(64).collect();
            std::io::Error::other(format!("bad HTTP response {start:?}"))
        })?;
    Ok((status, answer.to_string()))
}

fn start() -> Server {
    if let Ok(url) = std::env::var("MORKET_TEST_MOTO_URL") {
        return Server { url, _child: None };
    }
    let mut cmd = moto_command().unwrap_or_else(|| {
        panic!(
            "moto not found. Run `scripts/test`, or install it: \
             python3 -m venv ~/.cache/morket-stack/venv && ~/.cache/morket-stack/venv/bin/pip install 'moto[server]==5.2.5'"
        )
    });
    let port = free_port();
    cmd.args(["-H", "127.0.0.1", "-p", &port.to_string()])
        .env("MOTO_IAM_LOAD_MANAGED_POLICIES", "true")
        // Certificates read ISSUED 2 s after the request (default 60 s).
        .env("MOTO_ACM_VALIDATION_WAIT", "2")
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    // The server must not outlive the test process.
    unsafe {
        use std::os::unix::process::CommandExt;
        cmd.pre_exec(|| {
            libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
            Ok(())
        });
    }
    // PDEATHSIG fires when the spawning *thread* ends, so spawn from a thread
    // that lives as long as the process.
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(cmd.spawn());
        loop {
            std::thread::park();
        }
    });
    let child = rx
        .recv()
        .expect("spawner thread")
        .unwrap_or_else(|e| panic!("starting moto: {e}"));
    let url = format!("http://127.0.0.1:{port}");
    let deadline = Instant::now() + Duration::from_secs(60);
    while http(&url, "GET", "/moto-api/").is_err() {
        assert!(
            Instant::now() < deadline,
            "moto_server did not start on {url}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    Server {
        url,
        _child: Some(child),
    }
}

/// One AWS request as the peer received it (`GET /morket-api/requests`), in
/// arrival order: `service` is the SigV4 signing name, `operation` the
/// operation name (X-Amz-Target, Action, the CBOR path) or, for REST calls,
/// `"METHOD path"`. `mutating` is conservative: false only for Describe*,
/// List*, Get*, Head*, BatchGet*, Search*, Lookup* operations, REST GET and
/// HEAD, and the few read-only REST POSTs `scripts/moto_server.py` lists.
#[derive(Debug, Clone, serde::Deserialize)]
pub struct PeerRequest {
    pub service: String,
    pub operation: String,
    pub method: String,
    pub path: String,
    pub mutating: bool,
}

/// Exclusive use of a freshly reset moto for one test.
pub struct Moto {
    pub url: String,
    _guard: MutexGuard<'static, ()>,
}

pub fn moto() -> Moto {
    let guard = SERIAL.lock().unwrap_or_else(|p| p.into_inner());
    let s = SERVER.get_or_init(start);
    // Retried: the server can drop a connection while it is busy resetting.
    let status = (0..5)
        .find_map(|_| {
            http(&s.url, "POST", "/moto-api/reset").ok().or_else(|| {
                std::thread::sleep(Duration::from_millis(200));
                None
            })
        })
        .expect("moto reset");
    assert_eq!(status, 200, "moto reset");
    Moto {
        url: s.url.clone(),
        _guard: guard,
    }
}

impl Moto {
    /// SDK config pointed at moto with dummy credentials.
    pub async fn sdk_config(&self) -> SdkConfig {
        aws_config::defaults(BehaviorVersion::latest())
            .endpoint_url(&self.url)
            .region(Region::new("us-east-1"))
            .credentials_provider(aws_credential_types::Credentials::new(
                "test", "test", None, None, "moto",
            ))
            .load()
            .await
    }

    pub async fn aws(&self, settings: AwsSettings) -> Aws {
        Aws::with_config(settings, self.sdk_config().await)
    }

    /// Makes the next `times` calls of `action` (the AWS operation name, e.g.
    /// `ModifyVpcAttribute`) fail with `code` and HTTP `status` (400..=599)
    /// without reaching moto; later calls behave normally. Query (EC2, IAM,
    /// RDS, ElastiCache) and JSON (ECS, Logs) services only. The SDK retries
    /// 5xx and throttling codes, so those faults need `times` beyond the
    /// retries to surface. The next test's reset clears them; see
    /// `scripts/moto_server.py` for `after` and the other options.
    pub fn fail(&self, action: &str, code: &str, status: u16, times: u32) {
        let fault = serde_json::json!({
            "action": action,
            "code": code,
            "status": status,
            "times": times,
        });
        let (got, answer) = http_body(&self.url, "POST", "/morket-api/faults", &fault.to_string())
            .unwrap_or_else(|e| panic!("arming fault {fault}: {e}"));
        assert_eq!(got, 200, "arming fault {fault}: {answer}");
    }

    /// The armed faults with, for each, the matching requests it has `seen`
    /// and how many it `fired`:
    /// `{"faults": [{"action": "ModifyVpcAttribute", "code": .., "times": 1, "seen": 2, "fired": 1, ..}]}`.
    pub fn faults_fired(&self) -> serde_json::Value {
        let (status, answer) = http_body(&self.url, "GET", "/morket-api/faults", "")
            .unwrap_or_else(|e| panic!("GET /morket-api/faults: {e}"));
        assert_eq!(status, 200, "GET /morket-api/faults: {answer}");
        serde_json::from_str(&answer)
            .unwrap_or_else(|e| panic!("GET /morket-api/faults: {e}: {answer}"))
    }

    /// Every AWS request the peer received since the last reset or
    /// [`Moto::clear_requests`], including those the fault switch or the
    /// AWS-like mode refused (the last 100000 are kept).
    pub fn requests(&self) -> Vec<PeerRequest> {
        #[derive(serde::Deserialize)]
        struct Log {
            requests: Vec<PeerRequest>,
        }
        let (status, answer) = http_body(&self.url, "GET", "/morket-api/requests", "")
            .unwrap_or_else(|e| panic!("GET /morket-api/requests: {e}"));
        assert_eq!(status, 200, "GET /morket-api/requests: {answer}");
        serde_json::from_str::<Log>(&answer)
            .unwrap_or_else(|e| panic!("GET /morket-api/requests: {e}: {answer}"))
            .requests
    }

    /// Empties the peer's request log.
    pub fn clear_requests(&self) {
        let (status, answer) = http_body(&self.url, "DELETE", "/morket-api/requests", "")
            .unwrap_or_else(|e| panic!("DELETE /morket-api/requests: {e}"));
        assert_eq!(status, 200, "DELETE /morket-api/requests: {answer}");
    }

    /// Makes moto answer like AWS: `{"on": ["consistency", "iam", "slr",
    /// "eni", "transitions", "conflicts", "throttle"], "scale": 0.01}` (any
    /// subset, or `"on": "all"`; `scale` multiplies every AWS delay, default
    /// 1.0; `"on": []` switches it off). The behaviours, their error codes and
    /// windows are in `scripts/aws_like.py`. Replaces the previous setting;
    /// the next test's reset switches it off.
    pub fn aws_like(&self, config: serde_json::Value) {
        let (got, answer) = http_body(
            &self.url,
            "POST",
            "/morket-api/aws-like",
            &config.to_string(),
        )
        .unwrap_or_else(|e| panic!("POST /morket-api/aws-like {config}: {e}"));
        assert_eq!(got, 200, "POST /morket-api/aws-like {config}: {answer}");
    }

    /// The AWS-like setting and, per behaviour and operation, how many
    /// requests it answered differently from moto:
    /// `{"on": ["consistency"], "scale": 0.01, "fired": {"consistency": {"DescribeVpcs": 3}}}`.
    pub fn aws_like_fired(&self) -> serde_json::Value {
        let (status, answer) = http_body(&self.url, "GET", "/morket-api/aws-like", "")
            .unwrap_or_else(|e| panic!("GET /morket-api/aws-like: {e}"));
        assert_eq!(status, 200, "GET /morket-api/aws-like: {answer}");
        serde_json::from_str(&answer)
            .unwrap_or_else(|e| panic!("GET /morket-api/aws-like: {e}: {answer}"))
    }
}
