//! The Standard Webhooks reference verifier (Python), run over the received requests.

use std::io::Write as _;
use std::process::{Command, Stdio};

use serde_json::json;

use super::super::receiver::Received;

/// Checks every request with the `standardwebhooks` Python package (the reference
/// implementation): panics with an install hint when it is missing.
pub fn verify_with_reference_library(secret: &str, requests: &[Received]) {
    let script = r#"
import json, sys
try:
    from standardwebhooks.webhooks import Webhook
except ImportError:
    print("MISSING"); sys.exit(3)
checked = 0
for line in sys.stdin:
    item = json.loads(line)
    Webhook(item["secret"]).verify(item["body"], item["headers"])
    checked += 1
print("ok", checked)
"#;
    let mut child = Command::new("python3")
        .arg("-c")
        .arg(script)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("python3 is needed for the Standard Webhooks check (apt-get install python3)");
    {
        let mut stdin = child.stdin.take().expect("stdin");
        for request in requests {
            let line = json!({"secret": secret, "body": request.body, "headers": request.headers});
            writeln!(stdin, "{line}").expect("write");
        }
    }
    let output = child.wait_with_output().expect("python3 ran");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        !stdout.contains("MISSING"),
        "the Standard Webhooks reference library is missing: pip install standardwebhooks"
    );
    assert!(
        output.status.success(),
        "signature verification failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(stdout.trim(), format!("ok {}", requests.len()));
}
