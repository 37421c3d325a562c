// SPDX-License-Identifier: MIT OR Apache-2.0
// The on-chain ledger's contract: the original service's ABI, `recordPositionEvent(string
// positionId, string kind, string payloadJson)`, which only emits an event. The chain's log is the
// ledger; the contract keeps no storage. Readers filter by `recorder` (the EscrowGrid signer) and
// decode `positionId`, `kind` and `payloadJson` from the log data. `anchorCheckpoint` anchors
// a tamper-evident ledger checkpoint: its number and hash (docs/LEDGER.md), as a log entry too.
// Rebuild the artifact (PositionLedger.json) with `scripts/build_contract.sh`.
pragma solidity 0.8.37;

contract PositionLedger {
    /// One position event recorded by `recorder`.
    event PositionEventRecorded(address indexed recorder, string positionId, string kind, string payloadJson);

    /// Records one position event (creation or state change) as a log entry.
    function recordPositionEvent(string calldata positionId, string calldata kind, string calldata payloadJson)
        external
    {
        emit PositionEventRecorded(msg.sender, positionId, kind, payloadJson);
    }

    /// One ledger checkpoint anchored by `recorder`: its number and its hash.
    event CheckpointAnchored(address indexed recorder, uint64 indexed number, bytes32 checkpointHash);

    /// Anchors ledger checkpoint `number` whose hash is `checkpointHash`, as a log entry.
    function anchorCheckpoint(uint64 number, bytes32 checkpointHash) external {
        emit CheckpointAnchored(msg.sender, number, checkpointHash);
    }
}
