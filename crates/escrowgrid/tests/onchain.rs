//! The on-chain ledger against a real EVM node (anvil, started by testkit on a random port):
//! exact payloads decoded from the logs, skip rules, a node that is down, retries exhausted,
//! and two senders on one database.

mod onchain {
    pub mod support;

    mod anchoring;
    mod delivery;
    mod failed_pages;
    mod faults;
    mod kill;
}
