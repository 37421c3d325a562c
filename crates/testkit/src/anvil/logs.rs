//! The contract's logs on a [`TestAnvil`], decoded: recorded position events and checkpoint
//! anchors.

use alloy::primitives::{Address, B256};
use alloy::providers::Provider as _;
use alloy::rpc::types::{Filter, Log};
use alloy::sol_types::SolEvent as _;

use super::{TestAnvil, chain_error};
use crate::TestkitError;

alloy::sol! {
    /// The on-chain ledger's event, as `contracts/PositionLedger.sol` declares it.
    event PositionEventRecorded(address indexed recorder, string positionId, string kind, string payloadJson);
    /// A ledger checkpoint's anchor, as the contract declares it.
    event CheckpointAnchored(address indexed recorder, uint64 indexed number, bytes32 checkpointHash);
}

/// One `CheckpointAnchored` log, decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AnchoredCheckpoint {
    /// The account that sent the transaction.
    pub recorder: Address,
    /// The checkpoint's number.
    pub number: u64,
    /// The checkpoint's hash.
    pub checkpoint_hash: B256,
    /// The transaction that emitted it.
    pub tx_hash: Option<B256>,
    /// The block that holds it.
    pub block_number: Option<u64>,
}

/// One `PositionEventRecorded` log, decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordedPositionEvent {
    /// The account that sent the transaction.
    pub recorder: Address,
    /// `positionId` as sent.
    pub position_id: String,
    /// `kind` as sent.
    pub kind: String,
    /// `payloadJson` as sent.
    pub payload_json: String,
    /// The transaction that emitted it.
    pub tx_hash: Option<B256>,
    /// The block that holds it.
    pub block_number: Option<u64>,
}

impl TestAnvil {
    /// Every log of the contract with the event `signature`, in chain order.
    async fn logs_of(&self, signature: B256) -> Result<Vec<Log>, TestkitError> {
        let filter = Filter::new()
            .address(self.contract)
            .event_signature(signature)
            .from_block(0);
        self.provider().get_logs(&filter).await.map_err(chain_error)
    }

    /// Every `PositionEventRecorded` log of the contract, in chain order.
    ///
    /// # Errors
    ///
    /// [`TestkitError::Chain`] when the node cannot be queried.
    pub async fn position_events(&self) -> Result<Vec<RecordedPositionEvent>, TestkitError> {
        self.logs_of(PositionEventRecorded::SIGNATURE_HASH)
            .await?
            .into_iter()
            .map(|log| {
                let decoded = PositionEventRecorded::decode_log(&log.inner).map_err(chain_error)?;
                Ok(RecordedPositionEvent {
                    recorder: decoded.data.recorder,
                    position_id: decoded.data.positionId.clone(),
                    kind: decoded.data.kind.clone(),
                    payload_json: decoded.data.payloadJson.clone(),
                    tx_hash: log.transaction_hash,
                    block_number: log.block_number,
                })
            })
            .collect()
    }

    /// Every `CheckpointAnchored` log of the contract, in chain order.
    ///
    /// # Errors
    ///
    /// [`TestkitError::Chain`] when the node cannot be queried.
    pub async fn checkpoint_anchors(&self) -> Result<Vec<AnchoredCheckpoint>, TestkitError> {
        self.logs_of(CheckpointAnchored::SIGNATURE_HASH)
            .await?
            .into_iter()
            .map(|log| {
                let decoded = CheckpointAnchored::decode_log(&log.inner).map_err(chain_error)?;
                Ok(AnchoredCheckpoint {
                    recorder: decoded.data.recorder,
                    number: decoded.data.number,
                    checkpoint_hash: decoded.data.checkpointHash,
                    tx_hash: log.transaction_hash,
                    block_number: log.block_number,
                })
            })
            .collect()
    }
}
