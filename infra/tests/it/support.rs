//! What the suites share: a `scimctl serve` process of the binary under test.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The operator token every test server is given (`SCIM_OPERATOR_TOKEN`).
pub const OPERATOR_TOKEN: &str = "op_test_operator_token";

/// A `scimctl serve` process, its output in files.
pub struct Server {
    child: Child,
    /// The Tenant URL it serves.
    pub url: String,
}

impl Server {
    /// Starts a server on a free loopback port and waits until it serves; `logs` holds its
    /// output.
    pub fn start(store: &str, logs: &Path, run: usize) -> Server {
        let out = logs.join(format!("serve-{run}.out"));
        let err = logs.join(format!("serve-{run}.err"));
        let child = Command::new(env!("CARGO_BIN_EXE_scimctl"))
            .args(["--store", store, "serve", "--addr", "127.0.0.1:0"])
            .env("RUST_LOG", "warn")
            .env("SCIM_OPERATOR_TOKEN", OPERATOR_TOKEN)
            .stdout(std::fs::File::create(&out).expect("stdout file"))
            .stderr(std::fs::File::create(&err).expect("stderr file"))
            .stdin(Stdio::null())
            .spawn()
            .expect("scimctl starts");
        let mut server = Server {
            child,
            url: String::new(),
        };
        let started = Instant::now();
        while started.elapsed() < Duration::from_secs(60) {
            let text = std::fs::read_to_string(&err).unwrap_or_default();
            if let Some(url) = text
                .lines()
                .find_map(|l| l.strip_prefix("scimctl serving "))
            {
                server.url = url.trim().to_string();
                return server;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        drop(server);
        panic!(
            "scimctl did not start: {}",
            std::fs::read_to_string(&err).unwrap_or_default()
        );
    }

    /// The server's root URL, before `/scim/v2` and `/admin/v1`.
    pub fn root(&self) -> &str {
        self.url.trim_end_matches("/scim/v2")
    }

    /// SIGKILL: no shutdown, no flush.
    pub fn kill(self) {
        drop(self);
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
