//! Debian's nginx in front of a test server, running the site file the
//! project ships (`deploy/nginx/cadre.conf`) with only its ports, paths and
//! certificate substituted: the file under test is the operators' file, not
//! a copy of it. nginx runs as a child process on loopback, in a temporary
//! directory (its own main configuration, pid file, logs and temporary
//! files), and is stopped by its PID when dropped.

use crate::WAIT;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

/// The shipped site file.
pub fn shipped_site() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../deploy/nginx/cadre.conf")
}

/// The shipped site file for several nodes.
pub fn shipped_nodes_site() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../deploy/nginx/cadre-nodes.conf")
}

/// A running nginx; stopped on drop.
pub struct TestNginx {
    /// Its HTTPS address.
    pub https: SocketAddr,
    /// Its plain HTTP address (redirects to HTTPS).
    pub http: SocketAddr,
    child: Child,
    dir: tempfile::TempDir,
}

/// A free loopback port (bound then released: nginx binds it next).
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}

/// Replaces every `from` in `text` by `to`, failing the test when the
/// shipped file no longer holds `from`: then this harness would test
/// something other than the file.
fn substitute(text: String, from: &str, to: &str) -> String {
    assert!(
        text.contains(from),
        "the shipped nginx site file no longer contains {from:?}: update tests/src/nginx.rs"
    );
    text.replace(from, to)
}

impl TestNginx {
    /// Starts nginx proxying to cadre at `upstream`, serving `cert_pem`
    /// and `key_pem` for TLS.
    pub fn start(upstream: SocketAddr, cert_pem: &str, key_pem: &str) -> TestNginx {
        let site = std::fs::read_to_string(shipped_site()).expect("read deploy/nginx/cadre.conf");
        let site = substitute(
            site,
            "server 127.0.0.1:8080;",
            &format!("server {upstream};"),
        );
        Self::start_site(site, cert_pem, key_pem)
    }

    /// Starts nginx with the site file for several nodes
    /// (`deploy/nginx/cadre-nodes.conf`), its two nodes at `nodes`.
    pub fn start_nodes(nodes: [SocketAddr; 2], cert_pem: &str, key_pem: &str) -> TestNginx {
        let site = std::fs::read_to_string(shipped_nodes_site())
            .expect("read deploy/nginx/cadre-nodes.conf");
        let site = substitute(
            site,
            "server 127.0.0.1:8081 ",
            &format!("server {} ", nodes[0]),
        );
        let site = substitute(
            site,
            "server 127.0.0.1:8082 ",
            &format!("server {} ", nodes[1]),
        );
        Self::start_site(site, cert_pem, key_pem)
    }

    fn start_site(site: String, cert_pem: &str, key_pem: &str) -> TestNginx {
        let binary = which_nginx();
        let dir = tempfile::tempdir().expect("a directory for nginx");
        let d = dir.path();
        // Workers run as `nobody` when the tests run as root: they must
        // reach their temporary files.
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(d, std::fs::Permissions::from_mode(0o755)).unwrap();
        }
        for sub in ["tmp", "acme"] {
            std::fs::create_dir(d.join(sub)).unwrap();
            #[cfg(unix)]
            {
                use std::os::unix::fs::PermissionsExt;
                std::fs::set_permissions(d.join(sub), std::fs::Permissions::from_mode(0o777))
                    .unwrap();
            }
        }
        std::fs::write(d.join("cert.pem"), cert_pem).unwrap();
        std::fs::write(d.join("key.pem"), key_pem).unwrap();
        let https = SocketAddr::from(([127, 0, 0, 1], free_port()));
        let http = SocketAddr::from(([127, 0, 0, 1], free_port()));
        let path = |name: &str| d.join(name).display().to_string();
        let site = substitute(site, "listen 80;", &format!("listen {http};"));
        let site = substitute(site, "listen [::]:80;", "");
        let site = substitute(site, "listen 443 ssl", &format!("listen {https} ssl"));
        let site = substitute(site, "listen [::]:443 ssl http2;", "");
        let site = substitute(
            site,
            "/etc/letsencrypt/live/visio.example.org/fullchain.pem",
            &path("cert.pem"),
        );
        let site = substitute(
            site,
            "/etc/letsencrypt/live/visio.example.org/privkey.pem",
            &path("key.pem"),
        );
        let site = substitute(site, "/var/log/nginx/cadre.access.log", &path("access.log"));
        let site = substitute(site, "/var/www/letsencrypt", &path("acme"));
        std::fs::write(d.join("cadre.conf"), site).unwrap();
        let tmp = path("tmp");
        let main = format!(
            "worker_processes 1;\n\
             pid {pid};\n\
             error_log {log} info;\n\
             daemon off;\n\
             events {{ worker_connections 4096; }}\n\
             http {{\n\
             client_body_temp_path {tmp}/body;\n\
             proxy_temp_path {tmp}/proxy;\n\
             fastcgi_temp_path {tmp}/fastcgi;\n\
             uwsgi_temp_path {tmp}/uwsgi;\n\
             scgi_temp_path {tmp}/scgi;\n\
             include {site};\n\
             }}\n",
            pid = path("nginx.pid"),
            log = path("error.log"),
            site = path("cadre.conf"),
        );
        std::fs::write(d.join("nginx.conf"), main).unwrap();
        let check = Command::new(&binary)
            .arg("-t")
            .arg("-p")
            .arg(d)
            .arg("-e")
            .arg(path("error.log"))
            .arg("-c")
            .arg(path("nginx.conf"))
            .output()
            .expect("run nginx -t");
        assert!(
            check.status.success(),
            "nginx -t refuses the shipped site file: {}",
            String::from_utf8_lossy(&check.stderr)
        );
        let child = Command::new(&binary)
            .arg("-p")
            .arg(d)
            .arg("-e")
            .arg(path("error.log"))
            .arg("-c")
            .arg(path("nginx.conf"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start nginx");
        let mut nginx = TestNginx {
            https,
            http,
            child,
            dir,
        };
        nginx.wait_listening();
        nginx
    }

    fn wait_listening(&mut self) {
        let deadline = std::time::Instant::now() + WAIT;
        loop {
            if std::net::TcpStream::connect(self.https).is_ok()
                && std::net::TcpStream::connect(self.http).is_ok()
            {
                return;
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!(
                    "nginx exited ({status}) before listening: {}",
                    self.error_log()
                );
            }
            assert!(
                std::time::Instant::now() < deadline,
                "nginx did not listen on {} within {WAIT:?}: {}",
                self.https,
                self.error_log()
            );
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
    }

    /// nginx's error log so far.
    pub fn error_log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("error.log")).unwrap_or_default()
    }
}

impl Drop for TestNginx {
    fn drop(&mut self) {
        // SIGTERM to the master (its PID, nobody else's): a fast shutdown
        // that takes its workers along.
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(self.child.id().to_string())
            .status();
        let deadline = std::time::Instant::now() + WAIT;
        while std::time::Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn which_nginx() -> PathBuf {
    for candidate in ["/usr/sbin/nginx", "/usr/bin/nginx"] {
        if Path::new(candidate).exists() {
            return candidate.into();
        }
    }
    panic!(
        "nginx is not installed: `apt-get install nginx` (scripts/test.sh installs it when missing)"
    );
}
