//! The `PositionLedger` contract's ABI (`contracts/PositionLedger.sol`) as `sol!` bindings.

use alloy::primitives::{B256, Bytes};
use alloy::sol_types::SolCall as _;

alloy::sol! {
    /// The on-chain ledger's contract: two functions, each emitting one event.
    contract PositionLedger {
        /// One position event recorded by `recorder`.
        event PositionEventRecorded(address indexed recorder, string positionId, string kind, string payloadJson);
        /// One ledger checkpoint anchored by `recorder`.
        event CheckpointAnchored(address indexed recorder, uint64 indexed number, bytes32 checkpointHash);
        /// Records one position event.
        function recordPositionEvent(string positionId, string kind, string payloadJson) external;
        /// Anchors one ledger checkpoint's hash.
        function anchorCheckpoint(uint64 number, bytes32 checkpointHash) external;
    }
}

/// The calldata of `recordPositionEvent(positionId, kind, payloadJson)`.
#[must_use]
pub fn record_position_event(position_id: &str, kind: &str, payload_json: &str) -> Bytes {
    PositionLedger::recordPositionEventCall {
        positionId: position_id.to_owned(),
        kind: kind.to_owned(),
        payloadJson: payload_json.to_owned(),
    }
    .abi_encode()
    .into()
}

/// The calldata of `anchorCheckpoint(number, checkpointHash)`.
#[must_use]
pub fn anchor_checkpoint(number: u64, checkpoint_hash: B256) -> Bytes {
    PositionLedger::anchorCheckpointCall {
        number,
        checkpointHash: checkpoint_hash,
    }
    .abi_encode()
    .into()
}

#[cfg(test)]
mod tests {
    use alloy::sol_types::{SolCall as _, SolEvent as _};
    use serde_json::Value;

    use super::PositionLedger;

    /// `name(type,type,...)` of an ABI entry of the compiled artifact.
    fn signature(entry: &Value) -> String {
        let types: Vec<&str> = entry["inputs"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|input| input["type"].as_str())
            .collect();
        format!(
            "{}({})",
            entry["name"].as_str().unwrap_or_default(),
            types.join(",")
        )
    }

    #[test]
    fn the_bindings_match_the_compiled_artifact() {
        let artifact: Value =
            serde_json::from_str(include_str!("../../../../contracts/PositionLedger.json"))
                .expect("artifact parses");
        let abi = artifact["abi"].as_array().expect("abi is a list");
        let of_type = |kind: &str| -> Vec<String> {
            let mut signatures: Vec<String> = abi
                .iter()
                .filter(|entry| entry["type"] == kind)
                .map(signature)
                .collect();
            signatures.sort();
            signatures
        };
        assert_eq!(
            of_type("function"),
            vec![
                PositionLedger::anchorCheckpointCall::SIGNATURE.to_owned(),
                PositionLedger::recordPositionEventCall::SIGNATURE.to_owned(),
            ]
        );
        assert_eq!(
            of_type("event"),
            vec![
                PositionLedger::CheckpointAnchored::SIGNATURE.to_owned(),
                PositionLedger::PositionEventRecorded::SIGNATURE.to_owned(),
            ]
        );
        assert!(
            artifact["bytecode"]
                .as_str()
                .is_some_and(|code| code.len() > 100),
            "the artifact carries the creation bytecode"
        );
    }
}
