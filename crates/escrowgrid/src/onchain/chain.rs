//! The chain client: alloy's HTTP provider (hyper), a local signer, and the few JSON-RPC
//! calls the sender makes, each bounded by a timeout so a hung node never stalls the sender.

use std::fmt;
use std::time::Duration;

use alloy::consensus::TxEnvelope;
use alloy::eips::eip2718::Encodable2718 as _;
use alloy::network::{EthereumWallet, TransactionBuilder as _};
use alloy::primitives::{Address, B256, Bytes};
use alloy::providers::{DynProvider, Provider, ProviderBuilder};
use alloy::rpc::types::TransactionRequest;
use alloy::signers::local::PrivateKeySigner;

/// How long one JSON-RPC call may take.
const RPC_TIMEOUT: Duration = Duration::from_secs(5);

/// A failed chain call, described for logs, records and the DLQ (never holds the key).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ChainError(pub String);

fn rpc(what: &str, error: impl fmt::Display) -> ChainError {
    ChainError(redact_urls(&format!("{what}: {error}")))
}

/// Replaces every `http://…` / `https://…` in `text` with `[rpc url]`: transport errors name
/// the URL, which may carry a provider's API key, and these messages reach logs, the DLQ and
/// audit rows.
fn redact_urls(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = ["http://", "https://"]
        .iter()
        .filter_map(|scheme| rest.find(scheme))
        .min()
    {
        out.push_str(&rest[..start]);
        out.push_str("[rpc url]");
        let tail = &rest[start..];
        let end = tail
            .find(|c: char| c.is_whitespace() || matches!(c, ')' | '"' | '\'' | ','))
            .unwrap_or(tail.len());
        rest = &tail[end..];
    }
    out.push_str(rest);
    out
}

/// A signed transaction: what is persisted before it is broadcast.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedTx {
    /// Its hash.
    pub hash: B256,
    /// Its nonce.
    pub nonce: u64,
    /// The EIP-2718 encoding sent with `eth_sendRawTransaction`.
    pub raw: Bytes,
}

/// EIP-1559 fees for the transactions of one batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fees {
    /// `maxFeePerGas`.
    pub max_fee_per_gas: u128,
    /// `maxPriorityFeePerGas`.
    pub max_priority_fee_per_gas: u128,
}

/// A mined transaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Mined {
    /// The block that holds it.
    pub block_number: u64,
    /// Whether it succeeded (a reverted call emitted nothing).
    pub success: bool,
}

/// One chain, one contract, one sending account.
#[derive(Clone)]
pub struct ChainClient {
    provider: DynProvider,
    wallet: EthereumWallet,
    from: Address,
    contract: Address,
    chain_id: u64,
}

impl fmt::Debug for ChainClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ChainClient")
            .field("from", &self.from)
            .field("contract", &self.contract)
            .field("chain_id", &self.chain_id)
            .finish_non_exhaustive()
    }
}

/// A provider on `rpc_url` without fillers (the sender fills every field itself).
///
/// # Errors
///
/// When the URL does not parse.
pub fn provider(rpc_url: &str) -> Result<DynProvider, ChainError> {
    let url: url::Url = rpc_url
        .parse()
        .map_err(|_| ChainError("the rpc url does not parse".into()))?;
    Ok(ProviderBuilder::new()
        .disable_recommended_fillers()
        .connect_http(url)
        .erased())
}

/// Runs one RPC future under [`RPC_TIMEOUT`].
async fn bounded<T, E: fmt::Display>(
    what: &str,
    call: impl IntoFuture<Output = Result<T, E>>,
) -> Result<T, ChainError> {
    match tokio::time::timeout(RPC_TIMEOUT, call.into_future()).await {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(error)) => Err(rpc(what, error)),
        Err(_) => Err(ChainError(format!(
            "{what}: timed out after {RPC_TIMEOUT:?}"
        ))),
    }
}

impl ChainClient {
    /// A client for `contract` on the node at `rpc_url`, signing with `private_key` for
    /// `chain_id`.
    ///
    /// # Errors
    ///
    /// When the URL or the key does not parse.
    pub fn new(
        rpc_url: &str,
        private_key: &str,
        contract: Address,
        chain_id: u64,
    ) -> Result<Self, ChainError> {
        let signer: PrivateKeySigner = private_key
            .parse()
            .map_err(|_| ChainError("the private key does not parse".into()))?;
        let from = signer.address();
        Ok(Self {
            provider: provider(rpc_url)?,
            wallet: EthereumWallet::from(signer),
            from,
            contract,
            chain_id,
        })
    }

    /// The chain id the node at `rpc_url` reports.
    ///
    /// # Errors
    ///
    /// When the node cannot be reached.
    pub async fn node_chain_id(rpc_url: &str) -> Result<u64, ChainError> {
        let provider = provider(rpc_url)?;
        bounded("eth_chainId", provider.get_chain_id()).await
    }

    /// The chain id transactions are signed for.
    #[must_use]
    pub fn chain_id(&self) -> u64 {
        self.chain_id
    }

    /// The sending account.
    #[must_use]
    pub fn from(&self) -> Address {
        self.from
    }

    /// The account's next nonce, counting transactions in the node's pool.
    ///
    /// # Errors
    ///
    /// When the node cannot be reached.
    pub async fn pending_nonce(&self) -> Result<u64, ChainError> {
        bounded(
            "eth_getTransactionCount",
            self.provider.get_transaction_count(self.from).pending(),
        )
        .await
    }

    /// The account's nonce counting mined transactions only.
    ///
    /// # Errors
    ///
    /// When the node cannot be reached.
    pub async fn mined_nonce(&self) -> Result<u64, ChainError> {
        bounded(
            "eth_getTransactionCount",
            self.provider.get_transaction_count(self.from).latest(),
        )
        .await
    }

    /// Signs a call of the contract with `input` at `nonce` (gas estimated, EIP-1559 fees from
    /// the node). Nothing is sent.
    ///
    /// # Errors
    ///
    /// When the node cannot be reached for the estimates, or signing fails.
    pub async fn sign(&self, input: Bytes, nonce: u64) -> Result<SignedTx, ChainError> {
        let fees = self.fees().await?;
        let gas = self.estimate_gas(input.clone()).await?;
        self.sign_with(input, nonce, gas, fees).await
    }

    /// The node's EIP-1559 fee estimate, shared by the transactions of one batch.
    ///
    /// # Errors
    ///
    /// When the node cannot be reached.
    pub async fn fees(&self) -> Result<Fees, ChainError> {
        let fees = bounded("fee estimate", self.provider.estimate_eip1559_fees()).await?;
        Ok(Fees {
            max_fee_per_gas: fees.max_fee_per_gas,
            max_priority_fee_per_gas: fees.max_priority_fee_per_gas,
        })
    }

    /// The gas a call of the contract with `input` takes, with a 20% margin.
    ///
    /// # Errors
    ///
    /// When the node cannot be reached or the call would revert.
    pub async fn estimate_gas(&self, input: Bytes) -> Result<u64, ChainError> {
        let request = TransactionRequest::default()
            .with_from(self.from)
            .with_to(self.contract)
            .with_input(input);
        let gas = bounded("eth_estimateGas", self.provider.estimate_gas(request)).await?;
        Ok(gas.saturating_mul(6) / 5)
    }

    /// Signs a call of the contract with `input` at `nonce` with the given gas limit and fees
    /// (local: no RPC call). Nothing is sent.
    ///
    /// # Errors
    ///
    /// When signing fails.
    pub async fn sign_with(
        &self,
        input: Bytes,
        nonce: u64,
        gas_limit: u64,
        fees: Fees,
    ) -> Result<SignedTx, ChainError> {
        let request = TransactionRequest::default()
            .with_from(self.from)
            .with_to(self.contract)
            .with_input(input)
            .with_nonce(nonce)
            .with_chain_id(self.chain_id)
            .with_gas_limit(gas_limit)
            .with_max_fee_per_gas(fees.max_fee_per_gas)
            .with_max_priority_fee_per_gas(fees.max_priority_fee_per_gas);
        let envelope: TxEnvelope = request
            .build(&self.wallet)
            .await
            .map_err(|e| rpc("sign", e))?;
        Ok(SignedTx {
            hash: *envelope.tx_hash(),
            nonce,
            raw: envelope.encoded_2718().into(),
        })
    }

    /// Broadcasts a signed transaction. A node that already has it answers an error we treat
    /// as success ("already known"); the receipt decides.
    ///
    /// # Errors
    ///
    /// When the node cannot be reached or rejects the transaction.
    pub async fn broadcast(&self, raw: &Bytes) -> Result<(), ChainError> {
        match bounded(
            "eth_sendRawTransaction",
            self.provider.send_raw_transaction(raw),
        )
        .await
        {
            Ok(_) => Ok(()),
            Err(error) if error.0.to_ascii_lowercase().contains("already known") => Ok(()),
            Err(error) => Err(error),
        }
    }

    /// The receipt of `hash`, if mined.
    ///
    /// # Errors
    ///
    /// When the node cannot be reached.
    pub async fn receipt(&self, hash: B256) -> Result<Option<Mined>, ChainError> {
        let receipt = bounded(
            "eth_getTransactionReceipt",
            self.provider.get_transaction_receipt(hash),
        )
        .await?;
        Ok(receipt.and_then(|receipt| {
            Some(Mined {
                block_number: receipt.block_number?,
                success: receipt.status(),
            })
        }))
    }

    /// The latest block number.
    ///
    /// # Errors
    ///
    /// When the node cannot be reached.
    pub async fn head(&self) -> Result<u64, ChainError> {
        bounded("eth_blockNumber", self.provider.get_block_number()).await
    }
}

#[cfg(test)]
mod tests {
    use super::redact_urls;

    #[test]
    fn urls_never_reach_error_messages() {
        assert_eq!(
            redact_urls(
                "eth_call: error sending request for url (https://node.example/v3/s3cr3t): refused"
            ),
            "eth_call: error sending request for url ([rpc url]): refused"
        );
        assert_eq!(
            redact_urls("a http://x/1 and https://y/2"),
            "a [rpc url] and [rpc url]"
        );
        assert_eq!(redact_urls("no url here"), "no url here");
    }
}
