//! [`TestAnvil`]: a throwaway EVM node (Foundry's `anvil`) with the on-chain ledger's contract
//! deployed, for the on-chain ledger's tests.
//!
//! `anvil` comes from `$ANVIL`, `PATH`, or the npm package `@foundry-rs/anvil` installed under
//! `/opt/escrowgrid-tools` (what `.ci/run` installs when it is missing). The node listens on
//! `127.0.0.1` on a random free port, mines a block per transaction (automine), keeps its state
//! in a private directory so that [`TestAnvil::stop`] and [`TestAnvil::start_again`] resume the
//! same chain on the same port, and is stopped by `Drop` (and by a watchdog when the test
//! process dies).

use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use alloy::network::TransactionBuilder as _;
use alloy::primitives::{Address, Bytes};
use alloy::providers::{DynProvider, Provider, ProviderBuilder};
use alloy::rpc::types::TransactionRequest;

use crate::TestkitError;
use crate::runtime::poll_until;
use crate::server::keep_requested;

mod logs;

pub use self::logs::{AnchoredCheckpoint, RecordedPositionEvent};

/// Where `.ci/run` installs the npm package's native binary.
const NPM_ANVIL: &str =
    "/opt/escrowgrid-tools/node_modules/@foundry-rs/anvil-linux-amd64/bin/anvil";
/// How long a node may take to answer its first request.
const READY_TIMEOUT: Duration = Duration::from_secs(30);
/// How many random ports to try before giving up on port clashes.
const START_ATTEMPTS: usize = 8;
/// The compiled contract (ABI + creation bytecode), built by `scripts/build_contract.sh`.
const ARTIFACT: &str = include_str!("../../../contracts/PositionLedger.json");
/// The private keys of anvil's first two default accounts (its well-known test mnemonic).
const ACCOUNT_KEYS: [&str; 2] = [
    "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80",
    "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d",
];

/// `$1` parent pid, `$2` directory, `$3` 1 to keep the directory.
const WATCHDOG: &str = r#"
while kill -0 "$1" 2>/dev/null && [ -d "$2" ]; do sleep 1; done
[ -f "$2/anvil.pid" ] && kill -s KILL "$(cat "$2/anvil.pid")" 2>/dev/null
[ "$3" = 1 ] || rm -rf "$2"
"#;

/// A running anvil node with the `PositionLedger` contract deployed by account 0.
#[derive(Debug)]
pub struct TestAnvil {
    binary: PathBuf,
    dir: PathBuf,
    port: u16,
    chain_id: u64,
    child: Option<Child>,
    contract: Address,
    keep: bool,
}

impl TestAnvil {
    /// Starts a node with chain id 31337 and deploys the contract.
    ///
    /// # Errors
    ///
    /// [`TestkitError::AnvilNotFound`] without the binary; other variants (with anvil's log)
    /// when it does not start or the deployment fails.
    pub async fn start() -> Result<Self, TestkitError> {
        Self::start_with_chain_id(31_337).await
    }

    /// Starts a node with the given chain id and deploys the contract.
    ///
    /// # Errors
    ///
    /// See [`TestAnvil::start`].
    pub async fn start_with_chain_id(chain_id: u64) -> Result<Self, TestkitError> {
        let binary = find_binary().ok_or(TestkitError::AnvilNotFound)?;
        let dir =
            std::env::temp_dir().join(format!("testkit-anvil-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&dir)
            .map_err(TestkitError::io(format!("create {}", dir.display())))?;
        let mut this = Self {
            binary,
            dir,
            port: 0,
            chain_id,
            child: None,
            contract: Address::ZERO,
            keep: keep_requested(),
        };
        this.spawn_watchdog()?;
        let mut attempts_left = START_ATTEMPTS;
        loop {
            this.port = crate::server::free_port()?;
            attempts_left -= 1;
            match this.launch().await {
                Ok(()) => break,
                Err(_) if attempts_left > 0 && this.log().contains("in use") => {
                    this.kill();
                }
                Err(error) => return Err(error),
            }
        }
        this.contract = this.deploy().await?;
        tracing::debug!(port = this.port, contract = %this.contract, "test anvil started");
        Ok(this)
    }

    /// The JSON-RPC URL (`http://127.0.0.1:{port}`).
    #[must_use]
    pub fn rpc_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// The chain id.
    #[must_use]
    pub fn chain_id(&self) -> u64 {
        self.chain_id
    }

    /// The deployed `PositionLedger` contract.
    #[must_use]
    pub fn contract_address(&self) -> Address {
        self.contract
    }

    /// The private key (0x hex) of a funded account that did not deploy the contract: the one
    /// to give the service under test.
    #[must_use]
    pub fn sender_private_key(&self) -> &'static str {
        ACCOUNT_KEYS[1]
    }

    /// A provider on this node (no wallet).
    ///
    /// # Panics
    ///
    /// Never for the URL this type builds.
    #[must_use]
    pub fn provider(&self) -> DynProvider {
        #[allow(clippy::expect_used)]
        let url = self.rpc_url().parse().expect("anvil url parses");
        ProviderBuilder::new()
            .disable_recommended_fillers()
            .connect_http(url)
            .erased()
    }

    /// Mines `blocks` empty blocks (`anvil_mine`).
    ///
    /// # Errors
    ///
    /// [`TestkitError::Chain`] when the node cannot be reached.
    pub async fn mine(&self, blocks: u64) -> Result<(), TestkitError> {
        self.provider()
            .raw_request::<_, serde_json::Value>("anvil_mine".into(), (blocks,))
            .await
            .map(drop)
            .map_err(chain_error)
    }

    /// Stops the node (SIGINT: anvil writes its state) and waits until it is gone; its port
    /// then refuses connections until [`TestAnvil::start_again`].
    pub fn stop(&mut self) {
        let Some(mut child) = self.child.take() else {
            return;
        };
        let mut interrupt = Command::new("sh");
        interrupt
            .args(["-c", r#"kill -s INT "$1""#, "kill"])
            .arg(child.id().to_string());
        let _ = crate::process::run(&mut interrupt);
        let exited = poll_until(READY_TIMEOUT, || matches!(child.try_wait(), Ok(Some(_))));
        if !exited {
            let _ = child.kill();
            let _ = child.wait();
        }
        let _ = std::fs::remove_file(self.dir.join("anvil.pid"));
    }

    /// Starts the stopped node again on the same port with the state it had.
    ///
    /// # Errors
    ///
    /// As [`TestAnvil::start`] when it does not come back.
    pub async fn start_again(&mut self) -> Result<(), TestkitError> {
        if self.child.is_some() {
            return Ok(());
        }
        self.launch().await
    }

    /// anvil's output so far (empty if it cannot be read).
    #[must_use]
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("anvil.log")).unwrap_or_default()
    }

    async fn launch(&mut self) -> Result<(), TestkitError> {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.join("anvil.log"))
            .map_err(TestkitError::io("open the anvil log"))?;
        let log_err = log
            .try_clone()
            .map_err(TestkitError::io("clone the anvil log"))?;
        let child = Command::new(&self.binary)
            .args(["--host", "127.0.0.1", "--port"])
            .arg(self.port.to_string())
            .arg("--chain-id")
            .arg(self.chain_id.to_string())
            .arg("--state")
            .arg(self.dir.join("state.json"))
            .current_dir(&self.dir)
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(log_err)
            .process_group(0)
            .spawn()
            .map_err(TestkitError::io(format!("spawn {}", self.binary.display())))?;
        std::fs::write(self.dir.join("anvil.pid"), child.id().to_string())
            .map_err(TestkitError::io("write anvil.pid"))?;
        self.child = Some(child);
        let deadline = Instant::now() + READY_TIMEOUT;
        let provider = self.provider();
        loop {
            if let Ok(id) = provider.get_chain_id().await {
                if id == self.chain_id {
                    return Ok(());
                }
            }
            let exited = self
                .child
                .as_mut()
                .is_some_and(|child| matches!(child.try_wait(), Ok(Some(_))));
            if exited || Instant::now() >= deadline {
                return Err(TestkitError::StartFailed {
                    port: self.port,
                    log: self.log(),
                });
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    async fn deploy(&self) -> Result<Address, TestkitError> {
        let artifact: serde_json::Value =
            serde_json::from_str(ARTIFACT).map_err(|e| TestkitError::Chain(e.to_string()))?;
        let code = artifact["bytecode"]
            .as_str()
            .and_then(|hex| hex.parse::<Bytes>().ok())
            .ok_or_else(|| TestkitError::Chain("the artifact has no bytecode".into()))?;
        let signer: alloy::signers::local::PrivateKeySigner =
            ACCOUNT_KEYS[0]
                .parse()
                .map_err(|e: alloy::signers::local::LocalSignerError| {
                    TestkitError::Chain(e.to_string())
                })?;
        let provider = self.provider();
        let request = TransactionRequest::default()
            .with_from(signer.address())
            .with_deploy_code(code);
        let receipt = provider
            .send_transaction(request)
            .await
            .map_err(chain_error)?
            .get_receipt()
            .await
            .map_err(chain_error)?;
        receipt
            .contract_address
            .ok_or_else(|| TestkitError::Chain("the deployment created no contract".into()))
    }

    fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    fn spawn_watchdog(&self) -> Result<(), TestkitError> {
        let args = [self.dir.as_os_str(), crate::process::flag(self.keep)];
        crate::process::spawn_watchdog(WATCHDOG, "testkit-anvil-watchdog", args, "anvil watchdog")
    }
}

impl Drop for TestAnvil {
    fn drop(&mut self) {
        self.kill();
        if !self.keep {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

fn chain_error(error: impl std::fmt::Display) -> TestkitError {
    TestkitError::Chain(error.to_string())
}

fn find_binary() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("ANVIL").map(PathBuf::from) {
        return path.is_file().then_some(path);
    }
    std::env::var_os("PATH")
        .into_iter()
        .flat_map(|paths| std::env::split_paths(&paths).collect::<Vec<_>>())
        .map(|dir| dir.join("anvil"))
        .chain([PathBuf::from(NPM_ANVIL)])
        .find(|path| is_native(path))
}

/// The npm package's `.bin/anvil` is a node script; the native binary is what we run.
fn is_native(path: &Path) -> bool {
    path.is_file() && std::fs::read(path).is_ok_and(|bytes| bytes.starts_with(b"\x7fELF"))
}
