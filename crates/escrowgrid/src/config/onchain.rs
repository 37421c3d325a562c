//! `[onchain]`: the on-chain ledger (`ONCHAIN_*`, the original's names and defaults).

use serde::Deserialize;

use super::Secret;
use super::env::{only_true, parse};
use crate::Result;

/// What a write does when its on-chain record cannot be confirmed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FailureMode {
    /// The write answers as usual; the sender confirms the event later (the default).
    #[default]
    Queue,
    /// The write waits for the receipt up to `receipt_timeout_ms` and answers an honest 5xx
    /// naming the committed resource when it is not confirmed.
    Fail,
}

impl std::str::FromStr for FailureMode {
    type Err = String;

    fn from_str(s: &str) -> std::result::Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "queue" => Ok(Self::Queue),
            "fail" => Ok(Self::Fail),
            _ => Err("expected `queue` or `fail`".to_owned()),
        }
    }
}

/// `[onchain]`: position events recorded on an EVM chain (`docs/ONCHAIN.md`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct OnchainConfig {
    /// `ONCHAIN_LEDGER_ENABLED`, default false (only `true` enables).
    pub enabled: bool,
    /// `ONCHAIN_RPC_URL`: the node's JSON-RPC endpoint (secret: providers put keys in it).
    pub rpc_url: Option<Secret<String>>,
    /// `ONCHAIN_PRIVATE_KEY`: the sending account's key, 0x hex (secret).
    pub private_key: Option<Secret<String>>,
    /// `ONCHAIN_CONTRACT_ADDRESS`: the `PositionLedger` contract.
    pub contract_address: Option<String>,
    /// `ONCHAIN_CHAIN_ID`: optional; when set the node must report it, and templates whose
    /// `config.onchain.chainId` differs are skipped.
    pub chain_id: Option<u64>,
    /// `ONCHAIN_FAILURE_MODE`, `queue` (default) or `fail`.
    pub failure_mode: FailureMode,
    /// `ONCHAIN_MAX_RETRIES`, default 3: attempts per event before the DLQ.
    pub max_retries: u32,
    /// `ONCHAIN_RETRY_DELAY_MS`, default 5000: the first retry delay (doubled each retry).
    pub retry_delay_ms: u64,
    /// `ONCHAIN_RETRY_WORKER_ENABLED`, default true: run the sender in this instance.
    pub retry_worker_enabled: bool,
    /// `ONCHAIN_RETRY_BATCH_SIZE`, default 10: events read from the outbox per batch.
    pub retry_batch_size: usize,
    /// `ONCHAIN_CONFIRMATIONS`, default 1: blocks (including the receipt's) before an event
    /// counts as confirmed.
    pub confirmations: u64,
    /// `ONCHAIN_RECEIPT_TIMEOUT_MS`, default 10000: how long a `fail`-mode write waits.
    pub receipt_timeout_ms: u64,
}

impl Default for OnchainConfig {
    fn default() -> Self {
        Self {
            enabled: false,
            rpc_url: None,
            private_key: None,
            contract_address: None,
            chain_id: None,
            failure_mode: FailureMode::Queue,
            max_retries: 3,
            retry_delay_ms: 5000,
            retry_worker_enabled: true,
            retry_batch_size: 10,
            confirmations: 1,
            receipt_timeout_ms: 10_000,
        }
    }
}

/// The environment variables of this section, with a one-line meaning.
pub(super) const ONCHAIN_ENV_VARS: [(&str, &str); 12] = [
    (
        "ONCHAIN_LEDGER_ENABLED",
        "record position events on an EVM chain (only `true` enables)",
    ),
    ("ONCHAIN_RPC_URL", "the chain node's JSON-RPC URL (secret)"),
    (
        "ONCHAIN_PRIVATE_KEY",
        "the sending account's private key, 0x hex (secret)",
    ),
    ("ONCHAIN_CONTRACT_ADDRESS", "the PositionLedger contract"),
    (
        "ONCHAIN_CHAIN_ID",
        "expected chain id; templates naming another one are skipped",
    ),
    (
        "ONCHAIN_FAILURE_MODE",
        "`queue` (default) or `fail` (wait for the receipt, 5xx if unconfirmed)",
    ),
    (
        "ONCHAIN_MAX_RETRIES",
        "attempts per event before the DLQ (default 3)",
    ),
    (
        "ONCHAIN_RETRY_DELAY_MS",
        "first retry delay, doubled each retry (default 5000)",
    ),
    (
        "ONCHAIN_RETRY_WORKER_ENABLED",
        "run the on-chain sender in this instance (default true; only `true` keeps it)",
    ),
    (
        "ONCHAIN_RETRY_BATCH_SIZE",
        "outbox events per sender batch (default 10)",
    ),
    (
        "ONCHAIN_CONFIRMATIONS",
        "blocks before an event counts as confirmed (default 1)",
    ),
    (
        "ONCHAIN_RECEIPT_TIMEOUT_MS",
        "how long a `fail`-mode write waits for confirmation (default 10000)",
    ),
];

/// Overwrites every on-chain setting whose variable is set (`get` already drops blanks).
pub(super) fn apply(
    config: &mut OnchainConfig,
    get: &dyn Fn(&str) -> Option<String>,
) -> Result<()> {
    if let Some(v) = get("ONCHAIN_LEDGER_ENABLED") {
        config.enabled = only_true(&v);
    }
    if let Some(v) = get("ONCHAIN_RPC_URL") {
        config.rpc_url = Some(Secret::new(v));
    }
    if let Some(v) = get("ONCHAIN_PRIVATE_KEY") {
        config.private_key = Some(Secret::new(v));
    }
    if let Some(v) = get("ONCHAIN_CONTRACT_ADDRESS") {
        config.contract_address = Some(v);
    }
    if let Some(v) = get("ONCHAIN_CHAIN_ID") {
        config.chain_id = Some(parse("ONCHAIN_CHAIN_ID", &v)?);
    }
    if let Some(v) = get("ONCHAIN_FAILURE_MODE") {
        config.failure_mode = parse("ONCHAIN_FAILURE_MODE", &v)?;
    }
    if let Some(v) = get("ONCHAIN_MAX_RETRIES") {
        config.max_retries = parse("ONCHAIN_MAX_RETRIES", &v)?;
    }
    if let Some(v) = get("ONCHAIN_RETRY_DELAY_MS") {
        config.retry_delay_ms = parse("ONCHAIN_RETRY_DELAY_MS", &v)?;
    }
    if let Some(v) = get("ONCHAIN_RETRY_WORKER_ENABLED") {
        // The original: true unless set to something other than "true".
        config.retry_worker_enabled = only_true(&v);
    }
    if let Some(v) = get("ONCHAIN_RETRY_BATCH_SIZE") {
        config.retry_batch_size = parse("ONCHAIN_RETRY_BATCH_SIZE", &v)?;
    }
    if let Some(v) = get("ONCHAIN_CONFIRMATIONS") {
        config.confirmations = parse("ONCHAIN_CONFIRMATIONS", &v)?;
    }
    if let Some(v) = get("ONCHAIN_RECEIPT_TIMEOUT_MS") {
        config.receipt_timeout_ms = parse("ONCHAIN_RECEIPT_TIMEOUT_MS", &v)?;
    }
    Ok(())
}

impl OnchainConfig {
    /// Checks that an enabled ledger names its node, key and contract, and that the key and
    /// address parse. Deviation: the original logged a failed construction and ran without
    /// the ledger; a misconfigured ledger here refuses to start.
    ///
    /// # Errors
    ///
    /// `(variable, message)` of the first problem.
    pub fn check(&self) -> std::result::Result<(), (&'static str, String)> {
        if !self.enabled {
            return Ok(());
        }
        let Some(url) = &self.rpc_url else {
            return Err((
                "ONCHAIN_RPC_URL",
                "required when the on-chain ledger is enabled".into(),
            ));
        };
        if url.expose().parse::<url::Url>().is_err() {
            return Err(("ONCHAIN_RPC_URL", "not a URL".into()));
        }
        let Some(key) = &self.private_key else {
            return Err((
                "ONCHAIN_PRIVATE_KEY",
                "required when the on-chain ledger is enabled".into(),
            ));
        };
        if key
            .expose()
            .parse::<alloy::signers::local::PrivateKeySigner>()
            .is_err()
        {
            // Never echo the value.
            return Err((
                "ONCHAIN_PRIVATE_KEY",
                "not a 32-byte hex private key".into(),
            ));
        }
        let Some(address) = &self.contract_address else {
            return Err((
                "ONCHAIN_CONTRACT_ADDRESS",
                "required when the on-chain ledger is enabled".into(),
            ));
        };
        if address.parse::<alloy::primitives::Address>().is_err() {
            return Err((
                "ONCHAIN_CONTRACT_ADDRESS",
                "not a 20-byte hex address".into(),
            ));
        }
        let positive = [
            ("ONCHAIN_MAX_RETRIES", self.max_retries == 0),
            ("ONCHAIN_RETRY_BATCH_SIZE", self.retry_batch_size == 0),
            ("ONCHAIN_CONFIRMATIONS", self.confirmations == 0),
            ("ONCHAIN_RECEIPT_TIMEOUT_MS", self.receipt_timeout_ms == 0),
        ];
        if let Some((key, _)) = positive.iter().find(|(_, zero)| *zero) {
            return Err((key, "must be at least 1".into()));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::{FailureMode, OnchainConfig};
    use crate::config::{Settings, SettingsArgs};

    const KEY: &str = "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d";

    fn settings(vars: &[(&str, &str)]) -> crate::Result<Settings> {
        let vars: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        Settings::from_layers(
            None,
            &|name| vars.get(name).cloned(),
            &SettingsArgs::default(),
        )
    }

    #[test]
    fn the_defaults_are_the_originals() {
        let config = OnchainConfig::default();
        assert!(!config.enabled);
        assert_eq!(config.failure_mode, FailureMode::Queue);
        assert_eq!(config.max_retries, 3);
        assert_eq!(config.retry_delay_ms, 5000);
        assert!(config.retry_worker_enabled);
        assert_eq!(config.retry_batch_size, 10);
        assert_eq!(config.confirmations, 1);
        assert_eq!(settings(&[]).expect("valid").onchain, config);
    }

    #[test]
    fn every_variable_is_read_and_the_key_never_shows() {
        let config = settings(&[
            ("ONCHAIN_LEDGER_ENABLED", "true"),
            ("ONCHAIN_RPC_URL", "http://127.0.0.1:8545"),
            ("ONCHAIN_PRIVATE_KEY", KEY),
            (
                "ONCHAIN_CONTRACT_ADDRESS",
                "0x5FbDB2315678afecb367f032d93F642f64180aa3",
            ),
            ("ONCHAIN_CHAIN_ID", "31337"),
            ("ONCHAIN_FAILURE_MODE", "fail"),
            ("ONCHAIN_MAX_RETRIES", "7"),
            ("ONCHAIN_RETRY_DELAY_MS", "250"),
            ("ONCHAIN_RETRY_WORKER_ENABLED", "yes"),
            ("ONCHAIN_RETRY_BATCH_SIZE", "50"),
            ("ONCHAIN_CONFIRMATIONS", "3"),
            ("ONCHAIN_RECEIPT_TIMEOUT_MS", "2000"),
        ])
        .expect("valid")
        .onchain;
        assert!(config.enabled);
        assert_eq!(config.chain_id, Some(31_337));
        assert_eq!(config.failure_mode, FailureMode::Fail);
        assert_eq!(config.max_retries, 7);
        assert_eq!(config.retry_delay_ms, 250);
        assert!(!config.retry_worker_enabled, "only `true` keeps the worker");
        assert_eq!(config.retry_batch_size, 50);
        assert_eq!(config.confirmations, 3);
        assert_eq!(config.receipt_timeout_ms, 2000);
        let shown = format!("{config:?}");
        assert!(!shown.contains(&KEY[2..]), "{shown}");
        assert!(
            !shown.contains("8545"),
            "the rpc url is a secret too: {shown}"
        );
    }

    #[test]
    fn an_enabled_ledger_needs_a_node_a_key_and_a_contract() {
        let missing = settings(&[("ONCHAIN_LEDGER_ENABLED", "true")]).expect_err("incomplete");
        assert!(missing.to_string().contains("ONCHAIN_RPC_URL"), "{missing}");
        let bad_key = settings(&[
            ("ONCHAIN_LEDGER_ENABLED", "true"),
            ("ONCHAIN_RPC_URL", "http://127.0.0.1:8545"),
            ("ONCHAIN_PRIVATE_KEY", "0xnot-a-key-but-a-secret"),
            (
                "ONCHAIN_CONTRACT_ADDRESS",
                "0x5FbDB2315678afecb367f032d93F642f64180aa3",
            ),
        ])
        .expect_err("bad key");
        let message = bad_key.to_string();
        assert!(message.contains("ONCHAIN_PRIVATE_KEY"), "{message}");
        assert!(!message.contains("not-a-key-but-a-secret"), "{message}");
        let bad_mode = settings(&[("ONCHAIN_FAILURE_MODE", "maybe")]).expect_err("bad mode");
        assert!(
            bad_mode.to_string().contains("ONCHAIN_FAILURE_MODE"),
            "{bad_mode}"
        );
    }
}
